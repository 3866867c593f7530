/**
 * The SSE events of the simulated Codex backend's 200 answers, shaped like
 * the real backend's (and parseable by the official `openai` SDK).
 *
 * @module
 */

import type { FakeUsageOverride } from "./_fake_types.ts";

/** One event before framing: its `type` and payload, no `sequence_number` yet. */
export interface WireEvent {
  /** Event type, also the SSE `event:` name. */
  type: string;
  /** Payload fields. */
  [field: string]: unknown;
}

/** What every answer to one request shares. */
export interface AnswerContext {
  /** The validated request body. */
  body: Record<string, unknown>;
  /** `resp_...` id of the Response. */
  responseId: string;
  /** Creation time, unix seconds. */
  createdAt: number;
  /** Makes a fresh id with the given prefix, e.g. `msg`. */
  nextId: (prefix: string) => string;
}

/** Reasoning tokens reported when a reasoning item is sent. */
const REASONING_TOKENS = 16;

/** Frames events as `event: <type>\ndata: <json>\n\n` with sequence numbers from 0. */
export function frameEvents(events: readonly WireEvent[]): string[] {
  return events.map((event, index) => {
    const { type, ...rest } = event;
    const data = JSON.stringify({ type, sequence_number: index, ...rest });
    return `event: ${type}\ndata: ${data}\n\n`;
  });
}

/** Splits text into at most `parts` pieces of nearly equal length, never inside a code point. */
export function splitText(text: string, parts: number): string[] {
  const chars = Array.from(text);
  const count = Math.max(1, Math.min(Math.floor(parts), chars.length));
  if (chars.length === 0) return [];
  const pieces: string[] = [];
  for (let index = 0; index < count; index++) {
    const start = Math.floor(index * chars.length / count);
    const end = Math.floor((index + 1) * chars.length / count);
    pieces.push(chars.slice(start, end).join(""));
  }
  return pieces;
}

function approximateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/** Usage derived from the request and the answer (about four characters a token), then overridden. */
export function computeUsage(
  body: Record<string, unknown>,
  outputText: string,
  reasoning: boolean,
  override: FakeUsageOverride = {},
): Record<string, unknown> {
  const instructions = typeof body.instructions === "string"
    ? body.instructions
    : "";
  const inputTokens = override.input_tokens ??
    approximateTokens(instructions + JSON.stringify(body.input ?? ""));
  const reasoningTokens = reasoning ? REASONING_TOKENS : 0;
  const outputTokens = override.output_tokens ??
    approximateTokens(outputText) + reasoningTokens;
  return {
    input_tokens: inputTokens,
    input_tokens_details: override.input_tokens_details === undefined
      ? { cached_tokens: 0 }
      : override.input_tokens_details,
    output_tokens: outputTokens,
    output_tokens_details: override.output_tokens_details === undefined
      ? { reasoning_tokens: reasoningTokens }
      : override.output_tokens_details,
    total_tokens: override.total_tokens ?? inputTokens + outputTokens,
  };
}

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : null;
}

