/**
 * Chat Completions requests as Responses requests: {@linkcode chatToResponsesRequest}
 * turns a `POST /v1/chat/completions` body into a normal Responses body, which
 * then goes through `shapeRequest` (`../codex/request.ts`) like any Responses
 * request.
 *
 * What happens to each Chat Completions parameter:
 *
 * | parameter | Responses body |
 * | --- | --- |
 * | `model`, `service` | kept (`shapeRequest` resolves them) |
 * | `messages` | `input` items (see below) |
 * | `tools` (function tools) | flat function tools `{type, name, description, parameters, strict}` |
 * | `tool_choice` | `"auto"`, `"none"`, `"required"` as is; `{type: "function", function: {name}}` → `{type: "function", name}` |
 * | `parallel_tool_calls` | kept |
 * | `response_format` | `json_object`, `json_schema` → `text.format`; `text` → nothing |
 * | `verbosity` | `text.verbosity` |
 * | `reasoning_effort` | `reasoning.effort` |
 * | `prompt_cache_key` | kept |
 * | `service_tier` | kept when `"priority"`, else dropped |
 * | `stream` | kept; tells the caller whether the buyer streams |
 * | `stream_options` | read (`include_usage`), not sent |
 * | {@linkcode DROPPED_PARAMETERS} | dropped and listed in `dropped` |
 * | `n: 1`, `logprobs: false`, `top_logprobs: 0`, `modalities: ["text"]`, an empty `stop` | dropped and listed |
 * | `n > 1`, `logprobs: true`, `top_logprobs > 0`, `audio`, `modalities` with `"audio"`, a non-empty `stop`, `functions`, `function_call`, `web_search_options`, `moderation`, custom tools | 400 `unsupported_parameter` |
 * | more than {@linkcode MAX_CHAT_TOOLS} `tools`, or `tool_calls` in one message | 400 `array_above_max_length` (as OpenAI refuses them) |
 * | anything else | 400 `unsupported_parameter` (as OpenAI refuses an unknown argument) |
 *
 * A parameter whose value is `null` counts as absent: nothing is dropped.
 *
 * Messages, in order, become input items:
 *
 * - `system` and `developer` → a `developer` message of `input_text` parts.
 *   They stay in `input`, in place: `shapeRequest` folds the leading ones into
 *   `instructions` (joined with `"\n\n"`) and keeps later ones where they are,
 *   exactly as for a Responses buyer.
 * - `user` → a `user` message; `text` parts → `input_text`, `image_url` parts
 *   → `input_image` (`detail` default `"auto"`); `input_audio` and `file`
 *   parts are refused.
 * - `assistant` → its text (and refusal text) as one `output_text` part of an
 *   `assistant` message, then one `function_call` item (`call_id`, `name`,
 *   `arguments`) per tool call.
 * - `tool` → `function_call_output` (`call_id`, `output`: the content, text
 *   parts joined with nothing).
 * - `function` (deprecated) is refused; a message's `name` is dropped
 *   (listed as `messages[].name`).
 *
 * @module
 */

import type { Pacer } from "../async.ts";
import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";

/**
 * Most `tools`, and most `tool_calls` in one assistant message, as
 * api.openai.com takes them (`array_above_max_length` past it).
 */
export const MAX_CHAT_TOOLS = 128;

/** Messages translated between two looks at the pacer's clock. */
const MESSAGES_PER_LOOK = 64;

/** A Chat Completions request translated into a Responses request. */
export interface ChatTranslation {
  /**
   * The Responses request body, ready for `shapeRequest` (which adds
   * `store: false`, `stream: true` and `instructions`).
   */
  body: Record<string, unknown>;
  /** Whether the buyer asked for a stream (`stream: true`). */
  stream: boolean;
  /** Whether the buyer asked for a usage chunk (`stream_options.include_usage: true`). */
  includeUsage: boolean;
  /** Chat Completions parameters accepted but not sent, in request order, each once. */
  dropped: string[];
}

/**
 * Parameters accepted and dropped: the backend rejects or ignores them, and
 * leaving them out changes neither the shape of the answer nor what it says
 * (sampling knobs, limits, storage and identity fields).
 */
