/**
 * Compaction v2 in the simulated Codex backend: a request whose last input
 * item is `{"type":"compaction_trigger"}` is answered with one `compaction`
 * item and nothing else (its `response.completed` carries `output: []`, as
 * the real backend's does), and a `compaction` item sent back later must
 * carry its `encrypted_content`.
 *
 * @module
 */

import type { Rejection } from "./_fake_validate.ts";
import type { FakeUsageOverride } from "./_fake_types.ts";
import {
  type AnswerContext,
  computeUsage,
  responseObject,
  type WireEvent,
} from "./_fake_events.ts";
import { isRecord } from "../json.ts";

/** The input item that asks the backend to compact the conversation before it. */
export const COMPACTION_TRIGGER = "compaction_trigger";

/** Item types that stand for a compacted conversation (`compaction_summary` is the older name). */
export const COMPACTION_ITEM_TYPES: ReadonlySet<string> = new Set([
  "compaction",
  "compaction_summary",
]);

/** Prefix of the simulated `encrypted_content` of a compaction item. */
export const FAKE_COMPACTION_CONTENT_PREFIX = "gAAAAABsimulated-compaction-";

/**
 * Whether a request asks for a compaction: its last input item is a
 * `compaction_trigger`.
 */
export function asksForCompaction(body: Record<string, unknown>): boolean {
  const input = body.input;
  if (!Array.isArray(input) || input.length === 0) return false;
  const last = input[input.length - 1];
  return isRecord(last) && last.type === COMPACTION_TRIGGER;
}

/**
 * The 400 for a compaction item without its `encrypted_content` (a
 * non-empty string): without it, and with no id the backend could look up
 * (it stores nothing), the item stands for nothing. Undefined when `item` is
 * not a compaction item or carries its content.
 */
export function compactionItemRejection(
  item: Record<string, unknown>,
  index: number,
): Rejection | undefined {
  if (typeof item.type !== "string" || !COMPACTION_ITEM_TYPES.has(item.type)) {
    return undefined;
  }
  const content = item.encrypted_content;
  if (typeof content === "string" && content !== "") return undefined;
  const param = `input[${index}].encrypted_content`;
  return {
    status: 400,
    body: {
      error: {
        message: `Missing required parameter: '${param}'.`,
        type: "invalid_request_error",
        param,
        code: "missing_required_parameter",
      },
    },
  };
}

/** Options of {@linkcode compactionAnswerEvents}. */
export interface CompactionAnswerOptions {
  /** Usage to report instead of the computed one. */
  usage?: FakeUsageOverride;
}

/**
 * Every event of the answer to a compaction request: `response.created`,
 * `response.in_progress`, the `compaction` item added and done (the same
 * item, `{type, id: "cmp_…", encrypted_content}`), and `response.completed`
 * whose Response has `output: []`.
 */
export function compactionAnswerEvents(
  context: AnswerContext,
  options: CompactionAnswerOptions = {},
): WireEvent[] {
  const id = context.nextId("cmp");
  const item = {
    type: "compaction",
    id,
    encrypted_content: `${FAKE_COMPACTION_CONTENT_PREFIX}${id}`,
  };
  return [
    {
      type: "response.created",
      response: responseObject(context, "in_progress"),
    },
    {
      type: "response.in_progress",
      response: responseObject(context, "in_progress"),
    },
    { type: "response.output_item.added", output_index: 0, item },
    { type: "response.output_item.done", output_index: 0, item },
    {
      type: "response.completed",
      response: responseObject(context, "completed", {
        output: [],
        usage: computeUsage(
          context.body,
          item.encrypted_content,
          false,
          options.usage,
        ),
      }),
    },
  ];
}
