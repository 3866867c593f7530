/**
 * An incremental Server-Sent Events parser that OBSERVES a byte stream: the
 * bytes themselves pass through the relay untouched, the parser only reports
 * the events a consumer asks for.
 *
 * It is on the hot path of every streamed answer, so it works on bytes: it
 * finds line ends with `Uint8Array.prototype.indexOf`, reads the `event:`
 * field, and decodes the `data:` text only of the events the consumer wants.
 * It never parses JSON.
 *
 * Framing follows the SSE specification (WHATWG HTML, "Parsing an event
 * stream") with two deliberate limits:
 *
 * - A line ends at `\n` or `\r\n`; a lone `\r` is not a line end (the Codex
 *   backend and every OpenAI-style server use `\n`).
 * - The `event:` line decides whether `data:` lines that FOLLOW it are kept.
 *   An event whose name changes, after some data lines, from an unwanted name
 *   to a wanted one is delivered with only the data lines seen under the
 *   wanted name. Servers write `event:` first; `data:` lines that come before
 *   any `event:` line are always kept.
 *
 * @module
 */

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const LOWER_D = 0x64;
const LOWER_E = 0x65;

/** Options of {@linkcode SseParser}. */
export interface SseParserOptions {
  /**
   * Which events to hand over, by name (default: every event). The data of
   * other events is never decoded. An event without an `event:` line (or with
   * an empty one) is named `"message"`, as in the SSE specification; the
   * consumer then finds the real type elsewhere (e.g. the JSON `type` field).
   */
  wants?: (event: string) => boolean;
}

/** A callback receiving one complete, wanted event. */
export type SseEventHandler = (event: string, data: string) => void;

/**
 * Incremental SSE parser. Feed it chunks with {@linkcode SseParser.push};
 * it calls `onEvent(name, data)` for every complete event the `wants` filter
 * accepts, `data` being its `data:` lines joined with `"\n"`. Comment lines
 * (starting with `:`) and fields other than `event` and `data` are ignored; an
 * event with no `data:` line is not an event (per the specification).
 *
 * An event is complete at its blank line (`\n\n` or `\r\n\r\n`). Chunks may
 * split the stream at any byte, including inside a multi-byte UTF-8 character
 * or between the two newlines. A truncated final event (no blank line before
 * the end) is NOT delivered: {@linkcode SseParser.pendingBytes} tells how many
 * bytes it held.
 *
 * An exception thrown by `onEvent` does not disturb parsing: the rest of the
 * chunk is parsed, then the first such exception is rethrown by `push`.
 *
 * @example
 * ```ts
 * import { SseParser } from "./sse.ts";
 *
 * const seen: string[] = [];
 * const parser = new SseParser((event, data) => seen.push(`${event} ${data}`), {
 *   wants: (event) => event === "response.completed",
 * });
 * const bytes = new TextEncoder().encode(
 *   'event: response.created\ndata: {}\n\nevent: response.completed\ndata: {"a":1}\n\n',
 * );
 * parser.push(bytes.subarray(0, 30));
 * parser.push(bytes.subarray(30));
 * parser.finish();
 * console.log(seen); // ['response.completed {"a":1}']
 * ```
 */
export class SseParser {
  #onEvent: SseEventHandler;
  #wants: ((event: string) => boolean) | undefined;
  #wantsCache = new Map<string, boolean>();
  #decoder = new TextDecoder("utf-8", { ignoreBOM: true });

  /** Pieces of a line not yet ended (copies). */
  #carry: Uint8Array[] = [];
  #carryLength = 0;
  /** The partial line is not needed: 1 = a comment, 2 = data of an unwanted event. */
  #carrySkip: 0 | 1 | 2 = 0;
  /** Bytes of the complete lines of the current event. */
  #eventBytes = 0;
  #firstLine = true;
  #finished = false;

  /** The current event's name once an `event:` line was seen. */
  #name: string | undefined;
  #wanted = false;
  #hasData = false;
  /** Decoded data lines (the name is known and wanted). */
  #data: string[] = [];
  /** Copied data lines seen before any `event:` line. */
  #raw: Uint8Array[] = [];

  #eventCount = 0;
  #lastNameBytes: Uint8Array | undefined;
  #lastName = "";
  #lastWanted = false;
  #failure: { error: unknown } | undefined;

