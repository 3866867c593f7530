/**
 * What the buyer gets back of what it sent: the Response object a buyer
 * receives echoes `instructions`, `previous_response_id`, `prompt_cache_key`
 * and `store` as the buyer sent them (as api.openai.com does), not what went
 * upstream (the provider's default or folded instructions, no
 * `previous_response_id`, the buyer-scoped cache key, `store: false`).
 *
 * A JSON answer is set on the parsed Response ({@linkcode echoResponse}). A
 * stream is rewritten as it passes ({@linkcode EchoRewriter}), only in the
 * events that carry the Response object, where the protocol puts them: the
 * leading run of events (`response.created`, `response.in_progress`,
 * `response.queued`) and the last event of each chunk (the terminal
 * `response.completed`, `response.failed` or `response.incomplete` ends the
 * stream). Delta events are never parsed nor copied: a chunk of deltas
 * costs a look at the start of its last event. Inside a lifecycle event,
 * only the four members of the Response are replaced, found by walking the
 * object's members on the bytes (its `output` skipped, its strings by the
 * native byte search), so the Response is never parsed either.
 *
 * @module
 */

import {
  bytesAt,
  type Member,
  objectMembers,
  skipSpace,
} from "./_json_scan.ts";
import { SseParser } from "./sse.ts";
import { isRecord } from "../json.ts";

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The Response members a buyer gets as it sent them. */
export interface EchoFields {
  /** The buyer's `instructions`, or null when it sent none. */
  instructions: unknown;
  /** The buyer's `previous_response_id`, or null. */
  previousResponseId: unknown;
  /** The buyer's `prompt_cache_key`, or null. */
  promptCacheKey: unknown;
  /** Whether the buyer asked to store the response (`store` not false). */
  store: boolean;
}

/**
 * The fields to echo of a buyer's Responses request body, as it sent it.
 *
 * @example
 * ```ts
 * import { echoFieldsOf } from "./echo.ts";
 * console.log(echoFieldsOf({ model: "gpt-5.4", prompt_cache_key: "conv-1" }));
 * // { instructions: null, previousResponseId: null, promptCacheKey: "conv-1", store: true }
 * ```
 */
export function echoFieldsOf(body: Record<string, unknown>): EchoFields {
  return {
    instructions: body.instructions ?? null,
    previousResponseId: body.previous_response_id ?? null,
    promptCacheKey: body.prompt_cache_key ?? null,
    store: body.store !== false,
  };
}

/**
 * Sets the echoed fields on a Response object (the JSON answer of a
 * non-streaming buyer).
 *
 * @example
 * ```ts
 * import { echoResponse } from "./echo.ts";
 * const response: Record<string, unknown> = { id: "resp_1", store: false, instructions: "You are helpful" };
 * echoResponse(response, { instructions: null, previousResponseId: "resp_0", promptCacheKey: null, store: true });
 * console.log(response.store, response.instructions, response.previous_response_id); // true null "resp_0"
 * ```
 */
export function echoResponse(
  response: Record<string, unknown>,
  fields: EchoFields,
): void {
  response.instructions = fields.instructions;
  response.previous_response_id = fields.previousResponseId;
  response.prompt_cache_key = fields.promptCacheKey;
  response.store = fields.store;
}

/** The events that carry the Response object. */
export const LIFECYCLE_EVENTS: readonly string[] = Object.freeze([
  "response.created",
  "response.in_progress",
  "response.queued",
  "response.completed",
  "response.failed",
  "response.incomplete",
]);

/** How an event that carries the Response object may start. */
const HEADS: readonly Uint8Array[] = LIFECYCLE_EVENTS.flatMap((name) =>
  [
    `event: ${name}\n`,
    `event: ${name}\r`,
    `event:${name}\n`,
    `event:${name}\r`,
    `data: {"type":"${name}"`,
    `data:{"type":"${name}"`,
  ].map((head) => encoder.encode(head))
);

/** What the start of an event says it is. */
type Head = "lifecycle" | "comment" | "other" | "undecided";