export const DROPPED_PARAMETERS: readonly string[] = Object.freeze([
  "max_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "frequency_penalty",
  "presence_penalty",
  "logit_bias",
  "seed",
  "user",
  "safety_identifier",
  "metadata",
  "store",
  "prediction",
  "prompt_cache_retention",
  "prompt_cache_options",
]);

const DROPPED: ReadonlySet<string> = new Set(DROPPED_PARAMETERS);

/** Parameters this module reads itself. */
const HANDLED: ReadonlySet<string> = new Set([
  "model",
  "service",
  "messages",
  "tools",
  "tool_choice",
  "parallel_tool_calls",
  "response_format",
  "verbosity",
  "reasoning_effort",
  "prompt_cache_key",
  "service_tier",
  "stream",
  "stream_options",
  "n",
  "logprobs",
  "top_logprobs",
  "modalities",
  "stop",
]);

/** Refused parameters and why; any non-null value is refused. */
const REFUSED: Readonly<Record<string, string>> = {
  audio: "audio output is not supported",
  functions: 'the deprecated "functions" are not supported; use "tools"',
  function_call:
    'the deprecated "function_call" is not supported; use "tool_choice"',
  web_search_options: "web search is not supported",
  moderation: "moderation results are not supported",
};

const TOOL_CHOICE_STRINGS: ReadonlySet<string> = new Set([
  "auto",
  "none",
  "required",
]);

/**
 * Translates a Chat Completions request body into a Responses request body.
 * The buyer's object is not modified. See the module documentation for what
 * happens to each parameter and message.
 *
 * Throws a 400 {@linkcode RelayError} (its `details.param` names the field):
 * `unsupported_parameter` for what the backend cannot do (`n > 1`,
 * `logprobs`, `audio`, ...) or an unknown parameter, `invalid_request` for a
 * field of the wrong type or a missing required field.
 *
 * The messages are translated in slices, yielding to the event loop when
 * `pacer` says the slice of time is used up: a body of many small messages
 * (150,000 in 4.3 MiB) otherwise held it for a few hundred milliseconds.
 *
 * @param body the buyer's Chat Completions request object
 * @param pacer paces the translation of the messages (none: one step)
 * @returns the Responses body, whether the buyer streams and wants usage, and the dropped parameters
 *
 * @example
 * ```ts
 * import { chatToResponsesRequest } from "./chat_request.ts";
 *
 * const { body, dropped } = await chatToResponsesRequest({
 *   model: "gpt-5.4",
 *   messages: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }],
 *   temperature: 0.2,
 * });
 * console.log(body.input); // [{ type: "message", role: "developer", ... }, { type: "message", role: "user", ... }]
 * console.log(dropped); // ["temperature"]
 * ```
 */
export async function chatToResponsesRequest(
  body: Record<string, unknown>,
  pacer?: Pacer,
): Promise<ChatTranslation> {
  const dropped: string[] = [];
  const drop = (name: string) => {
    if (!dropped.includes(name)) dropped.push(name);
  };
  for (const key of Object.keys(body)) {
    const value = body[key];
    if (value === null || value === undefined) continue;
    if (DROPPED.has(key)) drop(key);
    else if (Object.hasOwn(REFUSED, key)) {
      throw unsupported(key, `Expected no "${key}": ${REFUSED[key]}`);
    } else if (!HANDLED.has(key)) {
      throw unsupported(
        key,
        `Expected only Chat Completions parameters, found "${
          truncate(key, 64)
        }"`,
      );
    }
  }
  checkChoices(body, drop);

  const out: Record<string, unknown> = {};
  if (body.model !== undefined) out.model = body.model;
  if (body.service !== undefined) out.service = body.service;
  out.input = await translateMessages(body.messages, drop, pacer);

  const tools = present(body.tools);
  if (tools !== undefined) out.tools = translateTools(tools);
  const toolChoice = present(body.tool_choice);
  if (toolChoice !== undefined) {
    out.tool_choice = translateToolChoice(toolChoice);
  }
  const parallel = present(body.parallel_tool_calls);
  if (parallel !== undefined) {
    if (typeof parallel !== "boolean") {
      throw invalid("parallel_tool_calls", "a boolean", parallel);
    }
    out.parallel_tool_calls = parallel;
  }

  const effort = present(body.reasoning_effort);
  if (effort !== undefined) {
    if (typeof effort !== "string") {
      throw invalid("reasoning_effort", "a string", effort);
    }
    out.reasoning = { effort };
  }
  const text = translateText(body);
  if (text !== undefined) out.text = text;

  const cacheKey = present(body.prompt_cache_key);
  if (cacheKey !== undefined) out.prompt_cache_key = cacheKey;
  const tier = present(body.service_tier);
  if (tier !== undefined) {
    if (tier === "priority") out.service_tier = tier;
    else drop("service_tier");
  }

  const stream = present(body.stream);
  if (stream !== undefined && typeof stream !== "boolean") {
    throw invalid("stream", "a boolean", stream);
  }
  out.stream = stream === true;
  return {
    body: out,
    stream: stream === true,
    includeUsage: readIncludeUsage(body.stream_options),
    dropped,
  };
}

