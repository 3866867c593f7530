/**
 * Cutting the backend's `codex.rate_limits` events out of a stream whose
 * bytes otherwise pass through untouched. Such an event describes the
 * seller's subscription (plan, used percents, credits): it is the seller's
 * data, like the `x-codex-*` headers, and never reaches a buyer; its data is
 * handed to the seller's own view instead.
 *
 * This runs on every chunk of every answer, so it does not parse the stream.
 * It looks for the 17 bytes `codex.rate_limits` by sampling one 4-byte word
 * every 14 bytes (each of the name's 14 words is known, so any occurrence
 * contains a sampled word that names its position), and only where the name
 * is found does it look at the framing around it. A chunk without the name
 * is returned as it is.
 *
 * What counts as the event: one that starts (just after a blank line, or at
 * the start of the stream) with the line `event: codex.rate_limits`, or,
 * without an `event:` line, with `data: {"type":"codex.rate_limits"` (the
 * backend's compact JSON; the space after `event:` or `data:` optional). The
 * name anywhere else (in a text delta, say) is text, and passes. An event
 * split across chunks is handled: the start of a possible one at the end of
 * a chunk (at most 32 bytes) is held back until the next chunk decides, and
 * the rest of a started one is dropped until its blank line. A stream that
 * ends inside one drops it.
 *
 * @module
 */

import { RATE_LIMITS_EVENT } from "./rate_limits.ts";
import { SseParser } from "./sse.ts";
import { joinBytes } from "../bytes.ts";

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** The event's name, the bytes looked for. */
const NAME = encoder.encode(RATE_LIMITS_EVENT);

/** How an event that is one starts, up to the end of its name, and what must follow the name. */
interface EventHead {
  /** The head: its first bytes and the name. */
  bytes: Uint8Array;
  /** Bytes before the name. */
  before: number;
  /** Bytes one of which must follow the name. */
  next: readonly number[];
}

function head(before: string, next: readonly number[]): EventHead {
  return {
    bytes: encoder.encode(`${before}${RATE_LIMITS_EVENT}`),
    before: before.length,
    next,
  };
}

const HEADS: readonly EventHead[] = [
  head("event: ", [LF, CR]),
  head("event:", [LF, CR]),
  head('data: {"type":"', [QUOTE]),
  head('data:{"type":"', [QUOTE]),
];

/** The longest head: more bytes than this at the end of a chunk, after its last line end, cannot start one. */
const LONGEST_HEAD = Math.max(...HEADS.map((head) => head.bytes.length));

/** Distance between sampled words: any occurrence of the name holds one whole. */
const STEP = NAME.length - 3;
/** The name's 4-byte words (little-endian), by slot, with their offsets in the name. */
const SLOT_BITS = 12;
const wordAt = new Int32Array(1 << SLOT_BITS);
const offsetAt = new Int8Array(1 << SLOT_BITS).fill(-1);
for (let offset = 0; offset + 4 <= NAME.length; offset++) {
  const word = NAME[offset] | (NAME[offset + 1] << 8) |
    (NAME[offset + 2] << 16) | (NAME[offset + 3] << 24);
  const slot = slotOf(word);
  // Each of the 14 words has a slot of its own (tests check every offset).
  wordAt[slot] = word;
  offsetAt[slot] = offset;
}

function slotOf(word: number): number {
  return Math.imul(word, 0x9e3779b1) >>> (32 - SLOT_BITS);
}

/** Where the name first occurs in `bytes` at or after `from`, or -1. */
function findName(bytes: Uint8Array, from: number): number {
  const length = bytes.length;
  if (length - from < NAME.length) return -1;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  const last = length - 4;
  for (let at = from + STEP - 1; at <= last; at += STEP) {
    const word = view.getInt32(at, true);
    // slotOf(word), inlined: this loop is the whole cost of a stream.
    const slot = Math.imul(word, 0x9e3779b1) >>> (32 - SLOT_BITS);
    if (wordAt[slot] === word && offsetAt[slot] >= 0) {
      const start = at - offsetAt[slot];
      if (start >= from && matchesAt(bytes, start, NAME)) return start;
    }
  }
  return -1;
}

