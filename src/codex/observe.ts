/**
 * Observing a finished Codex SSE body without re-framing it: what the relay
 * needs to know once the bytes have passed through (did it end with a
 * terminal event, its usage, the final Response object).
 *
 * Every complete answer ends with its terminal event, so the fast path parses
 * only the last event, found by scanning backwards for the blank line before
 * it: the cost is the size of that one event, not of the stream. Only when
 * the last event is not terminal (a failure), or a non-streaming buyer needs
 * the output rebuilt from the streamed items, is the whole body parsed with
 * the incremental {@linkcode SseParser}.
 *
 * @module
 */

import {
  type AggregateResult,
  ResponseAggregator,
  TERMINAL_EVENTS,
  wantsEvent,
} from "./aggregate.ts";
import { SseParser } from "./sse.ts";
import { joinBytes } from "../bytes.ts";

const LF = 0x0a;
const CR = 0x0d;

/** What a finished SSE body says. */
export interface StreamObservation {
  /** The terminal event's name, when the body has one. */
  readonly terminal: string | undefined;
  /** `usage` of the final Response object, parsed on first access. */
  readonly usage: Record<string, unknown> | undefined;
  /** The answer for a non-streaming buyer, built on the first call. */
  result(): AggregateResult;
  /** Bytes of an event cut off at the end of the body (0 when none). */
  readonly pendingBytes: number;
  /** Sequence number an event appended after this body should carry. */
  readonly nextSequenceNumber: number;
  /** The Response id, when the body carried `response.created`. */
  readonly responseId: string | undefined;
  /**
   * With `keepOutput`: the completed event that ends the body, as bytes
   * (see {@linkcode completedEventOf}), when it can be kept unread.
   */
  readonly completed: CompletedEvent | undefined;
}

/** What {@linkcode observeStream} is asked for beyond the terminal event. */
export interface ObserveOptions {
  /**
   * Rebuild the `output` of a completed Response sent empty from the
   * streamed items (a whole parse), so that {@linkcode StreamObservation.result}
   * holds the answer.
   */
  needOutput?: boolean;
  /**
   * The final Response is to be kept: as the completed event's bytes
   * ({@linkcode StreamObservation.completed}) when the body ends with one that
   * {@linkcode completedEventOf} accepts, else as with `needOutput`.
   */
  keepOutput?: boolean;
}

/**
 * Where the last event of an SSE body starts: just after the blank line
 * before it (line ends closing the body ignored), or 0 for a single event.
 *
 * @example
 * ```ts
 * import { lastEventStart } from "./observe.ts";
 * const body = new TextEncoder().encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
 * console.log(lastEventStart(body)); // 18
 * ```
 */
export function lastEventStart(body: Uint8Array): number {
  return eventStartBefore(body, lastLineFeed(body));
}

/** The last line feed of `body` before the line ends that close it, or -1. */
function lastLineFeed(body: Uint8Array): number {
  let end = body.length;
  while (end > 0 && (body[end - 1] === LF || body[end - 1] === CR)) end--;
  return end > 0 ? body.lastIndexOf(LF, end - 1) : -1;
}

/** Where the event whose line feed is at `lf` starts ({@linkcode lastEventStart}). */
function eventStartBefore(body: Uint8Array, lf: number): number {
  while (lf >= 0) {
    let before = lf - 1;
    if (before >= 0 && body[before] === CR) before--;
    if (before >= 0 && body[before] === LF) return lf + 1;
    // (A negative start would count from the end.)
    lf = lf === 0 ? -1 : body.lastIndexOf(LF, lf - 1);
  }
  return 0;
}

function eventType(event: string, data: string): string {
  if (event !== "message") return event;
  try {
    const type = JSON.parse(data)?.type;
    return typeof type === "string" ? type : event;
  } catch {
    return event;
  }
}