  /**
   * Creates a parser.
   *
   * @param onEvent receives each complete, wanted event: its name and data
   * @param options the event filter
   */
  constructor(onEvent: SseEventHandler, options: SseParserOptions = {}) {
    this.#onEvent = onEvent;
    this.#wants = options.wants;
  }

  /** Bytes of an unterminated event held: 0 when the stream so far ends on an event boundary. */
  get pendingBytes(): number {
    return this.#eventBytes + this.#carryLength;
  }

  /** Complete events seen, wanted or not. */
  get eventCount(): number {
    return this.#eventCount;
  }

  /**
   * Parses the next chunk of the stream. The chunk is not kept: the parser
   * copies what it must hold.
   *
   * @param chunk the next bytes of the stream
   */
  push(chunk: Uint8Array): void {
    if (this.#finished) {
      throw new Error("Expected push before finish, found a push after finish");
    }
    const length = chunk.length;
    let position = 0;
    if (this.#carryLength > 0) {
      const end = chunk.indexOf(LF);
      if (end < 0) {
        this.#hold(chunk, 0);
        return this.#rethrow();
      }
      this.#completeCarry(chunk, end);
      position = end + 1;
    }
    while (position < length) {
      const end = chunk.indexOf(LF, position);
      if (end < 0) {
        this.#hold(chunk, position);
        break;
      }
      this.#eventBytes += end - position + 1;
      this.#line(chunk, position, end);
      position = end + 1;
    }
    this.#rethrow();
  }

  /**
   * Ends the stream. A final event without its blank line is dropped (not
   * delivered); {@linkcode SseParser.pendingBytes} keeps its size. Pushing
   * after `finish` throws.
   */
  finish(): void {
    this.#finished = true;
    this.#carry = [];
    this.#data = [];
    this.#raw = [];
  }

  /** Keeps the unterminated line starting at `from`. */
  #hold(chunk: Uint8Array, from: number): void {
    const size = chunk.length - from;
    if (this.#carryLength === 0) this.#carrySkip = this.#skippable(chunk, from);
    if (this.#carrySkip === 0) this.#carry.push(chunk.slice(from));
    this.#carryLength += size;
  }

  /** Whether a line starting at `from` can be dropped unread, from its first bytes. */
  #skippable(chunk: Uint8Array, from: number): 0 | 1 | 2 {
    if (this.#firstLine) return 0;
    if (chunk[from] === COLON) return 1;
    if (
      this.#name !== undefined && !this.#wanted && chunk.length - from >= 5 &&
      chunk[from] === LOWER_D && chunk[from + 1] === 0x61 &&
      chunk[from + 2] === 0x74 && chunk[from + 3] === 0x61 &&
      chunk[from + 4] === COLON
    ) {
      return 2;
    }
    return 0;
  }

  /** Ends the held line with `chunk[0, end)` and parses it. */
  #completeCarry(chunk: Uint8Array, end: number): void {
    const skip = this.#carrySkip;
    this.#eventBytes += this.#carryLength + end + 1;
    if (skip !== 0) {
      if (skip === 2) this.#hasData = true;
      this.#carry = [];
      this.#carryLength = 0;
      this.#carrySkip = 0;
      return;
    }
    let line: Uint8Array;
    if (this.#carry.length === 1 && end === 0) {
      line = this.#carry[0];
    } else {
      line = new Uint8Array(this.#carryLength + end);
      let offset = 0;
      for (const piece of this.#carry) {
        line.set(piece, offset);
        offset += piece.length;
      }
      line.set(chunk.subarray(0, end), offset);
    }
    this.#carry = [];
    this.#carryLength = 0;
    this.#line(line, 0, line.length);
  }

  /** Parses one line `bytes[start, end)`, its `\n` excluded. */
  #line(bytes: Uint8Array, start: number, end: number): void {
    if (end > start && bytes[end - 1] === CR) end--;
    if (this.#firstLine) {
      this.#firstLine = false;
      if (
        end - start >= 3 && bytes[start] === 0xef &&
        bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf
      ) {
        start += 3;
      }
    }
    if (start === end) {
      this.#eventBytes = 0;
      this.#dispatch();
      return;
    }
    const first = bytes[start];
    if (first === LOWER_D) {
      if (
        end - start >= 4 && bytes[start + 1] === 0x61 &&
        bytes[start + 2] === 0x74 && bytes[start + 3] === 0x61
      ) {
        const value = valueStart(bytes, start + 4, end);
        if (value >= 0) this.#dataLine(bytes, value, end);
      }
    } else if (first === LOWER_E) {
      if (
        end - start >= 5 && bytes[start + 1] === 0x76 &&
        bytes[start + 2] === 0x65 && bytes[start + 3] === 0x6e &&
        bytes[start + 4] === 0x74
      ) {
        const value = valueStart(bytes, start + 5, end);
        if (value >= 0) this.#eventLine(bytes, value, end);
      }
    }
  }