/** What the event starting at `at` is, from its first bytes. */
function headAt(bytes: Uint8Array, at: number): Head {
  if (bytes[at] === COLON) return "comment";
  const available = bytes.length - at;
  let undecided = false;
  for (const head of HEADS) {
    if (available >= head.length) {
      if (bytesAt(bytes, at, head)) return "lifecycle";
      continue;
    }
    if (!undecided) {
      let same = true;
      for (let index = 0; index < available && same; index++) {
        same = bytes[at + index] === head[index];
      }
      undecided = same;
    }
  }
  return undecided ? "undecided" : "other";
}

/** Just after the blank line that ends the event starting at `at`, or -1. */
function eventEnd(bytes: Uint8Array, at: number): number {
  let lf = bytes.indexOf(LF, at);
  while (lf >= 0) {
    const next = bytes[lf + 1];
    if (next === LF) return lf + 2;
    if (next === CR && bytes[lf + 2] === LF) return lf + 3;
    lf = bytes.indexOf(LF, lf + 1);
  }
  return -1;
}

/**
 * Where the last event of `bytes` (at or after `from`, an event's start)
 * starts: just after the last blank line before its end, line ends closing
 * the bytes ignored.
 */
function lastEventStart(bytes: Uint8Array, from: number): number {
  let end = bytes.length;
  while (end > from && (bytes[end - 1] === LF || bytes[end - 1] === CR)) end--;
  let at = end;
  while (at > from) {
    const lf = bytes.lastIndexOf(LF, at - 1);
    if (lf < from) return from;
    let before = lf - 1;
    if (before >= from && bytes[before] === CR) before--;
    if (before >= from && bytes[before] === LF) return lf + 1;
    at = lf;
  }
  return from;
}

/** Whether the bytes so far end with a blank line (or are none). */
function endsEvent(last: number): boolean {
  // `last` packs the last three bytes, the latest lowest.
  const one = last & 0xff;
  const two = (last >>> 8) & 0xff;
  return one === LF && (two === LF || (two === CR && (last >>> 16) === LF));
}

/** Three line ends: what precedes the start of a stream. */
const STREAM_START = (LF << 16) | (LF << 8) | LF;

function packLast(bytes: Uint8Array, before: number): number {
  let last = before;
  for (
    let index = Math.max(0, bytes.length - 3);
    index < bytes.length;
    index++
  ) {
    last = ((last << 8) | bytes[index]) & 0xffffff;
  }
  return last;
}

