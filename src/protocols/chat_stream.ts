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
 * For billing, {@linkcode ChatStreamTranslator.billingTail} gives the usage
 * chunk the buyer did not get (no `include_usage`, or a failure): the chunks
 * sent plus that tail are a body from which AntSeed's node bills the usage.
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
  /** Output of the events of one `push`. */
  #pushed = "";

  /** `data: {"id":...,"choices":` once the first chunk is made. */
  #prefix: string | undefined;
  /** `#prefix` + `[{"index":0,"delta":`. */
  #choiceHead = "";
  #started = false;
  #ended = false;
  #usageSent = false;

  #responseId: string | undefined;
  #createdAt: number | undefined;
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
    this.#parser ??= new SseParser(
      (event, data) => {
        this.#pushed += this.#translate(event, data);
      },
      { wants: wantsChatEvent },
    );
    this.#parser.push(chunk);
    const out = this.#pushed;
    this.#pushed = "";
    return encode(out);
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
   * The usage chunk for the resolved (billing) body when the buyer's stream
   * did not carry it: the backend reported usage, and it was not sent
   * (`includeUsage` false, or the stream ended in an error). Empty otherwise.
   * Append it to the chunks sent; the buyer never receives it.
   *
   * @returns the bytes of the usage chunk, or empty
   */
  billingTail(): Uint8Array {
    if (this.#usageSent || this.#usage === undefined) return EMPTY;
    return encoder.encode(this.#usageChunk());
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
        this.#usageSent = true;
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
      this.#prefix = `data: {"id":${
        JSON.stringify(completionId(this.#responseId))
      },"object":"chat.completion.chunk","created":${
        Math.floor(created)
      },"model":${
        JSON.stringify(this.#model)
      },"system_fingerprint":null,"choices":`;
      this.#choiceHead = `${this.#prefix}[{"index":0,"delta":`;
    }
    return this.#prefix;
  }

  #usageChunk(): string {
    return `${this.#makePrefix()}[],"usage":${
      JSON.stringify(chatUsage(this.#usage))
    }}\n\n`;
  }
}

function encode(text: string): Uint8Array {
  return text === "" ? EMPTY : encoder.encode(text);
}
