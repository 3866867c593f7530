/**
 * The responses-lite shape: what the Codex CLI sends a model whose catalog
 * entry says `use_responses_lite: true` (spec: "Responses-lite models").
 * The provider shapes every request the classic way (./request.ts); an
 * attempt on a login whose catalog marks the model lite turns that body
 * into this one ({@linkcode toResponsesLite}) and adds
 * {@linkcode RESPONSES_LITE_HEADER}. A buyer that sent the lite shape itself
 * (the Codex CLI reading `serve`'s model list) is first brought back to the
 * classic shape ({@linkcode fromResponsesLite}), so that a classic attempt
 * gets top-level tools and a lite one exactly one `additional_tools` item.
 *
 * @module
 */

import { Pacer } from "../async.ts";
import { isRecord } from "../json.ts";
import { stringifyPaced } from "./paced_json.ts";

/** The header the Codex CLI sends with a responses-lite body. */
export const RESPONSES_LITE_HEADER = "x-openai-internal-codex-responses-lite";

/** The input item that carries a responses-lite request's tools. */
export const ADDITIONAL_TOOLS = "additional_tools";

/** Tool outputs whose `output` may hold content parts (an image among them). */
const TOOL_OUTPUTS: ReadonlySet<string> = new Set([
  "function_call_output",
  "custom_tool_call_output",
]);

/**
 * A classic upstream body (as `shapeRequest` made it) in the responses-lite
 * shape, as the Codex CLI builds it (`codex-rs/core/src/client.rs`):
 *
 * - `input` starts with `{"type":"additional_tools","role":"developer","tools":[…]}`
 *   holding the top-level `tools` (an empty list when there are none), then,
 *   when `instructions` is a non-empty string, a `developer` message holding
 *   it as one `input_text` part, then the body's own input (a string input
 *   as one user message);
 * - `instructions` is `""` and there is no top-level `tools`;
 * - `parallel_tool_calls` is `false`;
 * - `detail` is removed from `input_image` parts, in messages and in
 *   function and custom tool call outputs.
 *
 * Every other field is kept as it is. Pure: `body` is not modified, and what
 * does not change is shared, not copied.
 *
 * @param body a classic upstream body
 * @returns the responses-lite body
 *
 * @example
 * ```ts
 * import { toResponsesLite } from "./responses_lite.ts";
 * const lite = toResponsesLite({
 *   model: "gpt-5.6-sol",
 *   instructions: "Be brief",
 *   input: "Hi",
 *   tools: [],
 * });
 * console.log(lite.instructions, (lite.input as unknown[]).length); // "" 3
 * ```
 */
export function toResponsesLite(
  body: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const { tools, instructions: _instructions, ...rest } = body;
  const lite: Record<string, unknown> = rest;
  const head: Record<string, unknown>[] = [{
    type: ADDITIONAL_TOOLS,
    role: "developer",
    tools: Array.isArray(tools) ? tools : [],
  }];
  if (typeof body.instructions === "string" && body.instructions !== "") {
    head.push({
      type: "message",
      role: "developer",
      content: [{ type: "input_text", text: body.instructions }],
    });
  }
  const input = body.input;
  const items: unknown[] = typeof input === "string"
    ? [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: input }],
    }]
    : Array.isArray(input)
    ? input.map(withoutImageDetail)
    : [];
  lite.instructions = "";
  lite.input = [...head, ...items];
  lite.parallel_tool_calls = false;
  return lite;
}

/**
 * A buyer's body in the classic shape when it came in the responses-lite
 * shape (its first input item an `additional_tools` item): that item's
 * tools become the top-level `tools` (after any the body has), and the item
 * leaves `input`; `instructions: ""` then lets the leading `developer`
 * message become `instructions` as for any buyer. Any other body is
 * returned as it is (one look at the first item: the common path costs
 * nothing).
 *
 * @param body a buyer's request body
 * @returns the body in the classic shape (`body` itself when it already was)
 *
 * @example
 * ```ts
 * import { fromResponsesLite } from "./responses_lite.ts";
 * const classic = fromResponsesLite({
 *   model: "gpt-5.6-sol",
 *   input: [{ type: "additional_tools", role: "developer", tools: [{ type: "function", name: "f" }] }],
 * });
 * console.log(classic.tools, classic.input); // [{ type: "function", name: "f" }] []
 * ```
 */
