/**
 * Responses SSE events as Chat Completions stream chunks, one event at a
 * time: {@linkcode ChatStreamTranslator} turns each backend event into the
 * `data: {chat.completion.chunk}` lines to send at once, never holding
 * anything back.
 *
 * What a Chat Completions buyer receives:
 *
 * 1. a first chunk with `delta: {role: "assistant", content: "", refusal: null}`
 *    (at `response.created`, or with the first output when that event is
 *    missing);
 * 2. `delta.content` per `response.output_text.delta`, `delta.refusal` per
 *    `response.refusal.delta`;
 * 3. per function call, a tool-call delta at `response.output_item.added`
 *    (`index` counting calls from 0, `id` = `call_id`, `type: "function"`,
 *    `function: {name, arguments: ""}`), then `function.arguments` deltas
 *    with that `index` per `response.function_call_arguments.delta`;
 * 4. at `response.completed` / `response.incomplete`: a chunk with an empty
 *    delta and the `finish_reason`, the usage chunk (`choices: []`, `usage`)
 *    when `includeUsage`, then `data: [DONE]`;
 * 5. at `response.failed`, an `error` event, or a stream that ends without a
 *    terminal event ({@linkcode ChatStreamTranslator.finish}): an error chunk
 *    `data: {"error":{"message","type","code",...}}` (what the OpenAI SDKs
 *    read from a chunk: they throw an `APIError` with that message, code and
 *    type), then `data: [DONE]`. The error is the one the Responses path
 *    gives for the same event (`ResponseAggregator`).
 *
 * Every chunk shares `id` (`chatcmpl-` + the Response id), `object:
 * "chat.completion.chunk"`, `created`, `model` and `system_fingerprint: null`;
 * that prefix is serialised once per stream.
 *
 * Cost: this runs once per event of every streamed Chat Completions answer.
 * A text delta in the backend's own framing, whole in one upstream chunk,
 * takes a fast path on the bytes: its `delta` JSON string is copied between
 * the pre-encoded head and tail of a content chunk, with no decoding, no
 * `JSON.parse` and no encoding (the frame's head compared, and its line end
 * found, four bytes at a time; one content chunk's tail and the next one's
 * head written as one piece; a short delta copied byte by byte, not cut out
 * as a view: 1.3 ms -> 0.95 ms per 976 KB stream of 5,000 deltas, Deno).
 * Every other event goes through the incremental SSE parser
 * (`../codex/sse.ts`) and `JSON.parse`, and gives the same chunks. The bytes
 * returned by one call are one array, cut from a slab of this stream's own
 * (a typed-array allocation costs more than translating a delta); earlier
 * arrays are never written again.
 *
 * @module
 */

import { ResponseAggregator, TERMINAL_EVENTS } from "../codex/aggregate.ts";
import { SseParser } from "../codex/sse.ts";
import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";
import {
  type ChatUsage,
  chatUsage,
  completionId,
  finishReason,
} from "./chat_response.ts";

/** Options of {@linkcode ChatStreamTranslator}. */
export interface ChatStreamOptions {
  /** The `model` every chunk reports (usually what the buyer asked for). */
  model: string;
  /** Send the usage chunk before `[DONE]` (`stream_options.include_usage`). */
  includeUsage: boolean;
  /** `created` of every chunk, unix seconds (default: the Response's `created_at`, else now). */
  created?: number;
  /** Clock in ms since the epoch, for usage-limit errors (default `Date.now`). */
  now?: () => number;
}

/** The events the translator reads; the SSE parser decodes no others. */
const TRANSLATED_EVENTS: ReadonlySet<string> = new Set([
  ...TERMINAL_EVENTS,
  "response.created",
  "response.output_item.added",
  "response.output_text.delta",
  "response.refusal.delta",
  "response.function_call_arguments.delta",
  "response.function_call_arguments.done",
  // Events without an `event:` line: the type is in the JSON.
  "message",
]);

/**
 * The event filter of the translator, for an SSE parser that feeds
 * {@linkcode ChatStreamTranslator.handle}: the events it translates and
 * `"message"` (events without an `event:` line).
 *
 * @param event the SSE event name
 * @returns whether the translator needs the event's data
 *
 * @example
 * ```ts
 * import { wantsChatEvent } from "./chat_stream.ts";
 *
 * console.log(wantsChatEvent("response.output_text.delta")); // true
 * console.log(wantsChatEvent("response.content_part.added")); // false
 * ```
 */