/** Where the first event that starts inside `bytes` starts, given the bytes before; -1 when none does. */
function firstEventStart(bytes: Uint8Array, before: number): number {
  if (endsEvent(before)) return 0;
  const previous = before & 0xff;
  if (bytes[0] === LF && previous === LF) return 1;
  if (bytes[0] === LF && previous === CR && ((before >>> 8) & 0xff) === LF) {
    return 1;
  }
  if (
    bytes[0] === CR && bytes[1] === LF && previous === LF
  ) {
    return 2;
  }
  return eventEnd(bytes, 0);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  let size = 0;
  for (const part of parts) size += part.length;
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One echoed member: its key as JSON bytes (with quotes) and its value's. */
interface EchoMember {
  key: Uint8Array;
  value: Uint8Array;
}

function echoMembers(fields: EchoFields): EchoMember[] {
  const member = (key: string, value: unknown): EchoMember => ({
    key: encoder.encode(JSON.stringify(key)),
    value: encoder.encode(JSON.stringify(value)),
  });
  return [
    member("instructions", fields.instructions),
    member("previous_response_id", fields.previousResponseId),
    member("prompt_cache_key", fields.promptCacheKey),
    member("store", fields.store),
  ];
}

const RESPONSE_KEY = encoder.encode('"response"');
const NOTHING = new Uint8Array(0);
const COMMA_BYTES = encoder.encode(",");
const COLON_BYTES = encoder.encode(":");
const DATA = encoder.encode("data:");

function keyIs(bytes: Uint8Array, member: Member, key: Uint8Array): boolean {
  return member.keyEnd - member.keyStart === key.length &&
    bytesAt(bytes, member.keyStart, key);
}

function sameBytes(
  bytes: Uint8Array,
  start: number,
  end: number,
  value: Uint8Array,
): boolean {
  return end - start === value.length && bytesAt(bytes, start, value);
}

/**
 * The event's JSON with the echoed members of its `response` object set, or
 * undefined when nothing changes or the JSON is not such an event.
 */
function rewriteJson(
  json: Uint8Array,
  echoed: readonly EchoMember[],
): Uint8Array | undefined {
  const outer = objectMembers(
    json,
    skipSpace(json, 0),
    (member) => keyIs(json, member, RESPONSE_KEY),
  );
  const holder = outer?.members.at(-1);
  if (!holder || outer!.close !== -1) return undefined;
  const response = objectMembers(json, holder.valueStart);
  if (!response) return undefined;
  const parts: Uint8Array[] = [];
  let copied = 0;
  const appended: Uint8Array[] = [];
  const found = new Array<Member | undefined>(echoed.length);
  for (const member of response.members) {
    for (let index = 0; index < echoed.length; index++) {
      if (keyIs(json, member, echoed[index].key)) found[index] = member;
    }
  }
  // Members replaced in place, in the order they appear.
  const replaced = echoed
    .map((echo, index) => ({ echo, member: found[index] }))
    .filter((pair) => pair.member !== undefined)
    .sort((a, b) => a.member!.valueStart - b.member!.valueStart);
  for (const { echo, member } of replaced) {
    const { valueStart, valueEnd } = member!;
    if (sameBytes(json, valueStart, valueEnd, echo.value)) continue;
    parts.push(json.subarray(copied, valueStart), echo.value);
    copied = valueEnd;
  }
  let first = response.members.length === 0;
  for (let index = 0; index < echoed.length; index++) {
    if (found[index]) continue;
    appended.push(
      first ? NOTHING : COMMA_BYTES,
      echoed[index].key,
      COLON_BYTES,
      echoed[index].value,
    );
    first = false;
  }
  if (parts.length === 0 && appended.length === 0) return undefined;
  parts.push(json.subarray(copied, response.close), ...appended);
  parts.push(json.subarray(response.close));
  return concat(parts);
}

/**
 * A complete lifecycle event with the echoed members set, or undefined when
 * it stays as it is. An event of one `data:` line is rewritten on its bytes;
 * one of several lines is parsed and framed again.
 */
function rewriteEvent(
  event: Uint8Array,
  echoed: readonly EchoMember[],
  fields: EchoFields,
): Uint8Array | undefined {
  let dataAt = bytesAt(event, 0, DATA) ? 0 : -1;
  if (dataAt < 0) {
    const lf = event.indexOf(LF);
    if (lf >= 0 && bytesAt(event, lf + 1, DATA)) dataAt = lf + 1;
  }
  if (dataAt >= 0) {
    const from = event[dataAt + DATA.length] === 0x20
      ? dataAt + DATA.length + 1
      : dataAt + DATA.length;
    let lineEnd = event.indexOf(LF, from);
    const after = lineEnd;
    if (lineEnd > from && event[lineEnd - 1] === CR) lineEnd--;
    // One data line, then the blank line: the JSON is that line.
    const rest = event.length - after;
    if (
      after >= 0 &&
      (rest === 2 && event[after + 1] === LF ||
        rest === 3 && event[after + 1] === CR && event[after + 2] === LF)
    ) {
      const json = rewriteJson(event.subarray(from, lineEnd), echoed);
      if (!json) return undefined;
      return concat([event.subarray(0, from), json, event.subarray(lineEnd)]);
    }
  }
  return reframe(event, fields);
}

/** The slow path: an event of several data lines, parsed and framed again. */
function reframe(
  event: Uint8Array,
  fields: EchoFields,
): Uint8Array | undefined {
  let name = "";
  let data: string | undefined;
  const parser = new SseParser((event, text) => {
    name = event;
    data = text;
  });
  parser.push(event);
  parser.finish();
  if (data === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!isRecord(payload) || !isRecord(payload.response)) return undefined;
  echoResponse(payload.response, fields);
  const line = name === "message" ? "" : `event: ${name}\n`;
  return encoder.encode(`${line}data: ${JSON.stringify(payload)}\n\n`);
}

/**
 * Rewrites the Response object in the lifecycle events of one SSE stream,
 * chunk by chunk, so that the buyer gets its own fields back (see the
 * module's description for which events are looked at). A lifecycle event
 * cut by the end of a chunk is held back until it is complete; everything
 * else passes as it came, a chunk without such an event as it is.
 *
 * @example
 * ```ts
 * import { EchoRewriter } from "./echo.ts";
 *
 * const rewriter = new EchoRewriter({
 *   instructions: null,
 *   previousResponseId: null,
 *   promptCacheKey: "conv-1",
 *   store: true,
 * });
 * const out = rewriter.push(new TextEncoder().encode(
 *   'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","store":false}}\n\n',
 * ));
 * console.log(new TextDecoder().decode(out).includes('"store":true')); // true
 * ```
 */
export class EchoRewriter {
  readonly #fields: EchoFields;
  #echoed: EchoMember[] | undefined;
  /** Still in the leading run of lifecycle events (every event is looked at). */
  #leading = true;
  /** The start of a lifecycle event (or what may be one) held back. */
  #held: Uint8Array | undefined;
  /** The last three bytes passed on, packed (see `endsEvent`). */
  #last = STREAM_START;

  /**
   * Creates a rewriter for one stream.
   *
   * @param fields what the buyer sent
   */
  constructor(fields: EchoFields) {
    this.#fields = fields;
  }

  /**
   * Takes the next bytes of the stream and returns those to pass on now:
   * `chunk` itself when nothing in it changes.
   *
   * @param chunk the next bytes of the stream
   * @returns the bytes to pass on (possibly empty)
   */
  push(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    const held = this.#held !== undefined;
    const bytes = held ? concat([this.#held!, chunk]) : chunk;
    this.#held = undefined;
    let at = held ? 0 : firstEventStart(bytes, this.#last);
    if (at < 0) return this.#passed(bytes);
    const parts: Uint8Array[] = [];
    let copied = 0;
    // A held event, and every event of the leading run, one by one.
    let first = held;
    while (at < bytes.length && (this.#leading || first)) {
      first = false;
      const head = headAt(bytes, at);
      const end = eventEnd(bytes, at);
      if (end < 0) {
        if (head === "lifecycle" || head === "undecided") {
          return this.#hold(bytes, at, parts, copied);
        }
        if (head === "other") this.#leading = false;
        at = bytes.length;
        break;
      }
      if (head === "lifecycle") {
        copied = this.#rewrite(bytes, at, end, parts, copied);
      } else if (head !== "comment") {
        this.#leading = false;
      }
      at = end;
    }
    // Past the leading run: only the last event of the chunk.
    if (at < bytes.length) {
      const last = lastEventStart(bytes, at);
      const head = headAt(bytes, last);
      const end = eventEnd(bytes, last);
      if (end < 0 && (head === "lifecycle" || head === "undecided")) {
        return this.#hold(bytes, last, parts, copied);
      }
      if (end >= 0 && head === "lifecycle") {
        copied = this.#rewrite(bytes, last, end, parts, copied);
      }
    }
    if (parts.length === 0) return this.#passed(bytes);
    parts.push(bytes.subarray(copied));
    return this.#passed(concat(parts));
  }

  /**
   * The bytes held back when the stream ends (an event it cut off), to be
   * passed on as they came.
   *
   * @returns the held bytes (possibly empty)
   */
  finish(): Uint8Array {
    const held = this.#held ?? new Uint8Array(0);
    this.#held = undefined;
    return held.length === 0 ? held : this.#passed(held);
  }

  #passed(bytes: Uint8Array): Uint8Array {
    if (bytes.length > 0) this.#last = packLast(bytes, this.#last);
    return bytes;
  }

  #hold(
    bytes: Uint8Array,
    at: number,
    parts: Uint8Array[],
    copied: number,
  ): Uint8Array {
    // Copied: the chunk's buffer may be reused by its reader.
    this.#held = bytes.slice(at);
    if (at === 0 && parts.length === 0) return new Uint8Array(0);
    parts.push(bytes.subarray(copied, at));
    return this.#passed(concat(parts));
  }

  #rewrite(
    bytes: Uint8Array,
    at: number,
    end: number,
    parts: Uint8Array[],
    copied: number,
  ): number {
    this.#echoed ??= echoMembers(this.#fields);
    const event = rewriteEvent(
      bytes.subarray(at, end),
      this.#echoed,
      this.#fields,
    );
    if (!event) return copied;
    parts.push(bytes.subarray(copied, at), event);
    return end;
  }
}