/** `n`, `logprobs`, `top_logprobs`, `modalities`, `stop`: dropped when they ask for nothing, else refused. */
function checkChoices(
  body: Record<string, unknown>,
  drop: (name: string) => void,
): void {
  const n = present(body.n);
  if (n !== undefined) {
    if (n !== 1) {
      throw unsupported(
        "n",
        `Expected "n" to be 1: one choice per request is supported, found ${
          describe(n)
        }`,
      );
    }
    drop("n");
  }
  const logprobs = present(body.logprobs);
  if (logprobs !== undefined) {
    if (logprobs !== false) {
      throw unsupported(
        "logprobs",
        `Expected "logprobs" to be false: log probabilities are not supported, found ${
          describe(logprobs)
        }`,
      );
    }
    drop("logprobs");
  }
  const top = present(body.top_logprobs);
  if (top !== undefined) {
    if (top !== 0) {
      throw unsupported(
        "top_logprobs",
        `Expected "top_logprobs" to be 0: log probabilities are not supported, found ${
          describe(top)
        }`,
      );
    }
    drop("top_logprobs");
  }
  const modalities = present(body.modalities);
  if (modalities !== undefined) {
    if (
      !Array.isArray(modalities) ||
      modalities.some((modality) => modality !== "text")
    ) {
      // Only the first odd one is described: the array is the buyer's, of
      // any size (serialising it whole to quote a few characters held the
      // event loop 0.7 s for a 40 MiB string).
      const odd = Array.isArray(modalities)
        ? modalities.find((modality) => modality !== "text")
        : modalities;
      throw unsupported(
        "modalities",
        `Expected "modalities" to be ["text"]: only text output is supported, found ${
          Array.isArray(modalities) ? "an array holding " : ""
        }${describe(odd)}`,
      );
    }
    drop("modalities");
  }
  const stop = present(body.stop);
  if (stop !== undefined) {
    if (stop !== "" && !(Array.isArray(stop) && stop.length === 0)) {
      throw unsupported(
        "stop",
        `Expected no "stop": stop sequences are not supported, found ${
          describe(stop)
        }`,
      );
    }
    drop("stop");
  }
}

function readIncludeUsage(value: unknown): boolean {
  const options = present(value);
  if (options === undefined) return false;
  if (!isRecord(options)) throw invalid("stream_options", "an object", options);
  const include = present(options.include_usage);
  if (include !== undefined && typeof include !== "boolean") {
    throw invalid("stream_options.include_usage", "a boolean", include);
  }
  return include === true;
}

async function translateMessages(
  messages: unknown,
  drop: (name: string) => void,
  pacer: Pacer | undefined,
): Promise<Record<string, unknown>[]> {
  if (messages === undefined || messages === null) {
    throw new RelayError(
      400,
      "invalid_request",
      'Expected a "messages" array in the request body, found none',
      { details: { param: "messages" } },
    );
  }
  if (!Array.isArray(messages)) throw invalid("messages", "an array", messages);
  if (messages.length === 0) {
    throw new RelayError(
      400,
      "invalid_request",
      'Expected "messages" to hold at least one message, found an empty array',
      { details: { param: "messages" } },
    );
  }
  const items: Record<string, unknown>[] = [];
  for (let index = 0; index < messages.length; index++) {
    if (pacer && index % MESSAGES_PER_LOOK === 0) await pacer.pace();
    translateMessage(messages[index], index, drop, items);
  }
  return items;
}

