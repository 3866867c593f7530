/**
 * Turns the observed SSE events of one backend answer into the final
 * Response object for a non-streaming buyer, and tracks the terminal state,
 * usage and sequence numbers for a streaming one.
 *
 * Feed it from an `SseParser` (`./sse.ts`) filtered with {@linkcode wantsEvent}:
 * only the few events it needs are decoded and JSON-parsed.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import {
  failureError,
  type UsageLimit,
  usageLimitError,
  usageLimitResetsAt,
} from "./errors.ts";
import { isRecord } from "../json.ts";

/** Events that end an answer: `response.completed`, `response.incomplete`, `response.failed`, `error`. */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set([
  "response.completed",
  "response.incomplete",
  "response.failed",
  "error",
]);

/**
 * The event filter of the aggregator (use it as the SSE parser's `wants`):
 * the terminal events, `response.output_item.done` (to rebuild an empty
 * output), `response.created` (the response id) and `"message"`, the name of
 * events without an `event:` line, whose type the aggregator reads from the
 * JSON `type` field.
 *
 * @param event the SSE event name
 * @returns whether the aggregator needs the event's data
 *
 * @example
 * ```ts
 * import { wantsEvent } from "./aggregate.ts";
 *
 * console.log(wantsEvent("response.completed")); // true
 * console.log(wantsEvent("response.output_text.delta")); // false
 * ```
 */
export function wantsEvent(event: string): boolean {
  return TERMINAL_EVENTS.has(event) || event === "response.output_item.done" ||
    event === "message" || event === "response.created";
}

/** The outcome of one backend answer. */
export type AggregateResult =
  /** `response.completed` or `response.incomplete` (then `status: "incomplete"`). */
  | { kind: "response"; response: Record<string, unknown> }
  /**
   * `response.failed`, an `error` event, or an unreadable terminal event;
   * `usageLimit` is set when it reported `usage_limit_reached`.
   */
  | { kind: "error"; error: RelayError; usageLimit?: UsageLimit }
  /** No terminal event yet. */
  | { kind: "missing" };

/** Options of {@linkcode ResponseAggregator}. */
export interface ResponseAggregatorOptions {
  /** Clock in ms since the epoch, for usage-limit errors (default `Date.now`). */
  now?: () => number;
}

/**
 * Collects what a backend answer says. Events after the first terminal event
 * are ignored.
 *
 * - `response.completed`: its `response`; an empty or missing `output` is
 *   rebuilt from the `response.output_item.done` items ordered by
 *   `output_index` (items without one follow, in arrival order; a repeated
 *   index keeps the last item).
 * - `response.incomplete`: the same, with `status: "incomplete"`.
 * - `response.failed`: a {@linkcode RelayError} from `response.error` (see
 *   `failureError` in `errors.ts` for the status of each code).
 * - `error`: the same from the event's `code`/`message`, flat or under
 *   `error`.
 * - Either with the code `usage_limit_reached`: the usage-limit error (429,
 *   `retry-after`) and the `usageLimit` of the result, reset at `resets_at`,
 *   else after `resets_in_seconds`, else after `DEFAULT_USAGE_LIMIT_MS`
 *   (the fields read from `response.error`, or from the event or its `error`).
 *   `rate_limit_exceeded` (a burst limit) is not a usage limit.
 * - An event named `"message"` (no `event:` line) takes its type from the JSON
 *   `type` field; without one it is ignored.
 *
 * Bad JSON is ignored, except in a terminal event: that ends the answer with
 * a 502 `upstream_bad_event` error.
 *
 * @example
 * ```ts
 * import { ResponseAggregator } from "./aggregate.ts";
 *
 * const aggregator = new ResponseAggregator();
 * aggregator.handle(
 *   "response.output_item.done",
 *   '{"type":"response.output_item.done","sequence_number":5,"output_index":0,"item":{"type":"message"}}',
 * );
 * aggregator.handle(
 *   "response.completed",
 *   '{"type":"response.completed","sequence_number":6,"response":{"id":"resp_1","status":"completed","output":[]}}',
 * );
 * const result = aggregator.result();
 * if (result.kind === "response") console.log(result.response.output); // [{ type: "message" }]
 * ```
 */
export class ResponseAggregator {
  #now: () => number;
  #terminal: string | undefined;
  #terminalPayload: Record<string, unknown> | undefined;
  #usage: Record<string, unknown> | undefined;
  #lastSequenceNumber: number | undefined;
  #responseId: string | undefined;
  #indexed = new Map<number, unknown>();
  #unindexed: unknown[] = [];

  /**
   * Creates an aggregator.
   *
   * @param options the clock
   */
  constructor(options: ResponseAggregatorOptions = {}) {
    this.#now = options.now ?? Date.now;
  }

  /** The terminal event's type once seen. */
  get terminal(): string | undefined {
    return this.#terminal;
  }

  /** `response.usage` of the terminal event, when it has one. */
  get usage(): Record<string, unknown> | undefined {
    return this.#usage;
  }