function fullObservation(
  body: Uint8Array,
  completed: CompletedEvent | undefined,
): StreamObservation {
  const aggregator = new ResponseAggregator();
  const parser = new SseParser(
    (event, data) => aggregator.handle(event, data),
    { wants: wantsEvent },
  );
  parser.push(body);
  parser.finish();
  let result: AggregateResult | undefined;
  return {
    terminal: aggregator.terminal,
    get usage() {
      return aggregator.usage;
    },
    result: () => (result ??= aggregator.result()),
    pendingBytes: parser.pendingBytes,
    nextSequenceNumber: Math.max(
      (aggregator.lastSequenceNumber ?? -1) + 1,
      parser.eventCount,
    ),
    responseId: aggregator.responseId,
    completed,
  };
}

function hasOutput(result: AggregateResult): boolean {
  if (result.kind !== "response") return true;
  const output = result.response.output;
  return Array.isArray(output) && output.length > 0;
}

/**
 * Observes a finished SSE body: parses only its last event when that is a
 * terminal one, else the whole body. With `needOutput`, a completed Response
 * whose `output` is empty is rebuilt from the streamed items (whole parse).
 * With `keepOutput`, the completed event that ends the body is also handed
 * back as bytes when it can be kept unread, else the output is needed.
 *
 * @example
 * ```ts
 * import { observeStream } from "./observe.ts";
 * const body = new TextEncoder().encode(
 *   'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}],"usage":{"input_tokens":1}}}\n\n',
 * );
 * const seen = observeStream(body, { keepOutput: true });
 * console.log(seen.terminal); // "response.completed"
 * console.log(seen.completed?.responseId); // "resp_1"
 * ```
 */
export function observeStream(
  body: Uint8Array,
  options: ObserveOptions = {},
): StreamObservation {
  // The last event is closed by a blank line, else it was cut off: only a
  // whole parse knows what the body said.
  if (!endsWithBlankLine(body)) return fullObservation(body, undefined);
  // The last line feed is where the last event's data line starts, when it
  // has one line: found once, for the event's start and for the completed
  // event's check.
  const lastLf = lastLineFeed(body);
  const seen = observeLast(
    body,
    eventStartBefore(body, lastLf),
    lastLf,
    options,
  );
  return seen instanceof LastEventObservation
    ? seen
    : fullObservation(body, seen.completed);
}

/**
 * {@linkcode observeStream} of a body kept as the chunks it came in, joining
 * only what it reads: on the common path (the body ends with a terminal
 * event) the chunks that hold that last event, so the cost is the event's
 * size, not the stream's; all of them when the whole body must be parsed.
 * `last` is what was joined from the last event's start (the whole body when
 * it was all parsed): all a finished stream's usage is in it.
 *
 * @param chunks the body, in order (not changed)
 * @param total the sum of their lengths
 *
 * @example
 * ```ts
 * import { observeChunks } from "./observe.ts";
 * const encoder = new TextEncoder();
 * const { seen, last } = observeChunks([
 *   encoder.encode('event: response.created\ndata: {"type":"response.created"}\n\nevent: response.comp'),
 *   encoder.encode('leted\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":1}}}\n\n'),
 * ], 162);
 * console.log(seen.terminal); // "response.completed"
 * console.log(new TextDecoder().decode(last).startsWith("event: response.completed")); // true
 * ```
 */