/** One message of `messages`, as input items added to `items`. */
function translateMessage(
  message: unknown,
  index: number,
  drop: (name: string) => void,
  items: Record<string, unknown>[],
): void {
  const where = `messages[${index}]`;
  if (!isRecord(message)) throw invalid(where, "an object", message);
  if (present(message.name) !== undefined) drop("messages[].name");
  switch (message.role) {
    case "system":
    case "developer":
      items.push({
        type: "message",
        role: "developer",
        content: textParts(message.content, `${where}.content`, "input_text"),
      });
      return;
    case "user":
      items.push({
        type: "message",
        role: "user",
        content: userParts(message.content, `${where}.content`),
      });
      return;
    case "assistant":
      assistantItems(message, where, items);
      return;
    case "tool":
      items.push(toolOutput(message, where));
      return;
    case "function":
      throw unsupported(
        `${where}.role`,
        `Expected "${where}.role" to be system, developer, user, assistant or tool: the deprecated "function" role is not supported, use "tool"`,
      );
    default:
      throw new RelayError(
        400,
        "invalid_request",
        `Expected "${where}.role" to be system, developer, user, assistant or tool, found ${
          describe(message.role)
        }`,
        { details: { param: `${where}.role` } },
      );
  }
}

/** Text-only content (a string or `text` parts) as parts of `type`. */
function textParts(
  content: unknown,
  where: string,
  type: "input_text" | "output_text",
): Record<string, unknown>[] {
  if (typeof content === "string") return [{ type, text: content }];
  if (!Array.isArray(content)) {
    throw invalid(where, "a string or an array of text parts", content);
  }
  return content.map((part, index) => ({
    type,
    text: partText(part, `${where}[${index}]`),
  }));
}

function partText(part: unknown, where: string): string {
  if (!isRecord(part) || part.type !== "text") {
    throw invalid(where, 'a part of type "text"', part);
  }
  if (typeof part.text !== "string") {
    throw invalid(`${where}.text`, "a string", part.text);
  }
  return part.text;
}

function userParts(content: unknown, where: string): Record<string, unknown>[] {
  if (typeof content === "string") {
    return [{ type: "input_text", text: content }];
  }
  if (!Array.isArray(content)) {
    throw invalid(where, "a string or an array of content parts", content);
  }
  return content.map((part, index) => {
    const at = `${where}[${index}]`;
    if (!isRecord(part)) throw invalid(at, "an object", part);
    switch (part.type) {
      case "text":
        return { type: "input_text", text: partText(part, at) };
      case "image_url": {
        const image = part.image_url;
        if (!isRecord(image) || typeof image.url !== "string") {
          throw invalid(`${at}.image_url.url`, "a string", image);
        }
        const detail = present(image.detail) ?? "auto";
        if (typeof detail !== "string") {
          throw invalid(`${at}.image_url.detail`, "a string", detail);
        }
        return { type: "input_image", image_url: image.url, detail };
      }
      case "input_audio":
      case "file":
        throw unsupported(
          `${at}.type`,
          `Expected "${at}" to be a text or image_url part: ${part.type} parts are not supported`,
        );
      default:
        throw invalid(
          `${at}.type`,
          '"text" or "image_url"',
          part.type,
        );
    }
  });
}

