/**
 * Holding a non-streaming answer open: an AntSeed buyer whose client did not
 * ask for a stream gives the seller 30 s to deliver the whole answer or a
 * stream start, then at most 60 s between chunks (spec/HOST_CONTRACT.md,
 * "Buyer timeouts"). An answer that settles within the hold time is
 * resolved whole, as if there were no hold, so that fast errors keep their
 * status codes. A slower one is committed as a stream of the JSON body: a
 * 200 start with `x-antseed-streaming: 1`, a whitespace chunk every
 * keep-alive while the upstream works (JSON allows leading whitespace), then
 * the complete JSON text and the done chunk.
 *
 * Once 200 is sent the status cannot change, so a failure after the commit
 * is written into the body: a Response object with `status: "failed"` whose
 * `error` carries the code and message for a Responses buyer, the OpenAI
 * error object for a Chat Completions buyer.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import { type EchoFields, echoResponse } from "../codex/echo.ts";
import type {
  ProviderStreamCallbacks,
  SerializedHttpResponse,
} from "../host_types.ts";

/** The chunk sent while a committed answer waits: leading JSON whitespace. */
const HOLD_KEEP_ALIVE: Uint8Array = new TextEncoder().encode(" ");

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The protocol of the buyer, which decides how a failure after the commit is written. */
export type HeldProtocol = "responses" | "chat";

/** Options of {@linkcode holdAnswer}. */
export interface HoldOptions {
  /** The host request id, echoed in the start and every chunk. */
  requestId: string;
  /** How long the answer is waited for before the commit, in milliseconds. */
  holdMs: number;
  /** Pause between whitespace chunks after the commit, in milliseconds (at least 1). */
  keepAliveMs: number;
  /** `responses`: a failure after the commit is a failed Response object; `chat`: an OpenAI error object. */
  protocol: HeldProtocol;
  /** The model named in a failed Response object (the service the buyer asked for). */
  model?: string;
  /** Extra headers of the stream start, e.g. the dropped parameters. */
  headers?: Record<string, string>;
  /** The Responses buyer's own fields, echoed in a failed Response object (../codex/echo.ts). */
  echo?: EchoFields;
}

/**
 * Waits up to `holdMs` for `answer`. When it settles in time, resolves with
 * it (or rejects with its error) and nothing goes through the callbacks.
 * Otherwise commits: `onResponseStart` with status 200,
 * `content-type: application/json` and `x-antseed-streaming: 1`, a
 * whitespace chunk every `keepAliveMs` until `answer` settles, then its body
 * as one chunk (a 2xx body as it is; a failure as the buyer protocol's
 * failure object, see {@linkcode committedFailure}), then exactly one done
 * chunk. The committed answer resolves with status 200, the start's headers
 * and the very bytes the buyer got (whitespace and JSON), so the node parses
 * the usage from it. Callback exceptions (a buyer gone) are caught; every
 * timer is cleared.
 *
 * @param callbacks the host's stream callbacks
 * @param answer the final answer: a whole response (an error response is a non-2xx one)
 * @param options hold time, keep-alive and how a failure is written
 * @returns the response the host should get
 *
 * @example
 * ```ts
 * import { holdAnswer } from "./hold.ts";
 * const body = new TextEncoder().encode('{"object":"response"}');
 * const response = await holdAnswer(
 *   { onResponseStart() {}, onResponseChunk() {} },
 *   Promise.resolve({ requestId: "r1", statusCode: 200, headers: {}, body }),
 *   { requestId: "r1", holdMs: 20_000, keepAliveMs: 15_000, protocol: "responses" },
 * );
 * console.log(response.statusCode); // 200, resolved whole: nothing was streamed
 * ```
 */
export async function holdAnswer(
  callbacks: ProviderStreamCallbacks,
  answer: Promise<SerializedHttpResponse>,
  options: HoldOptions,
): Promise<SerializedHttpResponse> {
  const settled = answer.then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  let holdTimer: ReturnType<typeof setTimeout> | undefined;
  const held = new Promise<"commit">((resolve) => {
    holdTimer = setTimeout(resolve, options.holdMs, "commit");
  });
  let first: Awaited<typeof settled> | "commit";
  try {
    first = await Promise.race([settled, held]);
  } finally {
    clearTimeout(holdTimer);
  }
  if (first !== "commit") {
    if ("error" in first) throw first.error;
    return first.response;
  }

  const stream = new CommittedStream(callbacks, options);
  let outcome: Awaited<typeof settled>;
  try {
    outcome = await settled;
  } finally {
    stream.stopKeepAlive();
  }
  let body: Uint8Array;
  try {
    body = "response" in outcome && isSuccess(outcome.response)
      ? outcome.response.body
      : committedFailure(
        "response" in outcome
          ? errorOfResponse(outcome.response)
          : errorOfThrown(outcome.error),
        options,
      );
  } catch {
    // The buyer's echoed fields could not be written: the stream still ends
    // with a failure and its one done chunk (the node waits for it).
    body = committedFailure(internalError(), { ...options, echo: undefined });
  }
  return stream.finish(body);
}