export function fromResponsesLite(
  body: Record<string, unknown>,
): Record<string, unknown> {
  const input = body.input;
  if (!Array.isArray(input) || input.length === 0) return body;
  const first = input[0];
  if (!isRecord(first) || first.type !== ADDITIONAL_TOOLS) return body;
  const carried = Array.isArray(first.tools) ? first.tools : [];
  const own = Array.isArray(body.tools) ? body.tools : [];
  const classic: Record<string, unknown> = { ...body, input: input.slice(1) };
  if (own.length > 0 || carried.length > 0) {
    classic.tools = [...own, ...carried];
  }
  return classic;
}

/** An input item without `detail` on its images (the item itself when it has none). */
function withoutImageDetail(item: unknown): unknown {
  if (!isRecord(item)) return item;
  if (TOOL_OUTPUTS.has(item.type as string)) {
    const output = partsWithoutDetail(item.output);
    return output === item.output ? item : { ...item, output };
  }
  const content = partsWithoutDetail(item.content);
  return content === item.content ? item : { ...item, content };
}

/** Content parts without `detail` on `input_image` parts (the same array when none has one). */
function partsWithoutDetail(parts: unknown): unknown {
  if (!Array.isArray(parts)) return parts;
  let copy: unknown[] | undefined;
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index];
    if (
      !isRecord(part) || part.type !== "input_image" ||
      !Object.hasOwn(part, "detail")
    ) {
      continue;
    }
    copy ??= parts.slice();
    const { detail: _detail, ...kept } = part;
    copy[index] = kept;
  }
  return copy ?? parts;
}

/** What {@linkcode responsesLiteBody} reads of a request, and where it keeps its result. */
export interface ResponsesLiteSource {
  /** The classic body as JSON text. */
  body: string;
  /** The classic body as an object, while it is kept (parsed from `body` otherwise). */
  shaped?: Readonly<Record<string, unknown>>;
  /** The responses-lite body text, once built. */
  liteBody?: string;
}

/**
 * The responses-lite body text of a request, built from its shaped object
 * on the first attempt that needs it and kept on the request for the next
 * ones (a retry, or a failover to another lite login). Written with yields
 * to the event loop ({@linkcode stringifyPaced}): a large body's text in one
 * step held it for a few hundred milliseconds. Its size is the classic
 * body's within a few dozen bytes (the tools and instructions move into
 * `input`), which the body limit bounded already.
 *
 * @param request the request's classic body, shaped object and memo
 * @param pacer paces the writing (default: a pacer of its own)
 * @returns the JSON text to send
 *
 * @example
 * ```ts
 * import { responsesLiteBody } from "./responses_lite.ts";
 * const request = { body: '{"model":"m","instructions":"","input":"Hi"}' };
 * console.log(await responsesLiteBody(request) === request.liteBody); // true
 * ```
 */
export async function responsesLiteBody(
  request: ResponsesLiteSource,
  pacer: Pacer = new Pacer(),
): Promise<string> {
  request.liteBody ??= await stringifyPaced(
    toResponsesLite(request.shaped ?? JSON.parse(request.body)),
    Infinity,
    pacer,
    () => new RangeError("A body without a bound cannot pass it"),
  );
  return request.liteBody;
}

/**
 * Adds {@linkcode RESPONSES_LITE_HEADER} to the headers of an attempt in
 * the responses-lite shape.
 *
 * @param headers an attempt's upstream headers (changed in place)
 * @param lite whether the attempt's body is in the responses-lite shape
 * @returns `headers`
 *
 * @example
 * ```ts
 * import { withResponsesLiteHeader } from "./responses_lite.ts";
 * console.log(withResponsesLiteHeader({}, true)); // { "x-openai-internal-codex-responses-lite": "true" }
 * ```
 */
export function withResponsesLiteHeader(
  headers: Record<string, string>,
  lite: boolean,
): Record<string, string> {
  if (lite) headers[RESPONSES_LITE_HEADER] = "true";
  return headers;
}