function matchesAt(bytes: Uint8Array, at: number, part: Uint8Array): boolean {
  if (at < 0 || at + part.length > bytes.length) return false;
  for (let index = 0; index < part.length; index++) {
    if (bytes[at + index] !== part[index]) return false;
  }
  return true;
}

/**
 * The bytes being looked at: `bytes`, preceded in the stream by the three
 * bytes packed in `before` (the byte just before in the lowest 8 bits; line
 * ends at the start of the stream). Numbers, not an array: a typed-array
 * allocation per chunk would cost more than the rest of the work.
 */
interface Window {
  bytes: Uint8Array;
  before: number;
}

/** Three line ends: what precedes the start of a stream. */
const STREAM_START = (LF << 16) | (LF << 8) | LF;

function byteAt(window: Window, index: number): number {
  return index >= 0
    ? window.bytes[index]
    : (window.before >>> (-8 * (index + 1))) & 0xff;
}

/** Whether an event starts at `at`: the bytes before it end with a blank line. */
function startsEvent(window: Window, at: number): boolean {
  if (byteAt(window, at - 1) !== LF) return false;
  const second = byteAt(window, at - 2);
  return second === LF || (second === CR && byteAt(window, at - 3) === LF);
}

/** The three bytes before `at`, packed as in {@linkcode Window}. */
function bytesBefore(window: Window, at: number): number {
  return (byteAt(window, at - 3) << 16) | (byteAt(window, at - 2) << 8) |
    byteAt(window, at - 1);
}

/** Just after the first blank line that ends at or after `from`, or -1. */
function afterBlankLine(window: Window, from: number): number {
  const bytes = window.bytes;
  let lf = bytes.indexOf(LF, from);
  while (lf >= 0) {
    const previous = byteAt(window, lf - 1);
    if (
      previous === LF || (previous === CR && byteAt(window, lf - 2) === LF)
    ) {
      return lf + 1;
    }
    lf = bytes.indexOf(LF, lf + 1);
  }
  return -1;
}

/** Where the event whose name is at `at` starts, when it is a rate-limits event; else -1. */
function eventStart(window: Window, at: number): number {
  const bytes = window.bytes;
  const next = bytes[at + NAME.length];
  if (next === undefined) return -1;
  for (const head of HEADS) {
    const start = at - head.before;
    if (
      head.next.includes(next) && matchesAt(bytes, start, head.bytes) &&
      startsEvent(window, start)
    ) {
      return start;
    }
  }
  return -1;
}

/**
 * Where the end of `window.bytes` (from `from` on) begins what may still turn
 * out to be a rate-limits event: its last line starts an event and is, so
 * far, the beginning of a head. Else -1.
 */
function possibleStart(window: Window, from: number): number {
  const bytes = window.bytes;
  const length = bytes.length;
  const limit = Math.max(from, length - LONGEST_HEAD - 1);
  let start = -1;
  for (let index = length - 1; index >= limit; index--) {
    if (bytes[index] === LF) {
      start = index + 1;
      break;
    }
  }
  if (start < 0) {
    // No line end: the last line started before `limit`, too long for a
    // head, or at `from` (the start of the stream's bytes, or of the event
    // after a removed one).
    if (limit > from) return -1;
    start = from;
  }
  if (start === length || !startsEvent(window, start)) return -1;
  const size = length - start;
  for (const head of HEADS) {
    if (size <= head.bytes.length) {
      let same = true;
      for (let index = 0; index < size && same; index++) {
        same = bytes[start + index] === head.bytes[index];
      }
      if (same) return start;
    }
  }
  return -1;
}