export function wantsChatEvent(event: string): boolean {
  return TRANSLATED_EVENTS.has(event);
}

/** The last line of every Chat Completions stream. */
export const DONE_LINE = "data: [DONE]\n\n";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** How a text delta frame of the backend starts, up to its JSON. */
const DELTA_FRAME_HEAD = encoder.encode(
  "event: response.output_text.delta\ndata: ",
);
/** The head's whole 4-byte words, little-endian. */
const HEAD_WORDS = new Int32Array(Math.floor(DELTA_FRAME_HEAD.length / 4));
{
  const view = new DataView(DELTA_FRAME_HEAD.buffer);
  for (let index = 0; index < HEAD_WORDS.length; index++) {
    HEAD_WORDS[index] = view.getInt32(4 * index, true);
  }
}

/** The first line feed of `chunk` at or after `from`, or -1, a word at a time. */
function lineFeedAt(chunk: Uint8Array, view: DataView, from: number): number {
  const length = chunk.length;
  let at = from;
  for (; at + 4 <= length; at += 4) {
    const x = view.getInt32(at, true) ^ 0x0a0a0a0a;
    if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
  }
  for (; at < length; at++) if (chunk[at] === LF) return at;
  return -1;
}

/** Bytes of `"delta":"` plus the shortest string value, `"`. */
const DELTA_KEY_LENGTH = 10;
/** Size of the slabs chunks are cut from (see `#allocate`). */
const SLAB_BYTES = 16_384;
const FIRST_SLAB_BYTES = 2_048;
/** Pieces of at most this many bytes are copied byte by byte, not with `set`. */
const SHORT_PIECE = 32;
const OPEN_TAIL = ',"logprobs":null,"finish_reason":null}]}\n\n';
const ROLE_DELTA = '{"role":"assistant","content":"","refusal":null}';

/** One function call of the answer. */
interface ToolCallState {
  /** Its Chat Completions `index`. */
  index: number;
  /** Whether some of its arguments were sent. */
  sentArguments: boolean;
}

/**
 * Translates one backend answer (Responses SSE) into a Chat Completions
 * stream. Feed it raw upstream bytes with {@linkcode ChatStreamTranslator.push},
 * or parsed events with {@linkcode ChatStreamTranslator.handle}; each call
 * returns the bytes to send now (possibly none). End with
 * {@linkcode ChatStreamTranslator.finish}. Events after the terminal one are
 * ignored.
 *
 * For billing, {@linkcode ChatStreamTranslator.billingBody} gives the usage
 * chunk (also when the buyer did not get it: no `include_usage`, or a
 * failure): a body from which AntSeed's node bills the usage.
 *
 * @example
 * ```ts
 * import { ChatStreamTranslator } from "./chat_stream.ts";
 *
 * const translator = new ChatStreamTranslator({ model: "gpt-5.4", includeUsage: false, created: 1 });
 * const decoder = new TextDecoder();
 * const text = decoder.decode(translator.push(new TextEncoder().encode(
 *   'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1"}}\n\n' +
 *     'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","output_index":0,"delta":"Hi"}\n\n',
 * )));
 * console.log(text.includes('"delta":{"content":"Hi"}')); // true
 * ```
 */
export class ChatStreamTranslator {
  readonly #model: string;
  readonly #includeUsage: boolean;
  readonly #created: number | undefined;
  readonly #now: () => number;

  #parser: SseParser | undefined;
  /** Text output of the events of one `push`, not yet in `#pieces`. */
  #pushed = "";
  /**
   * Byte output of one `push`, in order: piece i is bytes `#starts[i]` to
   * `#ends[i]` of `#pieces[i]` (a range of an upstream chunk is not cut out
   * as a view: making one costs more than copying a short delta).
   */
  #pieces: Uint8Array[] = [];
  #starts: number[] = [];
  #ends: number[] = [];
  #piecesLength = 0;
  #slab = EMPTY;
  #slabUsed = 0;

  /** `data: {"id":...,"choices":` once the first chunk is made. */
  #prefix: string | undefined;
  /** `#prefix` + `[{"index":0,"delta":`. */
  #choiceHead = "";
  /** `#choiceHead` + `{"content":`, as bytes. */
  #contentHead = EMPTY;
  /** `}` + the open choice's tail, as bytes. */
  #contentTail = EMPTY;
  /** `#contentTail` + `#contentHead`. */
  #contentTailHead = EMPTY;
  /** Whether the last content chunk's tail is still to be added to the output. */
  #tailPending = false;
  #started = false;
  #ended = false;

