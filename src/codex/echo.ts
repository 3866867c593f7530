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
 * costs a look at the start of its last event, and an event whose start a
 * chunk cuts before its name ends passes on at once (a rewrite never
 * changes an event's head), the next chunk's first bytes telling what it
 * is, so that the next chunk is not copied behind it. Inside a lifecycle
 * event, only the four members of the Response are replaced, found in one
 * walk of the object's members on the bytes (its `output` skipped), so the
 * Response is never parsed either; the changes are kept as positions and
 * the output written into one array sized first.
 *
 * The same pass keeps the seller's subscription out of an `error` event (the
 * backend's usage limit inside a stream carries the seller's plan, and every
 * `x-codex-*` header of the account as `headers`): the event keeps only
 * `type`, `sequence_number`, `status_code`, `resets_at`, `resets_in_seconds`,
 * `error`, `code`, `message` and `param`, its `error` object only `type`,
 * `code`, `message`, `param`, `resets_at` and `resets_in_seconds`. The
 * backend ends the stream with such an event, so it is the last event of its
 * chunk, where it is looked for (an `error` event that other events follow
 * in the same chunk is not looked at); it is parsed and framed again. A
 * failed Response's `error` object (`response.failed`) is kept to the same
 * members: such an event is parsed and framed again too. A lifecycle or
 * `error` event the stream cuts off is never passed on.
 *
 * @module
 */

import {
  bytesAt,
  firstKey,
  nextKey,
  skipSpace,
  stringEnd,
  valueAfterKey,
  valueEnd,
} from "./_json_scan.ts";
import { SseParser } from "./sse.ts";
import { isRecord } from "../json.ts";
import { joinBytes } from "../bytes.ts";

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const QUOTE = 0x22;
const encoder = new TextEncoder();
const CLOSE_BRACE = 0x7d;
const OPEN_BRACE = 0x7b;
const ERROR_KEY = encoder.encode('"error"');
const RESPONSE_KEY = encoder.encode('"response"');
const EMPTY = new Uint8Array(0);
const COMMA_BYTES = encoder.encode(",");
const COLON_BYTES = encoder.encode(":");
const DATA = encoder.encode("data:");
const LF_BYTES = encoder.encode("\n");
const CRLF_BYTES = encoder.encode("\r\n");