export function observeChunks(
  chunks: readonly Uint8Array[],
  total: number,
  options: ObserveOptions = {},
): { seen: StreamObservation; last: Uint8Array } {
  let from = chunks.length;
  let size = 0;
  let joined: Uint8Array | undefined;
  let completed: CompletedEvent | undefined;
  while (from > 0) {
    // Each try joins at least twice as much as the last (and the four bytes
    // that say whether the body ends with a blank line): at most about twice
    // the event is copied before it is found.
    const enough = Math.max(size * 2, 4);
    while (from > 0 && size < enough) size += chunks[--from].byteLength;
    joined = joinBytes(chunks, from, size);
    if (!endsWithBlankLine(joined)) break;
    const lastLf = lastLineFeed(joined);
    const start = eventStartBefore(joined, lastLf);
    // 0: the blank line before the event is not in what was joined, unless
    // the event is the body's first or the chunk before ends with it.
    if (start === 0 && from > 0 && !startsEvent(chunks[from - 1], joined)) {
      continue;
    }
    const seen = observeLast(joined, start, lastLf, options);
    if (seen instanceof LastEventObservation) {
      return { seen, last: joined.subarray(start) };
    }
    completed = seen.completed;
    break;
  }
  // A failure, or an answer to rebuild: the whole body is parsed.
  const body = from === 0 && joined ? joined : joinBytes(chunks, 0, total);
  return { seen: fullObservation(body, completed), last: body };
}

/**
 * Whether `next` starts an event after `before`: `before` ends with a blank
 * line and `next` does not go on with line ends (which would be the body's
 * blank line instead).
 */
function startsEvent(before: Uint8Array, next: Uint8Array): boolean {
  return endsWithBlankLine(before) && next[0] !== LF && next[0] !== CR;
}

/**
 * The observation of a body that ends with a blank line, from its last event
 * (at `start`; its last line feed at `lastLf`) when that is terminal and says
 * all that is asked; else what the whole parse is to keep.
 */
function observeLast(
  body: Uint8Array,
  start: number,
  lastLf: number,
  options: ObserveOptions,
): LastEventObservation | { completed: CompletedEvent | undefined } {
  // Most answers end with `event: <terminal>`: recognised on the bytes, the
  // event is decoded and parsed only if its usage or Response is asked for.
  const seen = new LastEventObservation(
    body,
    start,
    terminalEventAt(body, start),
  );
  if (seen.terminal === undefined) {
    const last = seen.lastEvent();
    const type = last && eventType(last.event, last.data);
    if (!type || !TERMINAL_EVENTS.has(type)) return { completed: undefined };
    seen.terminal = type;
  } else if (options.keepOutput && seen.terminal === "response.completed") {
    seen.completed = completedAt(body, start, lastLf);
  }
  const needOutput = options.needOutput ||
    (options.keepOutput && seen.completed === undefined);
  if (needOutput && !hasOutput(seen.result())) {
    return { completed: seen.completed };
  }
  return seen;
}

/** A body whose last event is terminal: that event is all that is read. */
class LastEventObservation implements StreamObservation {
  terminal: string | undefined;
  readonly pendingBytes = 0;
  readonly responseId = undefined;
  completed: CompletedEvent | undefined = undefined;
  #body: Uint8Array;
  #start: number;
  #last: { event: string; data: string } | undefined;
  #aggregator: ResponseAggregator | undefined;
  #result: AggregateResult | undefined;
  /** What `usageAt` found (null: nothing). */
  #usage: Record<string, unknown> | null | undefined;

  constructor(body: Uint8Array, start: number, terminal: string | undefined) {
    this.#body = body;
    this.#start = start;
    this.terminal = terminal;
  }

  /** The last event, decoded (undefined when it has no data). */
  lastEvent(): { event: string; data: string } | undefined {
    if (!this.#last) {
      const parser = new SseParser((event, data) => {
        this.#last = { event, data };
      });
      parser.push(this.#body.subarray(this.#start));
      parser.finish();
    }
    return this.#last;
  }

  #aggregated(): ResponseAggregator {
    if (!this.#aggregator) {
      this.#aggregator = new ResponseAggregator();
      const last = this.lastEvent();
      if (last) this.#aggregator.handle(last.event, last.data);
    }
    return this.#aggregator;
  }