  #responseId: string | undefined;
  #createdAt: number | undefined;
  /** The `created` of every chunk, once the first chunk is made. */
  #createdUsed: number | undefined;
  #terminal: string | undefined;
  #usage: Record<string, unknown> | undefined;
  #error: RelayError | undefined;

  #calls = new Map<number, ToolCallState>();
  #callsByItem = new Map<string, ToolCallState>();
  #callCount = 0;

  /**
   * Creates a translator for one answer.
   *
   * @param options the model to report, whether to send usage, the creation time and clock
   */
  constructor(options: ChatStreamOptions) {
    this.#model = options.model;
    this.#includeUsage = options.includeUsage;
    this.#created = options.created;
    this.#now = options.now ?? Date.now;
  }

  /** The Responses terminal event seen, if any (`response.completed`, ...). */
  get terminal(): string | undefined {
    return this.#terminal;
  }

  /** Whether the stream is over: `[DONE]` was produced. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The Responses `usage` of the terminal event, when it had one. */
  get usage(): Record<string, unknown> | undefined {
    return this.#usage;
  }

  /** {@linkcode ChatStreamTranslator.usage} as Chat Completions usage. */
  get chatUsage(): ChatUsage | undefined {
    return chatUsage(this.#usage);
  }

  /** The error sent to the buyer, when the stream ended in one. */
  get error(): RelayError | undefined {
    return this.#error;
  }

  /** The Response id, once `response.created` (or the terminal event) named it. */
  get responseId(): string | undefined {
    return this.#responseId;
  }

  /**
   * Takes the next raw bytes of the upstream SSE body (cut anywhere) and
   * returns the chunks of every event they complete. Comment lines of the
   * upstream are not passed on (see {@linkcode ChatStreamTranslator.comment}).
   *
   * @param chunk the next upstream bytes
   * @returns the bytes to send to the buyer now (empty when none)
   */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#ended) return EMPTY;
    const parser = this.#parser ??= new SseParser(
      (event, data) => {
        this.#pushed += this.#translate(event, data);
      },
      { wants: wantsChatEvent },
    );
    const length = chunk.length;
    // Not kept past this call: it would hold the chunk's whole buffer.
    const view = new DataView(chunk.buffer, chunk.byteOffset, length);
    let position = 0;
    while (position < length && !this.#ended) {
      let end: number;
      if (parser.pendingBytes > 0) {
        // Inside an event the parser holds: hand it lines up to its end.
        const lf = chunk.indexOf(LF, position);
        end = lf < 0 ? length : lf + 1;
      } else {
        // At an event boundary: a text delta takes the fast path, any
        // other event goes whole to the parser.
        if (this.#started) {
          const next = this.#fastDelta(chunk, view, position);
          if (next > 0) {
            position = next;
            continue;
          }
        }
        end = eventEnd(chunk, position);
      }
      parser.push(chunk.subarray(position, end));
      position = end;
    }
    return this.#takeOutput();
  }

  /**
   * Takes one parsed event (its SSE name, `"message"` when it had none, and
   * its data) and returns its chunks.
   *
   * @param event the SSE event name
   * @param data the event's data (JSON text)
   * @returns the bytes to send to the buyer now (empty when none)
   */
  handle(event: string, data: string): Uint8Array {
    return encode(this.#translate(event, data));
  }

  /**
   * An SSE comment line to send as is, e.g. a keep-alive (`: keep-alive`).
   * Line breaks in `text` become spaces, so the comment stays one line.
   *
   * @param text the comment (default `keep-alive`)
   * @returns the bytes of `: <text>\n\n`
   */
  comment(text = "keep-alive"): Uint8Array {
    return encoder.encode(`: ${text.replace(/[\r\n]/g, " ")}\n\n`);
  }

  /**
   * Ends the stream. When no terminal event came, returns an error chunk
   * (`failure`, default 502 `upstream_stream_incomplete`) and `[DONE]`;
   * otherwise nothing.
   *
   * @param failure why the upstream stream ended early (a broken stream, an idle timeout)
   * @returns the bytes to send to the buyer now (empty when none)
   */
  finish(failure?: RelayError): Uint8Array {
    this.#parser?.finish();
    if (this.#ended) return EMPTY;
    return encode(
      this.#fail(
        failure ??
          new RelayError(
            502,
            "upstream_stream_incomplete",
            "The upstream stream closed before response.completed",
          ),
      ),
    );
  }

  /**
   * A new translator for the same answer, with this one's options and the
   * `created` it gave its chunks: fed the same upstream bytes, it gives the
   * same chunks (but for the seconds of a usage limit's "try again", read
   * from the clock). The relay translates a stream again only to bill one
   * that reported no usage, instead of keeping every chunk it sent.
   *
   * @returns a translator that has seen nothing yet
   */
  again(): ChatStreamTranslator {
    return new ChatStreamTranslator({
      model: this.#model,
      includeUsage: this.#includeUsage,
      created: this.#createdUsed ?? this.#created,
      now: this.#now,
    });
  }

  /**
   * The body to bill the stream from: the usage chunk, whether the buyer got
   * it (`includeUsage`) or not, once the backend reported usage; empty
   * otherwise. AntSeed's node bills a started stream from the body its
   * provider resolves with, and the buyer never receives that body.
   *
   * @returns the bytes of the usage chunk, or empty
   */
  billingBody(): Uint8Array {
    if (this.#usage === undefined) return EMPTY;
    return encoder.encode(this.#usageChunk());
  }

  /**
   * The text delta event at `start`, translated without decoding: its
   * `delta` JSON string is copied as it is between the pre-encoded head and
   * tail of a content chunk. Only for the backend's own framing
   * (`event: response.output_text.delta\ndata: {...}\n\n` whole in this
   * chunk, `\n` line ends, compact JSON); anything else returns 0 and goes
   * to the parser, which gives the same chunk.
   *
   * @returns where the next event starts, or 0
   */
  #fastDelta(chunk: Uint8Array, view: DataView, start: number): number {
    const length = chunk.length;
    const data = start + DELTA_FRAME_HEAD.length;
    if (length <= data) return 0;
    for (let index = 0; index < HEAD_WORDS.length; index++) {
      if (view.getInt32(start + 4 * index, true) !== HEAD_WORDS[index]) {
        return 0;
      }
    }
    for (
      let index = 4 * HEAD_WORDS.length;
      index < DELTA_FRAME_HEAD.length;
      index++
    ) {
      if (chunk[start + index] !== DELTA_FRAME_HEAD[index]) return 0;
    }
    const lf = lineFeedAt(chunk, view, data);
    if (
      lf < 0 || lf + 1 >= length || chunk[lf + 1] !== LF ||
      chunk[lf - 1] === CR
    ) {
      return 0;
    }
    // `"delta":"` is the event's `delta` key: a quote inside a JSON string is
    // escaped, so these bytes are a key `delta`, and the event has no other.
    // It sits near the end of the line: search backwards.
    let open = -1;
    for (let at = lf - DELTA_KEY_LENGTH; at >= data; at--) {
      if (
        chunk[at] === QUOTE && chunk[at + 6] === QUOTE &&
        chunk[at + 8] === QUOTE && chunk[at + 1] === 0x64 &&
        chunk[at + 2] === 0x65 && chunk[at + 3] === 0x6c &&
        chunk[at + 4] === 0x74 && chunk[at + 5] === 0x61 &&
        chunk[at + 7] === 0x3a
      ) {
        open = at + 8;
        break;
      }
    }
    if (open < 0) return 0;
    let close = -1;
    for (let at = open + 1; at < lf; at++) {
      const byte = chunk[at];
      if (byte === QUOTE) {
        close = at;
        break;
      }
      if (byte === BACKSLASH) at++;
    }
    if (close < 0) return 0;
    if (close > open + 1) {
      // The previous chunk's tail and this one's head are one piece.
      const head = this.#tailPending && this.#pushed === ""
        ? this.#contentTailHead
        : (this.#flushText(), this.#contentHead);
      this.#piece(head, 0, head.length);
      this.#piece(chunk, open, close + 1);
      this.#tailPending = true;
    }
    return lf + 2;
  }

  #piece(bytes: Uint8Array, start: number, end: number): void {
    this.#pieces.push(bytes);
    this.#starts.push(start);
    this.#ends.push(end);
    this.#piecesLength += end - start;
  }

  #flushText(): void {
    if (this.#tailPending) {
      this.#tailPending = false;
      this.#piece(this.#contentTail, 0, this.#contentTail.length);
    }
    if (this.#pushed !== "") {
      const text = encoder.encode(this.#pushed);
      this.#piece(text, 0, text.length);
      this.#pushed = "";
    }
  }

  /** The output of one `push`, as one new array. */
  #takeOutput(): Uint8Array {
    this.#flushText();
    const pieces = this.#pieces;
    const count = pieces.length;
    if (count === 0) return EMPTY;
    const starts = this.#starts;
    const ends = this.#ends;
    let out: Uint8Array;
    if (count === 1 && starts[0] === 0 && ends[0] === pieces[0].length) {
      out = pieces[0];
    } else {
      out = this.#allocate(this.#piecesLength);
      let offset = 0;
      for (let index = 0; index < count; index++) {
        const piece = pieces[index];
        const start = starts[index];
        const end = ends[index];
        if (end - start <= SHORT_PIECE) {
          for (let at = start; at < end; at++) out[offset++] = piece[at];
        } else {
          out.set(
            start === 0 && end === piece.length
              ? piece
              : piece.subarray(start, end),
            offset,
          );
          offset += end - start;
        }
      }
    }
    pieces.length = 0;
    starts.length = 0;
    ends.length = 0;
    this.#piecesLength = 0;
    return out;
  }

  /**
   * A new array of `size` bytes: a view of this stream's current slab, so
   * that the many small chunks of a stream cost one allocation per slab, not
   * one each (an allocation costs more than translating a delta). The slab
   * holds only this stream's output.
   */
  #allocate(size: number): Uint8Array {
    if (size > SLAB_BYTES / 4) return new Uint8Array(size);
    if (this.#slabUsed + size > this.#slab.length) {
      // The first slab is small: most streams are short.
      this.#slab = new Uint8Array(
        this.#slab.length === 0 && size <= FIRST_SLAB_BYTES
          ? FIRST_SLAB_BYTES
          : SLAB_BYTES,
      );
      this.#slabUsed = 0;
    }
    const start = this.#slabUsed;
    this.#slabUsed += size;
    return this.#slab.subarray(start, this.#slabUsed);
  }

  #translate(event: string, data: string): string {
    if (this.#ended) return "";
    let payload: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(data);
      if (isRecord(parsed)) payload = parsed;
    } catch {
      // Unreadable: only matters for a terminal event, below.
    }
    let type = event;
    if (event === "message") {
      if (typeof payload?.type !== "string") return "";
      type = payload.type;
    }
    if (TERMINAL_EVENTS.has(type)) {
      return this.#terminalEvent(type, payload, event, data);
    }
    if (!payload) return "";
    switch (type) {
      case "response.output_text.delta": {
        const delta = payload.delta;
        if (typeof delta !== "string" || delta === "") return "";
        return `${this.#start()}${this.#choiceHead}{"content":${
          JSON.stringify(delta)
        }}${OPEN_TAIL}`;
      }
      case "response.function_call_arguments.delta": {
        const delta = payload.delta;
        const call = this.#callOf(payload);
        if (!call || typeof delta !== "string" || delta === "") return "";
        call.sentArguments = true;
        return this.#argumentsChunk(call, delta);
      }
      case "response.output_item.added":
        return this.#itemAdded(payload);
      case "response.created": {
        const response = payload.response;
        if (isRecord(response)) {
          if (typeof response.id === "string") {
            this.#responseId ??= response.id;
          }
          if (typeof response.created_at === "number") {
            this.#createdAt ??= response.created_at;
          }
        }
        return this.#start();
      }
      case "response.refusal.delta": {
        const delta = payload.delta;
        if (typeof delta !== "string" || delta === "") return "";
        return `${this.#start()}${this.#choiceHead}{"refusal":${
          JSON.stringify(delta)
        }}${OPEN_TAIL}`;
      }
      case "response.function_call_arguments.done": {
        // Arguments that came whole, with no delta before.
        const call = this.#callOf(payload);
        const args = payload.arguments;
        if (
          !call || call.sentArguments || typeof args !== "string" || args === ""
        ) {
          return "";
        }
        call.sentArguments = true;
        return this.#argumentsChunk(call, args);
      }
    }
    return "";
  }

  #itemAdded(payload: Record<string, unknown>): string {
    const item = payload.item;
    if (!isRecord(item) || item.type !== "function_call") return "";
    const call: ToolCallState = {
      index: this.#callCount++,
      sentArguments: false,
    };
    if (typeof payload.output_index === "number") {
      this.#calls.set(payload.output_index, call);
    }
    if (typeof item.id === "string") this.#callsByItem.set(item.id, call);
    const args = typeof item.arguments === "string" ? item.arguments : "";
    if (args !== "") call.sentArguments = true;
    const delta = JSON.stringify({
      tool_calls: [{
        index: call.index,
        id: typeof item.call_id === "string" ? item.call_id : "",
        type: "function",
        function: {
          name: typeof item.name === "string" ? item.name : "",
          arguments: args,
        },
      }],
    });
    return `${this.#start()}${this.#choiceHead}${delta}${OPEN_TAIL}`;
  }

  #callOf(payload: Record<string, unknown>): ToolCallState | undefined {
    const index = payload.output_index;
    const byIndex = typeof index === "number"
      ? this.#calls.get(index)
      : undefined;
    if (byIndex) return byIndex;
    return typeof payload.item_id === "string"
      ? this.#callsByItem.get(payload.item_id)
      : undefined;
  }

  #argumentsChunk(call: ToolCallState, args: string): string {
    return `${this.#choiceHead}{"tool_calls":[{"index":${call.index},"function":{"arguments":${
      JSON.stringify(args)
    }}}]}${OPEN_TAIL}`;
  }

  #terminalEvent(
    type: string,
    payload: Record<string, unknown> | undefined,
    event: string,
    data: string,
  ): string {
    this.#terminal = type;
    const response = payload?.response;
    if (isRecord(response)) {
      if (isRecord(response.usage)) this.#usage = response.usage;
      if (typeof response.id === "string") this.#responseId ??= response.id;
    }
    if (
      (type === "response.completed" || type === "response.incomplete") &&
      isRecord(response)
    ) {
      const status = type === "response.incomplete"
        ? "incomplete"
        : response.status;
      const reason = finishReason(
        { status, incomplete_details: response.incomplete_details },
        this.#callCount > 0,
      );
      let out =
        `${this.#start()}${this.#choiceHead}{},"logprobs":null,"finish_reason":"${reason}"}]}\n\n`;
      if (this.#includeUsage && this.#usage !== undefined) {
        out += this.#usageChunk();
      }
      this.#ended = true;
      return out + DONE_LINE;
    }
    // The same error the Responses path gives for this event.
    const aggregator = new ResponseAggregator({ now: this.#now });
    aggregator.handle(event, data);
    const result = aggregator.result();
    return this.#fail(
      result.kind === "error" ? result.error : new RelayError(
        502,
        "upstream_bad_event",
        `Expected a response object in the upstream ${type} event, found none`,
      ),
    );
  }

  #fail(error: RelayError): string {
    this.#error = error;
    this.#ended = true;
    return `data: ${JSON.stringify(error.toJSON())}\n\n${DONE_LINE}`;
  }

  /** The role chunk on the first call (the prefix made then), else nothing. */
  #start(): string {
    if (this.#started) return "";
    this.#started = true;
    this.#makePrefix();
    return `${this.#choiceHead}${ROLE_DELTA}${OPEN_TAIL}`;
  }

  #makePrefix(): string {
    if (this.#prefix === undefined) {
      const created = this.#created ?? this.#createdAt ??
        Math.floor(Date.now() / 1000);
      this.#createdUsed = created;
      this.#prefix = `data: {"id":${
        JSON.stringify(completionId(this.#responseId))
      },"object":"chat.completion.chunk","created":${
        Math.floor(created)
      },"model":${
        JSON.stringify(this.#model)
      },"system_fingerprint":null,"choices":`;
      this.#choiceHead = `${this.#prefix}[{"index":0,"delta":`;
      this.#contentHead = encoder.encode(`${this.#choiceHead}{"content":`);
      this.#contentTail = encoder.encode(`}${OPEN_TAIL}`);
      this.#contentTailHead = encoder.encode(
        `}${OPEN_TAIL}${this.#choiceHead}{"content":`,
      );
    }
    return this.#prefix;
  }

  #usageChunk(): string {
    return `${this.#makePrefix()}[],"usage":${
      JSON.stringify(chatUsage(this.#usage))
    }}\n\n`;
  }
}

/** Where the event starting at `start` ends: after its blank line, or at the end of the chunk. */
function eventEnd(chunk: Uint8Array, start: number): number {
  let lf = chunk.indexOf(LF, start);
  while (lf >= 0 && lf + 1 < chunk.length) {
    if (chunk[lf + 1] === LF) return lf + 2;
    lf = chunk.indexOf(LF, lf + 1);
  }
  return chunk.length;
}

function encode(text: string): Uint8Array {
  return text === "" ? EMPTY : encoder.encode(text);
}