  /** The highest `sequence_number` among the handled events. */
  get lastSequenceNumber(): number | undefined {
    return this.#lastSequenceNumber;
  }

  /** The response id, from `response.created` or the terminal event. */
  get responseId(): string | undefined {
    return this.#responseId;
  }

  /**
   * Takes one event.
   *
   * @param event the SSE event name (`"message"` when it had none)
   * @param data the event's data (JSON text)
   */
  handle(event: string, data: string): void {
    if (this.#terminal !== undefined) return;
    let payload: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(data);
      if (isRecord(parsed)) payload = parsed;
    } catch {
      // Unreadable: only matters for a terminal event, below.
    }
    let type = event;
    if (event === "message") {
      if (typeof payload?.type !== "string") return;
      type = payload.type;
    }
    if (payload) {
      const sequence = payload.sequence_number;
      if (
        typeof sequence === "number" && Number.isFinite(sequence) &&
        (this.#lastSequenceNumber === undefined ||
          sequence > this.#lastSequenceNumber)
      ) {
        this.#lastSequenceNumber = sequence;
      }
    }
    if (TERMINAL_EVENTS.has(type)) {
      this.#terminal = type;
      this.#terminalPayload = payload;
      const response = payload?.response;
      if (isRecord(response)) {
        if (isRecord(response.usage)) this.#usage = response.usage;
        if (typeof response.id === "string") this.#responseId ??= response.id;
      }
      return;
    }
    if (!payload) return;
    if (type === "response.output_item.done") {
      const index = payload.output_index;
      if (typeof index === "number" && Number.isInteger(index)) {
        this.#indexed.set(index, payload.item);
      } else {
        this.#unindexed.push(payload.item);
      }
    } else if (type === "response.created") {
      const response = payload.response;
      if (isRecord(response) && typeof response.id === "string") {
        this.#responseId = response.id;
      }
    }
  }

  /**
   * The outcome so far: the final Response, the error to give the buyer, or
   * `missing` when no terminal event came.
   *
   * @returns the outcome
   */
  result(): AggregateResult {
    const terminal = this.#terminal;
    if (terminal === undefined) return { kind: "missing" };
    const payload = this.#terminalPayload;
    if (!payload) {
      return {
        kind: "error",
        error: badEvent(
          `Expected JSON data in the upstream ${terminal} event, found unreadable data`,
        ),
      };
    }
    if (terminal === "response.failed") {
      const response = payload.response;
      const error = isRecord(response) && isRecord(response.error)
        ? response.error
        : {};
      const code = text(error.code);
      if (code === "usage_limit_reached") return this.#usageLimit(error);
      return { kind: "error", error: failureError(code, text(error.message)) };
    }
    if (terminal === "error") return this.#errorEvent(payload);
    const response = payload.response;
    if (!isRecord(response)) {
      return {
        kind: "error",
        error: badEvent(
          `Expected a response object in the upstream ${terminal} event, found none`,
        ),
      };
    }
    const final: Record<string, unknown> = { ...response };
    final.output = Array.isArray(final.output) && final.output.length > 0
      ? [...final.output]
      : this.#rebuiltOutput();
    if (terminal === "response.incomplete") final.status = "incomplete";
    else if (final.status === undefined) final.status = "completed";
    return { kind: "response", response: final };
  }

  #rebuiltOutput(): unknown[] {
    const indexes = [...this.#indexed.keys()].sort((a, b) => a - b);
    return [
      ...indexes.map((index) => this.#indexed.get(index)),
      ...this.#unindexed,
    ];
  }

  #errorEvent(payload: Record<string, unknown>): AggregateResult {
    const nested = isRecord(payload.error) ? payload.error : {};
    const nestedType = text(nested.type);
    const code = text(payload.code) ?? text(nested.code) ??
      (nestedType !== undefined && nestedType !== "error" &&
          !nestedType.endsWith("_error")
        ? nestedType
        : undefined);
    if (code === "usage_limit_reached") {
      return this.#usageLimit(nested, payload);
    }
    const message = text(payload.message) ?? text(nested.message);
    return { kind: "error", error: failureError(code, message) };
  }

  /** The usage-limit result; each reset field is read from the first holder that has it. */
  #usageLimit(...holders: Record<string, unknown>[]): AggregateResult {
    let resetsAt: number | undefined;
    let resetsInSeconds: number | undefined;
    for (const holder of holders) {
      resetsAt ??= number(holder.resets_at);
      resetsInSeconds ??= number(holder.resets_in_seconds);
    }
    const now = this.#now();
    const at = usageLimitResetsAt({ resetsAt, resetsInSeconds }, { now });
    return {
      kind: "error",
      error: usageLimitError(at, { now }),
      usageLimit: { resetsAt: at },
    };
  }
}

function badEvent(message: string): RelayError {
  return new RelayError(502, "upstream_bad_event", message);
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function number(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value)
    ? value
    : undefined;
}