function assistantItems(
  message: Record<string, unknown>,
  where: string,
  items: Record<string, unknown>[],
): void {
  if (present(message.audio) !== undefined) {
    throw unsupported(
      `${where}.audio`,
      `Expected no "${where}.audio": audio is not supported`,
    );
  }
  if (present(message.function_call) !== undefined) {
    throw unsupported(
      `${where}.function_call`,
      `Expected no "${where}.function_call": the deprecated "function_call" is not supported, use "tool_calls"`,
    );
  }
  const parts: Record<string, unknown>[] = [];
  const content = present(message.content);
  if (typeof content === "string") {
    if (content !== "") parts.push({ type: "output_text", text: content });
  } else if (Array.isArray(content)) {
    content.forEach((part, index) => {
      const at = `${where}.content[${index}]`;
      if (isRecord(part) && part.type === "refusal") {
        if (typeof part.refusal !== "string") {
          throw invalid(`${at}.refusal`, "a string", part.refusal);
        }
        parts.push({ type: "output_text", text: part.refusal });
      } else {
        parts.push({ type: "output_text", text: partText(part, at) });
      }
    });
  } else if (content !== undefined) {
    throw invalid(`${where}.content`, "a string, an array or null", content);
  }
  const refusal = present(message.refusal);
  if (refusal !== undefined) {
    if (typeof refusal !== "string") {
      throw invalid(`${where}.refusal`, "a string or null", refusal);
    }
    if (refusal !== "") parts.push({ type: "output_text", text: refusal });
  }
  if (parts.length > 0) {
    items.push({ type: "message", role: "assistant", content: parts });
  }

  const calls = present(message.tool_calls);
  if (calls === undefined) return;
  if (!Array.isArray(calls)) {
    throw invalid(`${where}.tool_calls`, "an array", calls);
  }
  checkLength(`${where}.tool_calls`, calls);
  calls.forEach((call, index) => {
    const at = `${where}.tool_calls[${index}]`;
    if (!isRecord(call)) throw invalid(at, "an object", call);
    if (call.type !== undefined && call.type !== "function") {
      throw unsupported(
        `${at}.type`,
        `Expected "${at}.type" to be "function": only function tools are supported, found ${
          describe(call.type)
        }`,
      );
    }
    if (typeof call.id !== "string" || call.id === "") {
      throw invalid(`${at}.id`, "a non-empty string", call.id);
    }
    const fn = call.function;
    if (!isRecord(fn)) throw invalid(`${at}.function`, "an object", fn);
    if (typeof fn.name !== "string" || fn.name === "") {
      throw invalid(`${at}.function.name`, "a non-empty string", fn.name);
    }
    if (typeof fn.arguments !== "string") {
      throw invalid(`${at}.function.arguments`, "a string", fn.arguments);
    }
    items.push({
      type: "function_call",
      call_id: call.id,
      name: fn.name,
      arguments: fn.arguments,
    });
  });
}

function toolOutput(
  message: Record<string, unknown>,
  where: string,
): Record<string, unknown> {
  const callId = message.tool_call_id;
  if (typeof callId !== "string" || callId === "") {
    throw invalid(`${where}.tool_call_id`, "a non-empty string", callId);
  }
  const content = message.content;
  let output: string;
  if (typeof content === "string") output = content;
  else if (Array.isArray(content)) {
    output = content.map((part, index) =>
      partText(part, `${where}.content[${index}]`)
    ).join("");
  } else {
    throw invalid(
      `${where}.content`,
      "a string or an array of text parts",
      content,
    );
  }
  return { type: "function_call_output", call_id: callId, output };
}

function translateTools(tools: unknown): Record<string, unknown>[] {
  if (!Array.isArray(tools)) throw invalid("tools", "an array", tools);
  checkLength("tools", tools);
  return tools.map((tool, index) => {
    const at = `tools[${index}]`;
    if (!isRecord(tool)) throw invalid(at, "an object", tool);
    if (tool.type !== "function") {
      throw unsupported(
        `${at}.type`,
        `Expected "${at}.type" to be "function": only function tools are supported, found ${
          describe(tool.type)
        }`,
      );
    }
    const fn = tool.function;
    if (!isRecord(fn)) throw invalid(`${at}.function`, "an object", fn);
    if (typeof fn.name !== "string" || fn.name === "") {
      throw invalid(`${at}.function.name`, "a non-empty string", fn.name);
    }
    const flat: Record<string, unknown> = { type: "function", name: fn.name };
    const description = present(fn.description);
    if (description !== undefined) {
      if (typeof description !== "string") {
        throw invalid(`${at}.function.description`, "a string", description);
      }
      flat.description = description;
    }
    const parameters = present(fn.parameters);
    if (parameters !== undefined && !isRecord(parameters)) {
      throw invalid(`${at}.function.parameters`, "an object", parameters);
    }
    // Chat Completions: no parameters is an empty parameter list.
    flat.parameters = parameters ?? { type: "object", properties: {} };
    const strict = present(fn.strict);
    if (strict !== undefined && typeof strict !== "boolean") {
      throw invalid(`${at}.function.strict`, "a boolean", strict);
    }
    // Chat Completions defaults to non-strict; Responses to strict.
    flat.strict = strict === true;
    return flat;
  });
}