/** A committed answer: its start is sent, whitespace keeps it alive. */
class CommittedStream {
  readonly #callbacks: ProviderStreamCallbacks;
  readonly #requestId: string;
  readonly #headers: Record<string, string>;
  /** The start went out: the node then waits for exactly one done chunk. */
  readonly #started: boolean;
  /** The buyer can still be written to (no callback has thrown). */
  #open: boolean;
  #keepAlives = 0;
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(callbacks: ProviderStreamCallbacks, options: HoldOptions) {
    this.#callbacks = callbacks;
    this.#requestId = options.requestId;
    this.#headers = {
      ...options.headers,
      "content-type": "application/json",
      "x-antseed-streaming": "1",
    };
    try {
      callbacks.onResponseStart({
        requestId: this.#requestId,
        statusCode: 200,
        headers: { ...this.#headers },
        body: EMPTY,
      });
      this.#open = true;
    } catch {
      this.#open = false;
    }
    this.#started = this.#open;
    if (this.#open) {
      this.#timer = setInterval(
        () => this.#keepAlive(),
        Math.max(1, options.keepAliveMs),
      );
    }
  }

  #keepAlive(): void {
    if (this.#send(HOLD_KEEP_ALIVE)) this.#keepAlives++;
    else this.stopKeepAlive();
  }

  #send(data: Uint8Array): boolean {
    if (!this.#open) return false;
    try {
      this.#callbacks.onResponseChunk({
        requestId: this.#requestId,
        data,
        done: false,
      });
      return true;
    } catch {
      this.#open = false;
      return false;
    }
  }

  stopKeepAlive(): void {
    clearInterval(this.#timer);
  }

  /** Sends the body and the done chunk; the resolved body is the whitespace and the body. */
  finish(body: Uint8Array): SerializedHttpResponse {
    this.#send(body);
    if (this.#started) {
      // The node holds the stream open until the done chunk arrives.
      try {
        this.#callbacks.onResponseChunk({
          requestId: this.#requestId,
          data: EMPTY,
          done: true,
        });
      } catch {
        // The buyer has gone; nothing waits for the done chunk.
      }
    }
    const padding = this.#keepAlives * HOLD_KEEP_ALIVE.byteLength;
    const all = new Uint8Array(padding + body.byteLength);
    all.fill(HOLD_KEEP_ALIVE[0], 0, padding);
    all.set(body, padding);
    return {
      requestId: this.#requestId,
      statusCode: 200,
      headers: { ...this.#headers },
      body: all,
    };
  }
}

function isSuccess(response: SerializedHttpResponse): boolean {
  return response.statusCode >= 200 && response.statusCode < 300;
}

/** An OpenAI error object's `error` member: `{ message, type, code, ... }`. */
export type OpenAIErrorFields = Record<string, unknown> & {
  /** Human-readable message. */
  message: string;
  /** Stable error code. */
  code: string;
};

/** The `error` of an error response's OpenAI-shaped body, or an `internal_error`. */
function errorOfResponse(response: SerializedHttpResponse): OpenAIErrorFields {
  try {
    const error = JSON.parse(decoder.decode(response.body))?.error;
    if (
      error && typeof error === "object" && typeof error.code === "string" &&
      typeof error.message === "string"
    ) {
      return error;
    }
  } catch {
    // not an OpenAI error body: reported as an internal error below
  }
  return internalError();
}

function errorOfThrown(error: unknown): OpenAIErrorFields {
  return error instanceof RelayError
    ? error.toJSON().error as OpenAIErrorFields
    : internalError();
}

function internalError(): OpenAIErrorFields {
  return {
    message: "The provider failed unexpectedly",
    type: "server_error",
    code: "internal_error",
  };
}

/**
 * The body a committed answer ends with when it failed: for a Responses
 * buyer, a Response object with `status: "failed"` whose `error` is the
 * OpenAI error (OpenAI's shape of a failed response: `id`, `object`,
 * `created_at`, `status`, `error`, `incomplete_details`, `model`, an empty
 * `output`, `usage: null`, and the buyer's echoed fields when given); for a
 * Chat Completions buyer, the OpenAI error object
 * `{ "error": { message, type, code } }`.
 *
 * @param error the `error` member of the answer that could not be sent with its status
 * @param options the buyer's protocol, the model asked for and its echoed fields
 * @returns the UTF-8 JSON text
 *
 * @example
 * ```ts
 * import { committedFailure } from "./hold.ts";
 * const text = new TextDecoder().decode(committedFailure(
 *   { message: "The upstream stream broke", type: "server_error", code: "upstream_stream_error" },
 *   { protocol: "responses", model: "gpt-5.4" },
 * ));
 * console.log(JSON.parse(text).status); // "failed"
 * ```
 */
export function committedFailure(
  error: OpenAIErrorFields,
  options: Pick<HoldOptions, "protocol" | "model" | "echo">,
): Uint8Array {
  if (options.protocol === "chat") {
    return encoder.encode(JSON.stringify({ error }));
  }
  const response: Record<string, unknown> = {
    id: `resp_${crypto.randomUUID().replace(/-/g, "")}`,
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    status: "failed",
    error,
    incomplete_details: null,
    model: options.model ?? null,
    output: [],
    usage: null,
  };
  if (options.echo) echoResponse(response, options.echo);
  return encoder.encode(JSON.stringify(response));
}