/**
 * Removes `codex.rate_limits` events from an SSE byte stream, chunk by
 * chunk, and hands each removed event's data (its `data:` lines joined, as
 * the SSE parser gives them) to `onEvent`. What is not such an event passes
 * in order, unchanged; a chunk without one is returned as it is.
 *
 * An exception thrown by `onEvent` propagates out of
 * {@linkcode RateLimitsEventFilter.push} (the bytes of that push are then
 * lost to the caller); the filter goes on with the next push.
 *
 * @example
 * ```ts
 * import { RateLimitsEventFilter } from "./rate_limits_filter.ts";
 *
 * const seen: string[] = [];
 * const filter = new RateLimitsEventFilter((data) => seen.push(data));
 * const out = filter.push(new TextEncoder().encode(
 *   'event: codex.rate_limits\ndata: {"type":"codex.rate_limits","plan_type":"pro"}\n\n' +
 *     'event: response.created\ndata: {"type":"response.created"}\n\n',
 * ));
 * console.log(new TextDecoder().decode(out)); // the response.created event only
 * console.log(seen.length); // 1
 * ```
 */
export class RateLimitsEventFilter {
  readonly #onEvent: (data: string) => void;
  /** The last three bytes of the stream so far, packed as in {@linkcode Window}. */
  #last = STREAM_START;
  /** The start of a possible event held back, and the three bytes before it. */
  #held: Window | undefined;
  /** The bytes so far of an event being removed. */
  #removing: Uint8Array[] | undefined;

  /**
   * Creates a filter for one stream.
   *
   * @param onEvent receives the data of each removed event
   */
  constructor(onEvent: (data: string) => void) {
    this.#onEvent = onEvent;
  }

  /**
   * Takes the next bytes of the stream and returns those to pass on now:
   * `chunk` itself when it holds no part of a rate-limits event.
   *
   * @param chunk the next bytes of the stream (not kept, except what is held back)
   * @returns the bytes to pass on (possibly empty)
   */
  push(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    const before = this.#last;
    let window: Window = { bytes: chunk, before };
    this.#last = bytesBefore(window, chunk.length);
    let from = 0;
    let events: Uint8Array[] | undefined;
    if (this.#removing) {
      const end = afterBlankLine(window, 0);
      if (end < 0) {
        this.#removing.push(chunk.slice());
        return EMPTY;
      }
      this.#removing.push(chunk.subarray(0, end));
      events = [joinBytes(this.#removing)];
      this.#removing = undefined;
      from = end;
    } else if (this.#held) {
      window = {
        bytes: joinBytes([this.#held.bytes, chunk]),
        before: this.#held.before,
      };
      this.#held = undefined;
    }
    const bytes = window.bytes;
    const kept: Uint8Array[] = [];
    let keptFrom = from;
    for (let at = findName(bytes, from); at >= 0; at = findName(bytes, from)) {
      const start = eventStart(window, at);
      if (start < keptFrom) {
        from = at + 1;
        continue;
      }
      if (start > keptFrom) kept.push(bytes.subarray(keptFrom, start));
      const end = afterBlankLine(window, at + NAME.length);
      if (end < 0) {
        this.#removing = [bytes.slice(start)];
        keptFrom = from = bytes.length;
        break;
      }
      (events ??= []).push(bytes.subarray(start, end));
      keptFrom = from = end;
    }
    let keptTo = bytes.length;
    if (!this.#removing) {
      const start = possibleStart(window, keptFrom);
      if (start >= 0) {
        this.#held = {
          bytes: bytes.slice(start),
          before: bytesBefore(window, start),
        };
        keptTo = start;
      }
    }
    if (keptFrom === 0 && keptTo === bytes.length && kept.length === 0) {
      return bytes;
    }
    if (keptTo > keptFrom) kept.push(bytes.subarray(keptFrom, keptTo));
    const out = kept.length === 0 ? EMPTY : joinBytes(kept);
    // Read last: a reader that throws leaves the filter's state whole.
    if (events) { for (const event of events) this.#read(event); }
    return out;
  }

  #read(event: Uint8Array): void {
    let data: string | undefined;
    const parser = new SseParser((_name, text) => {
      data ??= text;
    });
    parser.push(event);
    parser.finish();
    if (data !== undefined) this.#onEvent(data);
  }
}