function translateToolChoice(choice: unknown): unknown {
  if (typeof choice === "string") {
    if (TOOL_CHOICE_STRINGS.has(choice)) return choice;
    throw invalid(
      "tool_choice",
      '"auto", "none", "required" or an object',
      choice,
    );
  }
  if (!isRecord(choice)) {
    throw invalid("tool_choice", "a string or an object", choice);
  }
  if (choice.type === "function") {
    const fn = choice.function;
    if (!isRecord(fn) || typeof fn.name !== "string" || fn.name === "") {
      throw invalid("tool_choice.function.name", "a non-empty string", fn);
    }
    return { type: "function", name: fn.name };
  }
  throw unsupported(
    "tool_choice.type",
    `Expected "tool_choice.type" to be "function", found ${
      describe(choice.type)
    }`,
  );
}

/** `text.format` from `response_format`, `text.verbosity` from `verbosity`. */
function translateText(
  body: Record<string, unknown>,
): Record<string, unknown> | undefined {
  const text: Record<string, unknown> = {};
  const format = present(body.response_format);
  if (format !== undefined) {
    if (!isRecord(format)) {
      throw invalid("response_format", "an object", format);
    }
    switch (format.type) {
      case "text":
        break;
      case "json_object":
        text.format = { type: "json_object" };
        break;
      case "json_schema":
        text.format = jsonSchemaFormat(format.json_schema);
        break;
      default:
        throw invalid(
          "response_format.type",
          '"text", "json_object" or "json_schema"',
          format.type,
        );
    }
  }
  const verbosity = present(body.verbosity);
  if (verbosity !== undefined) {
    if (typeof verbosity !== "string") {
      throw invalid("verbosity", "a string", verbosity);
    }
    text.verbosity = verbosity;
  }
  return Object.keys(text).length > 0 ? text : undefined;
}

function jsonSchemaFormat(schema: unknown): Record<string, unknown> {
  const where = "response_format.json_schema";
  if (!isRecord(schema)) throw invalid(where, "an object", schema);
  if (typeof schema.name !== "string" || schema.name === "") {
    throw invalid(`${where}.name`, "a non-empty string", schema.name);
  }
  const format: Record<string, unknown> = {
    type: "json_schema",
    name: schema.name,
  };
  const description = present(schema.description);
  if (description !== undefined) {
    if (typeof description !== "string") {
      throw invalid(`${where}.description`, "a string", description);
    }
    format.description = description;
  }
  const value = present(schema.schema);
  if (value !== undefined) {
    if (!isRecord(value)) throw invalid(`${where}.schema`, "an object", value);
    format.schema = value;
  }
  const strict = present(schema.strict);
  if (strict !== undefined && typeof strict !== "boolean") {
    throw invalid(`${where}.strict`, "a boolean", strict);
  }
  format.strict = strict === true;
  return format;
}

/** Refuses an array of more than {@linkcode MAX_CHAT_TOOLS}, as api.openai.com does. */
function checkLength(field: string, array: readonly unknown[]): void {
  if (array.length <= MAX_CHAT_TOOLS) return;
  throw new RelayError(
    400,
    "array_above_max_length",
    `Expected "${field}" to hold at most ${MAX_CHAT_TOOLS} entries, found ${array.length}`,
    { details: { param: field } },
  );
}

/** The value, or undefined when it is null or absent. */
function present(value: unknown): unknown {
  return value === null ? undefined : value;
}

function unsupported(param: string, message: string): RelayError {
  return new RelayError(400, "unsupported_parameter", message, {
    details: { param },
  });
}

function invalid(field: string, expected: string, found: unknown): RelayError {
  return new RelayError(
    400,
    "invalid_request",
    `Expected "${field}" to be ${expected}, found ${describe(found)}`,
    { details: { param: field } },
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(truncate(value, 64))}`;
  }
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  return `a value of type ${typeof value}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