/** The Response members a buyer gets as it sent them. */
export interface EchoFields {
  /** The buyer's `instructions`, or null when it sent none or not a string. */
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
    // Only a string: any other value never went upstream (the default
    // instructions did), and need not be written back (on Node, a deeply
    // nested one could not be: the answer, paid for upstream, was lost).
    instructions: typeof body.instructions === "string"
      ? body.instructions
      : null,
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

/**
 * How an event's first line may start before its name, and the bytes one of
 * which must follow the name: an `event:` line, or a `data:` line of the
 * backend's compact JSON when there is no `event:` line.
 */
const PREFIXES: readonly { bytes: Uint8Array; after: readonly number[] }[] = [
  { bytes: encoder.encode("event: "), after: [LF, CR] },
  { bytes: encoder.encode("event:"), after: [LF, CR] },
  { bytes: encoder.encode('data: {"type":"'), after: [QUOTE] },
  { bytes: encoder.encode('data:{"type":"'), after: [QUOTE] },
];

/**
 * The names of the events rewritten, as bytes: the lifecycle events, and
 * `error`, which may carry the seller's subscription (a usage limit reached
 * inside a stream), kept to {@linkcode ERROR_EVENT_MEMBERS}. Both are
 * "lifecycle" to {@linkcode headAt}: held until complete, then rewritten.
 */
const NAMES: readonly Uint8Array[] = [...LIFECYCLE_EVENTS, "error"].map((
  name,
) => encoder.encode(name));

/**
 * The members of an `error` event that reach the buyer; the others do not
 * (the backend's usage-limit event carries `headers`, every `x-codex-*`
 * header of the seller's subscription: plan, used percents, credits).
 */
const ERROR_EVENT_MEMBERS: ReadonlySet<string> = new Set([
  "type",
  "sequence_number",
  "status_code",
  "resets_at",
  "resets_in_seconds",
  "error",
  "code",
  "message",
  "param",
]);

/**
 * The members of an `error` event's `error` object, and of a failed
 * Response's `error`, that reach the buyer; the others (`plan_type`,
 * `eligible_promo`: the seller's subscription) do not.
 */
const ERROR_MEMBERS: ReadonlySet<string> = new Set([
  "type",
  "code",
  "message",
  "param",
  "resets_at",
  "resets_in_seconds",
]);

/**
 * Bytes enough to tell what an event is from its start: the longest prefix
 * and name, and the byte after the name.
 */
const DECIDING_BYTES =
  Math.max(...PREFIXES.map((prefix) => prefix.bytes.length)) +
  Math.max(...NAMES.map((name) => name.length)) + 1;

/** What the start of an event says it is. */
type Head = "lifecycle" | "comment" | "other" | "undecided";

/** How many of `part`'s bytes `bytes` holds at `at`, up to its end: -1 on a difference. */
function prefixAt(bytes: Uint8Array, at: number, part: Uint8Array): number {
  const count = Math.min(part.length, bytes.length - at);
  for (let index = 0; index < count; index++) {
    if (bytes[at + index] !== part[index]) return -1;
  }
  return count;
}

/** What {@linkcode headLength} says when the bytes end before they tell. */
const UNDECIDED = -1;

/**
 * How many bytes of the event starting at `at` name it one of
 * {@linkcode NAMES} (its prefix and the name), 0 when it is none of them,
 * {@linkcode UNDECIDED} when the bytes end before they tell.
 */
function headLength(bytes: Uint8Array, at: number): number {
  for (const prefix of PREFIXES) {
    const seen = prefixAt(bytes, at, prefix.bytes);
    if (seen < 0) continue;
    if (seen < prefix.bytes.length) return UNDECIDED;
    const from = at + seen;
    for (const name of NAMES) {
      const named = prefixAt(bytes, from, name);
      if (named < 0) continue;
      if (named < name.length) return UNDECIDED;
      const next = bytes[from + named];
      if (next === undefined) return UNDECIDED;
      if (prefix.after.includes(next)) return seen + named;
    }
    // "event: " did not name one; "event:" cannot either.
    return 0;
  }
  return 0;
}

/**
 * What the event starting at `at` is, from its first bytes: `undecided`
 * when the bytes end before they tell.
 */
function headAt(bytes: Uint8Array, at: number): Head {
  if (bytes[at] === COLON) return "comment";
  const length = headLength(bytes, at);
  return length > 0
    ? "lifecycle"
    : length === UNDECIDED
    ? "undecided"
    : "other";
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

/**
 * The changes to one buffer, in order and apart: `bytes[start, end)` becomes
 * `value`. Kept as positions rather than as views of the buffer, so that the
 * output is sized first and written in one allocation.
 */
class Edits {
  // Arrays kept at their longest, `#count` the live entries: emptied and
  // filled again per chunk without growing them again.
  readonly #starts: number[] = [];
  readonly #ends: number[] = [];
  readonly #values: Uint8Array[] = [];
  #count = 0;

  /** How many changes there are. */
  get count(): number {
    return this.#count;
  }

  /** Adds a change after the others. */
  add(start: number, end: number, value: Uint8Array): void {
    const index = this.#count++;
    this.#starts[index] = start;
    this.#ends[index] = end;
    this.#values[index] = value;
  }

  /** Drops the changes from the `count`th on. */
  truncate(count: number): void {
    this.#count = count;
  }

  /**
   * `prefix` (when given), then `bytes[from, to)` with the changes made;
   * the changes are dropped.
   */
  apply(
    bytes: Uint8Array,
    from: number,
    to: number,
    prefix?: Uint8Array,
  ): Uint8Array {
    const count = this.#count;
    if (count === 0 && !prefix) return bytes.subarray(from, to);
    let size = (prefix?.length ?? 0) + to - from;
    for (let index = 0; index < count; index++) {
      size += this.#values[index].length -
        (this.#ends[index] - this.#starts[index]);
    }
    const out = new Uint8Array(size);
    let offset = 0;
    if (prefix) {
      out.set(prefix);
      offset = prefix.length;
    }
    let copied = from;
    for (let index = 0; index < count; index++) {
      const start = this.#starts[index];
      if (start > copied) {
        out.set(bytes.subarray(copied, start), offset);
        offset += start - copied;
      }
      const value = this.#values[index];
      out.set(value, offset);
      offset += value.length;
      copied = this.#ends[index];
    }
    out.set(bytes.subarray(copied, to), offset);
    this.#count = 0;
    // Not to keep the last chunk's replacements alive.
    this.#values.fill(EMPTY, 0, count);
    return out;
  }
}

/**
 * The changes of the push under way: one for the module, as a push runs to
 * its end before another starts, and applies or drops all it added.
 */
const edits = new Edits();

/** The echoed members' keys, in the order of {@linkcode echoValues}. */
const ECHO_KEYS: readonly Uint8Array[] = [
  "instructions",
  "previous_response_id",
  "prompt_cache_key",
  "store",
].map((key) => encoder.encode(JSON.stringify(key)));

/** What goes before an appended member's value: its key and a colon. */
const KEY_HEADS: readonly Uint8Array[] = ECHO_KEYS.map((key) =>
  joinBytes([key, COLON_BYTES])
);

/** What goes before a member's value appended after another member. */
const NEXT_KEY_HEADS: readonly Uint8Array[] = KEY_HEADS.map((head) =>
  joinBytes([COMMA_BYTES, head])
);

/**
 * Which echoed key a key of that length (with quotes) can be, or -1: the
 * four keys differ in length, so a key is compared with one of them at most.
 */
const ECHO_KEY_BY_LENGTH: readonly number[] = (() => {
  const byLength: number[] = [];
  ECHO_KEYS.forEach((key, index) => {
    if (byLength[key.length] !== undefined) {
      throw new Error("Echoed keys of the same length: compare them all");
    }
    byLength[key.length] = index;
  });
  return Array.from(byLength, (index) => index ?? -1);
})();

/** The echoed key that `json[keyStart, keyEnd)` is, or -1. */
function echoedKey(json: Uint8Array, keyStart: number, keyEnd: number): number {
  const index = ECHO_KEY_BY_LENGTH[keyEnd - keyStart] ?? -1;
  return index >= 0 && bytesAt(json, keyStart, ECHO_KEYS[index]) ? index : -1;
}

/** Most encoded values remembered, each of at most {@linkcode MEMO_VALUE_CHARS} characters. */
const MEMO_VALUES = 512;
const MEMO_VALUE_CHARS = 512;

const NULL_JSON = encoder.encode("null");
const TRUE_JSON = encoder.encode("true");
const FALSE_JSON = encoder.encode("false");

/**
 * Encoded values by their JSON text: a buyer sends the same instructions and
 * keys turn after turn, and an allocation costs more here than the lookup.
 * An entry pushed out by other requests costs one encoding again.
 */
const encodedValues = new Map<string, Uint8Array>();

/** A value as JSON bytes. */
function jsonBytes(value: unknown): Uint8Array {
  // Most echoed values are these (no instructions, no previous response,
  // store true): no text to make nor look up.
  if (value === null) return NULL_JSON;
  if (value === true) return TRUE_JSON;
  if (value === false) return FALSE_JSON;
  const text = JSON.stringify(value);
  const known = encodedValues.get(text);
  if (known) return known;
  const bytes = encoder.encode(text);
  if (text.length <= MEMO_VALUE_CHARS) {
    if (encodedValues.size >= MEMO_VALUES) {
      encodedValues.delete(encodedValues.keys().next().value!);
    }
    encodedValues.set(text, bytes);
  }
  return bytes;
}

/** The echoed members' values as JSON bytes, in the order of `ECHO_KEYS`. */
function echoValues(fields: EchoFields): Uint8Array[] {
  return [
    jsonBytes(fields.instructions),
    jsonBytes(fields.previousResponseId),
    jsonBytes(fields.promptCacheKey),
    jsonBytes(fields.store),
  ];
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
 * Where the value of the `response` member of the object that opens at
 * `at` starts, or -1; the members before it walked, not the Response.
 */
function responseValue(json: Uint8Array, at: number): number {
  let key = firstKey(json, at);
  while (key >= 0 && json[key] !== CLOSE_BRACE) {
    const keyEnd = stringEnd(json, key);
    if (keyEnd < 0) return -1;
    const valueStart = valueAfterKey(json, keyEnd);
    if (valueStart < 0) return -1;
    if (
      keyEnd - key === RESPONSE_KEY.length && bytesAt(json, key, RESPONSE_KEY)
    ) {
      return valueStart;
    }
    const end = valueEnd(json, valueStart);
    if (end < 0) return -1;
    key = nextKey(json, end);
  }
  return -1;
}

/**
 * Adds to {@linkcode edits} what sets the echoed members of the Response in
 * an event's JSON (`json[from, to)`, one object ending with its `response`
 * member): each one there replaced in place, in order, those missing
 * appended. Adds nothing and returns false when the JSON is not such an
 * event.
 */
function rewriteJson(
  json: Uint8Array,
  from: number,
  to: number,
  values: readonly Uint8Array[],
): boolean {
  const response = responseValue(json, skipSpace(json, from));
  if (response < 0) return false;
  const mark = edits.count;
  let key = firstKey(json, response);
  const empty = key >= 0 && json[key] === CLOSE_BRACE;
  // Bit i: echoed member i is there.
  let found = 0;
  while (key >= 0 && json[key] !== CLOSE_BRACE) {
    const keyEnd = stringEnd(json, key);
    const valueStart = keyEnd < 0 ? -1 : valueAfterKey(json, keyEnd);
    const end = valueStart < 0 ? -1 : valueEnd(json, valueStart);
    if (end < 0) {
      key = -1;
      break;
    }
    // A failed Response's error object is kept to ERROR_MEMBERS on the
    // slow path (`null` in every other event).
    if (
      json[valueStart] === OPEN_BRACE && keyEnd - key === ERROR_KEY.length &&
      bytesAt(json, key, ERROR_KEY)
    ) {
      edits.truncate(mark);
      return false;
    }
    const index = echoedKey(json, key, keyEnd);
    if (index >= 0) {
      found |= 1 << index;
      const value = values[index];
      if (!sameBytes(json, valueStart, end, value)) {
        edits.add(valueStart, end, value);
      }
    }
    key = nextKey(json, end);
  }
  // The Response ends the event (one data line): `}` and the line end.
  if (
    key < 0 || skipSpace(json, key + 1) !== to - 1 ||
    json[to - 1] !== CLOSE_BRACE
  ) {
    edits.truncate(mark);
    return false;
  }
  // The missing ones appended, two pieces each: no array made for them.
  let first = empty;
  for (let index = 0; index < ECHO_KEYS.length; index++) {
    if (found & (1 << index)) continue;
    edits.add(key, key, (first ? KEY_HEADS : NEXT_KEY_HEADS)[index]);
    edits.add(key, key, values[index]);
    first = false;
  }
  return true;
}

/**
 * Adds to {@linkcode edits} what sets the echoed members in the complete
 * lifecycle event `bytes[at, end)` (nothing when they are already so), or
 * what keeps an `error` event to {@linkcode ERROR_EVENT_MEMBERS} and its
 * error object to {@linkcode ERROR_MEMBERS}. A lifecycle event of one
 * `data:` line is rewritten on its bytes; one of several lines, and an
 * `error` event, is parsed and framed again.
 *
 * The first `passed` bytes of the event have gone to the buyer already (the
 * start of an event that a chunk's end cut before it could tell what it is;
 * never more than its head, {@linkcode headLength}): no change may fall
 * among them. A rewrite of the data line changes only members of the
 * Response, which come after the head. An event framed again keeps its head
 * as it came, unless parsing reorders it (a `type` named twice): such an
 * event is left as it came, whatever the chunks.
 */
function rewriteEvent(
  bytes: Uint8Array,
  at: number,
  end: number,
  values: readonly Uint8Array[],
  fields: EchoFields,
  passed = 0,
): void {
  let dataAt = bytesAt(bytes, at, DATA) ? at : -1;
  if (dataAt < 0) {
    const lf = bytes.indexOf(LF, at);
    if (lf >= 0 && lf < end && bytesAt(bytes, lf + 1, DATA)) dataAt = lf + 1;
  }
  if (dataAt >= 0) {
    const from = bytes[dataAt + DATA.length] === 0x20
      ? dataAt + DATA.length + 1
      : dataAt + DATA.length;
    let to = end;
    while (to > from && (bytes[to - 1] === LF || bytes[to - 1] === CR)) to--;
    if (rewriteJson(bytes, from, to, values)) return;
  }
  const event = reframe(bytes.subarray(at, end), (payload) => {
    if (isRecord(payload.response)) {
      echoResponse(payload.response, fields);
      if (isRecord(payload.response.error)) {
        keepMembers(payload.response.error, ERROR_MEMBERS);
      }
      return true;
    }
    if (payload.type !== "error") return false;
    const removed = keepMembers(payload, ERROR_EVENT_MEMBERS);
    return (isRecord(payload.error) &&
      keepMembers(payload.error, ERROR_MEMBERS)) || removed;
  });
  if (!event) return;
  const head = Math.max(0, headLength(bytes, at));
  if (!bytesAt(event, 0, bytes.subarray(at, at + head))) {
    return;
  }
  edits.add(at + passed, end, passed === 0 ? event : event.subarray(passed));
}

/** Deletes the members of `object` not in `kept`; whether there were any. */
function keepMembers(
  object: Record<string, unknown>,
  kept: ReadonlySet<string>,
): boolean {
  let removed = false;
  for (const key of Object.keys(object)) {
    if (!kept.has(key)) {
      delete object[key];
      removed = true;
    }
  }
  return removed;
}

/**
 * The slow path: the event parsed, changed by `change` (which says whether
 * it changed anything), and framed again; undefined when it is unchanged
 * or not an event of one JSON object.
 */
function reframe(
  event: Uint8Array,
  change: (payload: Record<string, unknown>) => boolean,
): Uint8Array | undefined {
  let data: string | undefined;
  const parser = new SseParser((_event, text) => {
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
  if (!isRecord(payload) || !change(payload)) return undefined;
  // The lines before the first data line, and that line's `data:` with its
  // space or none, stay as they came: the start of the event may have gone
  // to the buyer already (see rewriteEvent). The other data lines go.
  let line = 0;
  while (!bytesAt(event, line, DATA)) {
    const lf = event.indexOf(LF, line);
    if (lf < 0) return undefined;
    line = lf + 1;
  }
  const value = line + DATA.length +
    (event[line + DATA.length] === 0x20 ? 1 : 0);
  const firstLf = event.indexOf(LF);
  const lineEnd = firstLf > 0 && event[firstLf - 1] === CR
    ? CRLF_BYTES
    : LF_BYTES;
  return joinBytes([
    event.subarray(0, value),
    encoder.encode(JSON.stringify(payload)),
    lineEnd,
    lineEnd,
  ]);
}

/**
 * Rewrites the Response object in the lifecycle events of one SSE stream,
 * chunk by chunk, so that the buyer gets its own fields back, and keeps the
 * seller's subscription out of its `error` events (see the module's
 * description for which events are looked at). Such an event cut by the end
 * of a chunk is held back until it is complete (its head may have passed
 * already); one the stream cuts off for good is never passed on (a buyer's
 * parser drops an event without its blank line, and unchanged it would say
 * what went upstream). Everything else passes as it came, a chunk without
 * such an event as it is.
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
  #values: Uint8Array[] | undefined;
  /** Still in the leading run of lifecycle events (every event is looked at). */
  #leading = true;
  /**
   * A copy of the start of an event too short yet to tell what it is (a few
   * bytes, passed on already: a rewrite never changes an event's head).
   */
  #undecided: Uint8Array | undefined;
  /** The parts so far of a lifecycle event cut by the end of a chunk. */
  #held: Uint8Array[] | undefined;
  /** How many of the held bytes were passed on already (an undecided start). */
  #passed = 0;
  /**
   * The last three bytes before the next chunk (held and undecided ones
   * included), packed (see `endsEvent`).
   */
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
    // None left by a push that threw before its end.
    edits.truncate(0);
    if (this.#undecided) {
      const start = this.#undecided;
      // A few bytes more tell: the chunk is not copied behind them.
      const head = headAt(
        joinBytes([start, chunk.subarray(0, DECIDING_BYTES)]),
        0,
      );
      if (head === "undecided") {
        this.#undecided = joinBytes([start, chunk]);
        this.#last = packLast(chunk, this.#last);
        return chunk;
      }
      this.#undecided = undefined;
      if (head === "lifecycle") {
        // Held from its start (to be rewritten whole), passed on from here.
        this.#held = [start];
        this.#passed = start.length;
      } else if (head === "other") {
        this.#leading = false;
      }
    }
    const bytes = chunk;
    let at: number;
    /** What goes before `bytes[at]` on: a held event, complete now. */
    let prefix: Uint8Array | undefined;
    if (this.#held) {
      // The rest of a held lifecycle event: only its end is looked for.
      const end = firstEventStart(chunk, this.#last);
      if (end < 0 || end === chunk.length) {
        this.#last = packLast(chunk, this.#last);
      }
      if (end < 0) {
        this.#held.push(chunk.slice());
        return EMPTY;
      }
      this.#held.push(chunk.subarray(0, end));
      const event = joinBytes(this.#held);
      const passed = this.#passed;
      this.#held = undefined;
      this.#passed = 0;
      // Held as a lifecycle event, or an undecided start that turned out
      // to be one when it grew.
      if (headAt(event, 0) === "lifecycle") {
        this.#rewrite(event, 0, event.length, passed);
      }
      prefix = edits.apply(event, passed, event.length);
      if (end === chunk.length) return prefix;
      at = end;
    } else {
      at = firstEventStart(chunk, this.#last);
      if (at < 0) {
        this.#last = packLast(chunk, this.#last);
        return chunk;
      }
    }
    const from = prefix ? at : 0;
    // Every event of the leading run, one by one.
    while (at < bytes.length && this.#leading) {
      const head = headAt(bytes, at);
      const end = eventEnd(bytes, at);
      if (end < 0) {
        if (head === "lifecycle" || head === "undecided") {
          return this.#hold(bytes, at, head, from, prefix);
        }
        if (head === "other") this.#leading = false;
        at = bytes.length;
        break;
      }
      if (head === "lifecycle") {
        this.#rewrite(bytes, at, end);
      } else if (head !== "comment") {
        this.#leading = false;
      }
      at = end;
    }
    // Past the leading run: only the last event of the chunk.
    if (at < bytes.length) {
      const last = lastEventStart(bytes, at);
      const head = headAt(bytes, last);
      if (head === "lifecycle" || head === "undecided") {
        // The last event is complete when the chunk ends with a blank line.
        if (!endsEvent(packLast(bytes, this.#last))) {
          return this.#hold(bytes, last, head, from, prefix);
        }
        if (head === "lifecycle") {
          this.#rewrite(bytes, last, bytes.length);
        }
      }
    }
    this.#last = packLast(bytes, this.#last);
    if (edits.count === 0 && !prefix) return bytes;
    return edits.apply(bytes, from, bytes.length, prefix);
  }

  /**
   * Holds back `bytes` from `at` on (an event to rewrite, once complete), or
   * keeps a copy of an undecided start there; returns what passes now:
   * `prefix`, then `bytes` from `from`, changed, up to `at` (held) or to
   * their end (undecided).
   */
  #hold(
    bytes: Uint8Array,
    at: number,
    head: Head,
    from: number,
    prefix: Uint8Array | undefined,
  ): Uint8Array {
    // Copied: the chunk's buffer may be reused by its reader.
    const rest = bytes.slice(at);
    this.#last = packLast(bytes, this.#last);
    if (head === "undecided") {
      // A few bytes, which pass on now: only the next chunk's first bytes
      // are joined to them to tell what the event is.
      this.#undecided = rest;
      return edits.apply(bytes, from, bytes.length, prefix);
    }
    this.#held = [rest];
    return edits.apply(bytes, from, at, prefix);
  }

  /**
   * Adds to `edits` the rewrite of the lifecycle or `error` event at `at`
   * to `end`, of which the first `passed` bytes went on already.
   */
  #rewrite(bytes: Uint8Array, at: number, end: number, passed = 0): void {
    this.#values ??= echoValues(this.#fields);
    rewriteEvent(bytes, at, end, this.#values, this.#fields, passed);
  }
}