  get usage(): Record<string, unknown> | undefined {
    // Once the event is parsed anyway, its usage is there; else only the
    // usage object is cut out of the bytes (once), not the whole Response.
    if (this.#aggregator) return this.#aggregator.usage;
    this.#usage ??= usageAt(this.#body, this.#start) ?? null;
    return this.#usage ?? this.#aggregated().usage;
  }

  result(): AggregateResult {
    // Built once: the check of the output and the caller share it.
    this.#result ??= this.#aggregated().result();
    return this.#result;
  }

  get nextSequenceNumber(): number {
    return (this.#aggregated().lastSequenceNumber ?? -1) + 1;
  }
}

const USAGE_KEY = new TextEncoder().encode('"usage":{');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const decoder = new TextDecoder();

/**
 * The `usage` object of the terminal event at `start`, read without parsing
 * the Response around it (whose `output` holds the whole answer): the last
 * `"usage":{` of the event, outside any string, to its closing brace.
 * Undefined when it is not found or does not parse as an object with
 * `input_tokens` (the caller then parses the whole event).
 *
 * @example
 * ```ts
 * import { usageAt } from "./observe.ts";
 * const body = new TextEncoder().encode(
 *   'event: response.completed\ndata: {"type":"response.completed","response":{"output":[],"usage":{"input_tokens":1,"output_tokens":2}}}\n\n',
 * );
 * console.log(usageAt(body, 0)); // { input_tokens: 1, output_tokens: 2 }
 * ```
 */
export function usageAt(
  body: Uint8Array,
  start: number,
): Record<string, unknown> | undefined {
  // Found from its brace (braces are few in a Response, quotes are many).
  const keyBefore = USAGE_KEY.length - 1;
  let from = body.lastIndexOf(OPEN, body.length - 1);
  while (from - keyBefore >= start) {
    const at = from - keyBefore;
    if (matchesAt(body, at, USAGE_KEY) && body[at - 1] !== BACKSLASH) break;
    from = body.lastIndexOf(OPEN, from - 1);
  }
  if (from - keyBefore < start) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = from; i < body.length; i++) {
    const byte = body[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) {
      inString = true;
    } else if (byte === OPEN) {
      depth++;
    } else if (byte === CLOSE && --depth === 0) {
      try {
        const usage = JSON.parse(decoder.decode(body.subarray(from, i + 1)));
        return usage !== null && typeof usage === "object" &&
            typeof usage.input_tokens === "number"
          ? usage
          : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function matchesAt(body: Uint8Array, at: number, bytes: Uint8Array): boolean {
  if (at + bytes.length > body.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    if (body[at + i] !== bytes[i]) return false;
  }
  return true;
}

const DATA_LINE = new TextEncoder().encode("\ndata: ");
const RESPONSE_ID = new TextEncoder().encode('"response":{"id":"');
const OUTPUT_KEY = new TextEncoder().encode('"output":');
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Whether `data` holds `"output":[]`. Found from its `[]` (brackets are few
 * in a Response, quotes are many), then the key before it.
 */
function hasEmptyOutput(data: Uint8Array): boolean {
  let at = data.indexOf(OPEN_BRACKET, OUTPUT_KEY.length);
  while (at >= 0) {
    if (
      data[at + 1] === CLOSE_BRACKET &&
      matchesAt(data, at - OUTPUT_KEY.length, OUTPUT_KEY)
    ) {
      return true;
    }
    at = data.indexOf(OPEN_BRACKET, at + 1);
  }
  return false;
}

/** The terminal event of a completed stream, as bytes, for keeping it unread. */
export interface CompletedEvent {
  /** The event's data (the JSON of `{"type":"response.completed","response":{...}}`). */
  data: Uint8Array;
  /** The Response's id. */
  responseId: string;
}

/**
 * The `response.completed` event that ends `body`, as bytes, without
 * parsing it: its one `data:` line and the Response's id (the backend
 * writes `"response":{"id":"…"` first). Undefined when the body does not end
 * with that event in that form, when its `output` is empty (it must be
 * rebuilt from the streamed items) or when its data spans several lines.
 *
 * @example
 * ```ts
 * import { completedEventOf } from "./observe.ts";
 * const body = new TextEncoder().encode(
 *   'event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}\n\n',
 * );
 * console.log(completedEventOf(body)?.responseId); // "resp_1"
 * ```
 */
export function completedEventOf(body: Uint8Array): CompletedEvent | undefined {
  if (!endsWithBlankLine(body)) return undefined;
  const lastLf = lastLineFeed(body);
  const start = eventStartBefore(body, lastLf);
  if (terminalEventAt(body, start) !== "response.completed") return undefined;
  return completedAt(body, start, lastLf);
}

/**
 * {@linkcode completedEventOf} of a body that ends with a blank line, whose
 * last event, at `start`, is named `response.completed` and whose last line
 * feed (before the closing line ends) is at `lastLf`.
 */
function completedAt(
  body: Uint8Array,
  start: number,
  lastLf: number,
): CompletedEvent | undefined {
  const dataAt = indexOf(body, DATA_LINE, start);
  // The data is one line, the event's last, when the first data line's line
  // feed is the last one of the body (so several data lines are refused).
  if (dataAt < 0 || dataAt !== lastLf) return undefined;
  const from = dataAt + DATA_LINE.length;
  let end = body.length;
  // (The data line's own `data: ` stops this before `from`.)
  while (body[end - 1] === LF || body[end - 1] === CR) end--;
  const data = body.subarray(from, end);
  if (hasEmptyOutput(data)) return undefined;
  const idAt = indexOf(data, RESPONSE_ID, 0);
  if (idAt < 0) return undefined;
  const idFrom = idAt + RESPONSE_ID.length;
  const idEnd = data.indexOf(QUOTE, idFrom);
  if (idEnd <= idFrom || idEnd - idFrom > 200) return undefined;
  return { data, responseId: decodeShort(data, idFrom, idEnd) };
}

/**
 * `bytes[from, to)` as text: ASCII (a Response id) without the decoder, any
 * other byte through it.
 *
 * @example
 * ```ts
 * import { decodeShort } from "./observe.ts";
 * console.log(decodeShort(new TextEncoder().encode('"resp_1"'), 1, 7)); // "resp_1"
 * ```
 */
export function decodeShort(
  bytes: Uint8Array,
  from: number,
  to: number,
): string {
  let text = "";
  for (let i = from; i < to; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return decoder.decode(bytes.subarray(from, to));
    text += String.fromCharCode(byte);
  }
  return text;
}

function indexOf(body: Uint8Array, bytes: Uint8Array, from: number): number {
  let at = body.indexOf(bytes[0], from);
  while (at >= 0) {
    if (matchesAt(body, at, bytes)) return at;
    at = body.indexOf(bytes[0], at + 1);
  }
  return -1;
}

const TERMINAL_LINES: [string, Uint8Array][] = [...TERMINAL_EVENTS].map((
  name,
) => [name, new TextEncoder().encode(`event: ${name}\n`)]);

/** The terminal event named by the `event:` line at `start`, if it is one. */
function terminalEventAt(body: Uint8Array, start: number): string | undefined {
  for (const [name, line] of TERMINAL_LINES) {
    if (body.length - start < line.length) continue;
    let same = true;
    for (let i = 0; i < line.length; i++) {
      if (body[start + i] !== line[i]) {
        same = false;
        break;
      }
    }
    if (same) return name;
  }
  return undefined;
}

/**
 * Whether `body` (a whole stream or one chunk of it) ends with the blank line
 * that closes an SSE event.
 *
 * @example
 * ```ts
 * import { endsWithBlankLine } from "./observe.ts";
 * console.log(endsWithBlankLine(new TextEncoder().encode("data: 1\n\n"))); // true
 * ```
 */
export function endsWithBlankLine(body: Uint8Array): boolean {
  const n = body.length;
  return n >= 2 && body[n - 1] === LF &&
    (body[n - 2] === LF ||
      (n >= 4 && body[n - 2] === CR && body[n - 3] === LF));
}