  #dataLine(bytes: Uint8Array, start: number, end: number): void {
    this.#hasData = true;
    if (this.#name === undefined) {
      this.#raw.push(bytes.slice(start, end));
    } else if (this.#wanted) {
      this.#data.push(
        start === end ? "" : this.#decoder.decode(bytes.subarray(start, end)),
      );
    }
  }

  #eventLine(bytes: Uint8Array, start: number, end: number): void {
    if (this.#sameAsLastName(bytes, start, end)) {
      this.#name = this.#lastName;
      this.#wanted = this.#lastWanted;
    } else {
      const name = start === end
        ? "message"
        : this.#decodeName(bytes, start, end);
      this.#name = name;
      this.#wanted = this.#isWanted(name);
      if (end - start <= 128) {
        this.#lastNameBytes = bytes.slice(start, end);
        this.#lastName = name;
        this.#lastWanted = this.#wanted;
      }
    }
    if (this.#raw.length > 0) {
      if (this.#wanted) {
        for (const piece of this.#raw) this.#data.push(this.#decode(piece));
      }
      this.#raw = [];
    }
  }

  #dispatch(): void {
    if (!this.#hasData) {
      this.#reset();
      return;
    }
    this.#eventCount++;
    let name = this.#name;
    let wanted = this.#wanted;
    if (name === undefined) {
      name = "message";
      wanted = this.#isWanted(name);
      if (wanted) {
        for (const piece of this.#raw) this.#data.push(this.#decode(piece));
      }
    }
    if (!wanted) {
      this.#reset();
      return;
    }
    const data = this.#data.length === 1
      ? this.#data[0]
      : this.#data.join("\n");
    this.#reset();
    try {
      this.#onEvent(name, data);
    } catch (error) {
      this.#failure ??= { error };
    }
  }

  #reset(): void {
    this.#name = undefined;
    this.#wanted = false;
    this.#hasData = false;
    if (this.#data.length > 0) this.#data = [];
    if (this.#raw.length > 0) this.#raw = [];
  }

  #rethrow(): void {
    const failure = this.#failure;
    if (failure) {
      this.#failure = undefined;
      throw failure.error;
    }
  }

  #isWanted(name: string): boolean {
    const wants = this.#wants;
    if (!wants) return true;
    let wanted = this.#wantsCache.get(name);
    if (wanted === undefined) {
      wanted = wants(name);
      if (this.#wantsCache.size < 256) this.#wantsCache.set(name, wanted);
    }
    return wanted;
  }

  #decode(bytes: Uint8Array): string {
    return bytes.length === 0 ? "" : this.#decoder.decode(bytes);
  }

  /** Consecutive events mostly share a name: compare bytes rather than decode. */
  #sameAsLastName(bytes: Uint8Array, start: number, end: number): boolean {
    const last = this.#lastNameBytes;
    if (last === undefined || last.length !== end - start) return false;
    for (let index = last.length - 1; index >= 0; index--) {
      if (last[index] !== bytes[start + index]) return false;
    }
    return true;
  }

  #decodeName(bytes: Uint8Array, start: number, end: number): string {
    let name = "";
    for (let index = start; index < end; index++) {
      const byte = bytes[index];
      if (byte >= 0x80) return this.#decoder.decode(bytes.subarray(start, end));
      name += String.fromCharCode(byte);
    }
    return name;
  }
}

/**
 * Where the value of a field starts, given the index just after a field name
 * that matched: after the colon and one optional space. A line holding only
 * the name has an empty value. -1 when the name continues (`database:`).
 */
function valueStart(bytes: Uint8Array, after: number, end: number): number {
  if (after === end) return end;
  if (bytes[after] !== COLON) return -1;
  const value = after + 1;
  return value < end && bytes[value] === SPACE ? value + 1 : value;
}
