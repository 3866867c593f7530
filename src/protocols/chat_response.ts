/**
 * Responses answers as Chat Completions answers: the final Response object
 * (as `ResponseAggregator` in `../codex/aggregate.ts` produces it) as one
 * `chat.completion` object, and the usage and finish-reason mappings the
 * stream translator (`./chat_stream.ts`) shares.
 *
 * @module
 */

import { isRecord } from "../json.ts";

/** Why a Chat Completions choice ended. */
export type ChatFinishReason =
  | "stop"
  | "length"
  | "tool_calls"
  | "content_filter";

/** Chat Completions `usage`. */
export interface ChatUsage {
  /** Responses `input_tokens`. */
  prompt_tokens: number;
  /** Responses `output_tokens`. */
  completion_tokens: number;
  /** Responses `total_tokens`, or the sum of the two when absent. */
  total_tokens: number;
  /** `cached_tokens` from Responses `input_tokens_details`. */
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  /** `reasoning_tokens` from Responses `output_tokens_details`. */
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

/** One tool call of a `chat.completion` message. */
export interface ChatToolCall {
  /** The Responses `call_id`. */
  id: string;
  /** Always `"function"`. */
  type: "function";
  /** Name and JSON arguments. */
  function: { name: string; arguments: string };
}

/** A `chat.completion` object. */
export interface ChatCompletion {
  /** `chatcmpl-` and the Response id without its `resp_` prefix. */
  id: string;
  /** Always `"chat.completion"`. */
  object: "chat.completion";
  /** Unix seconds. */
  created: number;
  /** The model name given in the options. */
  model: string;
  /** The one choice. */
  choices: [{
    index: 0;
    message: {
      role: "assistant";
      content: string | null;
      refusal: string | null;
      tool_calls?: ChatToolCall[];
      annotations: unknown[];
    };
    logprobs: null;
    finish_reason: ChatFinishReason;
  }];
  /** Token usage, when the Response carried it. */
  usage?: ChatUsage;
  /** The Response's `service_tier`, when it had one. */
  service_tier?: string;
  /** Always null. */
  system_fingerprint: null;
}

/** Options of {@linkcode responseToChatCompletion}. */
export interface ChatCompletionOptions {
  /** The `model` to report (usually the model or service the buyer asked for). */
  model: string;
  /** `created`, unix seconds (default: the Response's `created_at`, else now). */
  created?: number;
}

/**
 * The `chat.completion` object of a final Responses `Response`:
 *
 * - `message.content`: the `output_text` parts of the `message` items,
 *   concatenated (null when there are none and the answer is a tool call or
 *   a refusal); `message.refusal`: the `refusal` parts, concatenated, or null;
 * - `message.tool_calls`: one per `function_call` item (`id` = `call_id`),
 *   absent when there are none;
 * - `finish_reason`: `length` for an incomplete Response cut at
 *   `max_output_tokens`, `content_filter` for one cut by the content filter,
 *   else `tool_calls` when there are function calls, else `stop` (an
 *   incomplete reason wins over tool calls: a cut call's arguments are
 *   unfinished);
 * - `usage` from the Response's `usage` (see {@linkcode chatUsage}).
 *
 * Reasoning items and other output items have no Chat Completions form and
 * are left out.
 *
 * @param response the final Response object
 * @param options the model to report and the creation time
 * @returns the `chat.completion` object
 *
 * @example
 * ```ts
 * import { responseToChatCompletion } from "./chat_response.ts";
 *
 * const completion = responseToChatCompletion({
 *   id: "resp_1",
 *   status: "completed",
 *   output: [{ type: "message", content: [{ type: "output_text", text: "Hi" }] }],
 *   usage: { input_tokens: 5, output_tokens: 1, total_tokens: 6 },
 * }, { model: "gpt-5.4", created: 1700000000 });
 * console.log(completion.choices[0].message.content); // "Hi"
 * console.log(completion.usage?.total_tokens); // 6
 * ```
 */
export function responseToChatCompletion(
  response: Record<string, unknown>,
  options: ChatCompletionOptions,
): ChatCompletion {
  let text = "";
  let hasText = false;
  let refusal: string | null = null;
  const toolCalls: ChatToolCall[] = [];
  const output = Array.isArray(response.output) ? response.output : [];
  for (const item of output) {
    if (!isRecord(item)) continue;
    if (item.type === "message" && Array.isArray(item.content)) {
      for (const part of item.content) {
        if (!isRecord(part)) continue;
        if (part.type === "output_text" && typeof part.text === "string") {
          text += part.text;
          hasText = true;
        } else if (
          part.type === "refusal" && typeof part.refusal === "string"
        ) {
          refusal = (refusal ?? "") + part.refusal;
        }
      }
    } else if (item.type === "function_call") {
      toolCalls.push({
        id: stringOr(item.call_id, ""),
        type: "function",
        function: {
          name: stringOr(item.name, ""),
          arguments: stringOr(item.arguments, ""),
        },
      });
    }
  }
  const message: ChatCompletion["choices"][0]["message"] = {
    role: "assistant",
    content: hasText || (toolCalls.length === 0 && refusal === null)
      ? text
      : null,
    refusal,
    annotations: [],
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const completion: ChatCompletion = {
    id: completionId(response.id),
    object: "chat.completion",
    created: options.created ?? createdOf(response),
    model: options.model,
    choices: [{
      index: 0,
      message,
      logprobs: null,
      finish_reason: finishReason(response, toolCalls.length > 0),
    }],
    system_fingerprint: null,
  };
  const usage = chatUsage(response.usage);
  if (usage !== undefined) completion.usage = usage;
  if (typeof response.service_tier === "string") {
    completion.service_tier = response.service_tier;
  }
  return completion;
}

/**
 * Chat Completions `usage` from Responses `usage`: `input_tokens` →
 * `prompt_tokens`, `output_tokens` → `completion_tokens`, `total_tokens` (their
 * sum when absent), `input_tokens_details.cached_tokens` →
 * `prompt_tokens_details.cached_tokens`, `output_tokens_details.reasoning_tokens`
 * → `completion_tokens_details.reasoning_tokens`; missing or null numbers are
 * 0, and the audio and prediction counts are 0.
 *
 * @param usage a Responses `usage` object
 * @returns the Chat Completions usage, or undefined when `usage` is not an object
 *
 * @example
 * ```ts
 * import { chatUsage } from "./chat_response.ts";
 *
 * const usage = chatUsage({
 *   input_tokens: 10,
 *   input_tokens_details: { cached_tokens: 4 },
 *   output_tokens: 3,
 *   output_tokens_details: { reasoning_tokens: 2 },
 *   total_tokens: 13,
 * });
 * console.log(usage?.prompt_tokens, usage?.prompt_tokens_details.cached_tokens); // 10 4
 * ```
 */
export function chatUsage(usage: unknown): ChatUsage | undefined {
  if (!isRecord(usage)) return undefined;
  const prompt = count(usage.input_tokens);
  const completion = count(usage.output_tokens);
  const inputDetails = isRecord(usage.input_tokens_details)
    ? usage.input_tokens_details
    : {};
  const outputDetails = isRecord(usage.output_tokens_details)
    ? usage.output_tokens_details
    : {};
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: typeof usage.total_tokens === "number" &&
        Number.isFinite(usage.total_tokens)
      ? usage.total_tokens
      : prompt + completion,
    prompt_tokens_details: {
      cached_tokens: count(inputDetails.cached_tokens),
      audio_tokens: 0,
    },
    completion_tokens_details: {
      reasoning_tokens: count(outputDetails.reasoning_tokens),
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/**
 * The `finish_reason` of a final Response: `length` when it is incomplete at
 * `max_output_tokens`, `content_filter` when incomplete for the content
 * filter, else `tool_calls` when it called functions, else `stop`.
 *
 * @param response the final Response object (its `status` and `incomplete_details`)
 * @param hasToolCalls whether the answer holds function calls
 * @returns the finish reason
 *
 * @example
 * ```ts
 * import { finishReason } from "./chat_response.ts";
 *
 * console.log(finishReason({ status: "incomplete", incomplete_details: { reason: "max_output_tokens" } }, false)); // "length"
 * ```
 */
export function finishReason(
  response: Record<string, unknown>,
  hasToolCalls: boolean,
): ChatFinishReason {
  if (response.status === "incomplete") {
    const details = response.incomplete_details;
    const reason = isRecord(details) ? details.reason : undefined;
    if (reason === "max_output_tokens") return "length";
    if (reason === "content_filter") return "content_filter";
  }
  return hasToolCalls ? "tool_calls" : "stop";
}

/**
 * The Chat Completions id of a Response: `chatcmpl-` and the Response id
 * without its `resp_` prefix, or a random one when the id is missing.
 *
 * @param responseId the Response `id`
 * @returns the `chatcmpl-...` id
 *
 * @example
 * ```ts
 * import { completionId } from "./chat_response.ts";
 *
 * console.log(completionId("resp_abc")); // "chatcmpl-abc"
 * ```
 */
export function completionId(responseId: unknown): string {
  if (typeof responseId === "string" && responseId !== "") {
    return `chatcmpl-${
      responseId.startsWith("resp_") ? responseId.slice(5) : responseId
    }`;
  }
  return `chatcmpl-${crypto.randomUUID().replaceAll("-", "")}`;
}

/**
 * The Response's `created_at` when it is a number, else now (unix seconds).
 *
 * @param response a Response object
 * @returns unix seconds
 *
 * @example
 * ```ts
 * import { createdOf } from "./chat_response.ts";
 *
 * console.log(createdOf({ created_at: 1700000000 })); // 1700000000
 * ```
 */
export function createdOf(response: Record<string, unknown>): number {
  const created = response.created_at;
  return typeof created === "number" && Number.isFinite(created)
    ? Math.floor(created)
    : Math.floor(Date.now() / 1000);
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === "string" ? value : fallback;
}