/** The Response object at a given status. */
export function responseObject(
  context: AnswerContext,
  status: string,
  fields: Record<string, unknown> = {},
): Record<string, unknown> {
  const body = context.body;
  const reasoning = objectOrNull(body.reasoning);
  return {
    id: context.responseId,
    object: "response",
    created_at: context.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: null,
    max_tool_calls: null,
    model: body.model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    prompt_cache_key: body.prompt_cache_key ?? null,
    reasoning: {
      effort: reasoning?.effort ?? null,
      summary: reasoning?.summary ?? null,
    },
    safety_identifier: null,
    service_tier: body.service_tier ?? "auto",
    store: false,
    temperature: 1,
    text: body.text ?? { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: Array.isArray(body.tools) ? body.tools : [],
    top_logprobs: 0,
    top_p: 1,
    truncation: "disabled",
    usage: null,
    user: null,
    metadata: {},
    ...fields,
  };
}

function startEvents(context: AnswerContext): WireEvent[] {
  return [
    {
      type: "response.created",
      response: responseObject(context, "in_progress"),
    },
    {
      type: "response.in_progress",
      response: responseObject(context, "in_progress"),
    },
  ];
}

function reasoningEvents(
  context: AnswerContext,
  outputIndex: number,
): { events: WireEvent[]; item: Record<string, unknown> } {
  const id = context.nextId("rs");
  const include = Array.isArray(context.body.include)
    ? context.body.include
    : [];
  const item: Record<string, unknown> = { id, type: "reasoning", summary: [] };
  if (include.includes("reasoning.encrypted_content")) {
    item.encrypted_content = "gAAAAABsimulated-reasoning-" + id;
  }
  return {
    item,
    events: [
      {
        type: "response.output_item.added",
        output_index: outputIndex,
        item: { id, type: "reasoning", summary: [] },
      },
      { type: "response.output_item.done", output_index: outputIndex, item },
    ],
  };
}

/** Whether an answer carries a reasoning item by default: when the request has a `reasoning` object. */
export function wantsReasoning(body: Record<string, unknown>): boolean {
  return objectOrNull(body.reasoning) !== null;
}

/** Options of {@linkcode textAnswerEvents}. */
export interface TextAnswerOptions {
  /** The text deltas; the answer text is their concatenation. */
  deltas: readonly string[];
  /** Send a reasoning item first. */
  reasoning: boolean;
  /** Usage override. */
  usage?: FakeUsageOverride;
  /** Send the terminal Response with `output: []`. */
  emptyCompletedOutput?: boolean;
  /** End with `response.incomplete` and this reason instead of `response.completed`. */
  incompleteReason?: string;
}

/** Every event of a text answer, terminal event included. */
export function textAnswerEvents(
  context: AnswerContext,
  options: TextAnswerOptions,
): WireEvent[] {
  const events = startEvents(context);
  const output: Record<string, unknown>[] = [];
  if (options.reasoning) {
    const reasoning = reasoningEvents(context, output.length);
    events.push(...reasoning.events);
    output.push(reasoning.item);
  }
  const text = options.deltas.join("");
  const outputIndex = output.length;
  const itemId = context.nextId("msg");
  const where = { item_id: itemId, output_index: outputIndex };
  const emptyPart = { type: "output_text", text: "", annotations: [] };
  const part = { type: "output_text", text, annotations: [], logprobs: [] };
  const incomplete = options.incompleteReason !== undefined;
  const item = {
    id: itemId,
    type: "message",
    status: incomplete ? "incomplete" : "completed",
    role: "assistant",
    content: [part],
  };
  events.push(
    {
      type: "response.output_item.added",
      output_index: outputIndex,
      item: {
        id: itemId,
        type: "message",
        status: "in_progress",
        role: "assistant",
        content: [],
      },
    },
    {
      type: "response.content_part.added",
      ...where,
      content_index: 0,
      part: emptyPart,
    },
    ...options.deltas.map((delta) => ({
      type: "response.output_text.delta",
      ...where,
      content_index: 0,
      delta,
      logprobs: [],
    })),
    {
      type: "response.output_text.done",
      ...where,
      content_index: 0,
      text,
      logprobs: [],
    },
    { type: "response.content_part.done", ...where, content_index: 0, part },
    { type: "response.output_item.done", output_index: outputIndex, item },
  );
  output.push(item);
  const final = responseObject(
    context,
    incomplete ? "incomplete" : "completed",
    {
      output: options.emptyCompletedOutput ? [] : output,
      usage: computeUsage(context.body, text, options.reasoning, options.usage),
      incomplete_details: incomplete
        ? { reason: options.incompleteReason }
        : null,
    },
  );
  events.push({
    type: incomplete ? "response.incomplete" : "response.completed",
    response: final,
  });
  return events;
}

/** Options of {@linkcode functionCallEvents}. */
export interface FunctionCallOptions {
  /** Function name. */
  name: string;
  /** Arguments, a JSON text. */
  arguments: string;
  /** Call id. */
  callId: string;
  /** Send a reasoning item first. */
  reasoning: boolean;
  /** Usage override. */
  usage?: FakeUsageOverride;
}

/** Every event of a function-call answer, `response.completed` included. */
export function functionCallEvents(
  context: AnswerContext,
  options: FunctionCallOptions,
): WireEvent[] {
  const events = startEvents(context);
  const output: Record<string, unknown>[] = [];
  if (options.reasoning) {
    const reasoning = reasoningEvents(context, output.length);
    events.push(...reasoning.events);
    output.push(reasoning.item);
  }
  const outputIndex = output.length;
  const itemId = context.nextId("fc");
  const where = { item_id: itemId, output_index: outputIndex };
  const item = {
    id: itemId,
    type: "function_call",
    status: "completed",
    arguments: options.arguments,
    call_id: options.callId,
    name: options.name,
  };
  events.push(
    {
      type: "response.output_item.added",
      output_index: outputIndex,
      item: { ...item, status: "in_progress", arguments: "" },
    },
    ...splitText(options.arguments, 3).map((delta) => ({
      type: "response.function_call_arguments.delta",
      ...where,
      delta,
    })),
    {
      type: "response.function_call_arguments.done",
      ...where,
      name: options.name,
      arguments: options.arguments,
    },
    { type: "response.output_item.done", output_index: outputIndex, item },
  );
  output.push(item);
  events.push({
    type: "response.completed",
    response: responseObject(context, "completed", {
      output,
      usage: computeUsage(
        context.body,
        options.arguments,
        options.reasoning,
        options.usage,
      ),
    }),
  });
  return events;
}

const FAILURE_MESSAGES: Record<string, string> = {
  context_length_exceeded:
    "Your input exceeds the context window of this model. Please adjust your input and try again.",
  insufficient_quota:
    "You exceeded your current quota, please check your plan and billing details.",
  usage_not_included: "Your plan does not include Codex usage",
  server_is_overloaded:
    "Our servers are currently overloaded. Please try again later.",
  rate_limit_exceeded: "Rate limit reached. Please try again later.",
};

/** A default message for a failure code. */
export function failureMessage(code: string): string {
  return FAILURE_MESSAGES[code] ??
    `The simulated backend failed the response with code ${code}`;
}

/** The `response.failed` event; `fields` are added to `response.error`. */
export function failedEvent(
  context: AnswerContext,
  code: string,
  message: string,
  fields: Record<string, unknown> = {},
): WireEvent {
  return {
    type: "response.failed",
    response: responseObject(context, "failed", {
      error: { code, message, ...fields },
    }),
  };
}

/** The `error` event. */
export function errorEvent(code: string, message: string): WireEvent {
  return { type: "error", code, message, param: null };
}

/**
 * The `error` event of a usage limit, as the backend sends it (public
 * reports of it): the error object of the 429 body, `status_code` 429, and
 * the `x-codex-*` headers of the account as `headers`, their names in
 * title case.
 */
export function usageLimitEvent(
  error: unknown,
  headers: Record<string, string>,
): WireEvent {
  const titled: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    titled[
      name.replace(
        /(^|-)([a-z])/g,
        (_, dash, letter) => `${dash}${letter.toUpperCase()}`,
      )
    ] = value;
  }
  return { type: "error", error, status_code: 429, headers: titled };
}

/** Number of events up to and including the first text delta (or all of them). */
export function throughFirstDelta(events: readonly WireEvent[]): number {
  const index = events.findIndex((event) =>
    event.type === "response.output_text.delta"
  );
  return index === -1 ? events.length : index + 1;
}

/** Number of events up to and including the last text delta (or all but the last). */
export function throughLastDelta(events: readonly WireEvent[]): number {
  let last = -1;
  events.forEach((event, index) => {
    if (event.type === "response.output_text.delta") last = index;
  });
  return last === -1 ? events.length - 1 : last + 1;
}
