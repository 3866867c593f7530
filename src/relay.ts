/**
 * One upstream exchange with the Codex backend: token, fetch with a header
 * timeout, the retry policy, then the answer streamed into the host callbacks
 * (streaming buyer) or aggregated into one Response object (non-streaming
 * buyer). Bytes pass through unmodified, but for the `codex.rate_limits`
 * events (the seller's plan, used percents and credits), which are cut out
 * and read for the seller's own view (src/codex/rate_limits_filter.ts), and
 * for the Response object of the lifecycle events, whose `instructions`,
 * `previous_response_id`, `prompt_cache_key` and `store` are set to what the
 * buyer sent, and for an `error` event, which keeps only its own members
 * (not the seller's plan and `x-codex-*` headers) (src/codex/echo.ts); once
 * the stream has ended it is observed from its last event
 * (src/codex/observe.ts).
 *
 * @module
 */

import type { AccessToken, TokenSource } from "./auth/types.ts";
import {
  classifyUpstreamError,
  errorBody,
  sseErrorEvent,
  type UsageLimit,
} from "./codex/errors.ts";
import {
  buildUpstreamHeaders,
  type UpstreamIdentity,
} from "./codex/request.ts";
import type { ResponsesLiteLookup } from "./codex/catalog.ts";
import {
  responsesLiteBody,
  withResponsesLiteHeader,
} from "./codex/responses_lite.ts";
import {
  type LoginInstallation,
  withClientMetadata,
} from "./codex/login_identity.ts";
import { type EchoFields, echoResponse, EchoRewriter } from "./codex/echo.ts";
import {
  type CompletedEvent,
  endsWithBlankLine,
  observeChunks,
  type StreamObservation,
} from "./codex/observe.ts";
import {
  parseRateLimitsEvent,
  type RateLimitSnapshot,
} from "./codex/rate_limits.ts";
import { RateLimitsEventFilter } from "./codex/rate_limits_filter.ts";
import type { Watchdog, WatchEntry } from "./watchdog.ts";
import { CredentialsError, LoginRequiredError, RelayError } from "./errors.ts";
import type {
  ProviderStreamCallbacks,
  SerializedHttpResponse,
} from "./host_types.ts";
import { delay } from "./async.ts";
import { joinBytes } from "./bytes.ts";

/** Most retries of one buyer request. */
export const MAX_RETRIES = 3;
/** Longest server-requested wait that is honoured; longer goes back to the buyer. */
export const MAX_RETRY_AFTER_MS = 10_000;
/** Most total time spent waiting between attempts of one buyer request. */
export const MAX_RETRY_BUDGET_MS = 20_000;
/** First backoff step; doubled per retry, with full jitter. */
export const BASE_BACKOFF_MS = 250;

const EMPTY = new Uint8Array(0);
const BLANK_LINE = new TextEncoder().encode("\n\n");
const encoder = new TextEncoder();

/** Everything one exchange needs from its provider. */
export interface RelayContext {
  /** `<base>/codex/responses`. */
  responsesUrl: string;
  /** Wait for upstream response headers, in milliseconds. */
  requestTimeoutMs: number;
  /** Longest silence inside an upstream stream, in milliseconds. */
  idleTimeoutMs: number;
  /** Watches the header and idle deadlines of every exchange. */
  watchdog: Watchdog;
  /** Source of access tokens. */
  tokens: TokenSource;
  /** Who the provider speaks as upstream (`originator`, `version`, `user-agent`). */
  identity?: UpstreamIdentity;
  /**
   * The login's installation: its `client_metadata` replaces the body's
   * closing brace and its identity headers are added (none without).
   */
  installation?: LoginInstallation;
  /**
   * The login's model catalog: an attempt whose model it marks
   * responses-lite goes in that shape (default: every attempt classic).
   */
  catalog?: ResponsesLiteLookup;
  /** The fetch to use (default: global `fetch`). */
  fetch?: typeof fetch;
  /** Random number in [0, 1) for backoff jitter (default `Math.random`). */
  random?: () => number;
  /**
   * Receives the seller's rate limits: the headers of every upstream
   * response that carries `x-codex-*` rate limits (to be parsed when
   * needed), and the snapshot of every `codex.rate_limits` event a stream
   * carried (the event itself never reaches the buyer).
   */
  onRateLimits?: (
    limits: Headers | RateLimitSnapshot,
    observedAt: number,
  ) => void;
  /**
   * Receives the reset time (ms since the epoch) of a usage limit the backend
   * answered with, and the account id of the token it was answered to.
   */
  onUsageLimit?: (resetsAt: number, accountId: string) => void;
  /** Told of every retried attempt, with why (`network_error` or the failure's code). */
  onRetry?: (reason: string) => void;
  /** Aborts the exchange (a buyer that went away). */
  signal?: AbortSignal;
}

/** What is sent upstream for one buyer request. */
export interface UpstreamRequest {
  /** The shaped body, as JSON text. */
  body: string;
  /** The `session-id` and `thread-id` headers: the buyer-scoped conversation key, also the body's `prompt_cache_key` (see src/provider/buyer_scope.ts). */
  sessionId: string;
  /** The body's `model`: only the backend's refusal of this model marks it unavailable on the login. */
  model?: string;
  /**
   * The shaped body as an object, kept until an exchange opens: an attempt
   * in the responses-lite shape is built from it (else from `body`).
   */
  shaped?: Readonly<Record<string, unknown>>;
  /** The responses-lite body text, once an attempt needed it. */
  liteBody?: string;
}

/** Token usage seen in a finished exchange, for logs. */
export interface RelayOutcome {
  /** The response handed to the host. */
  response: SerializedHttpResponse;
  /** `usage` of the final Response object, when the stream carried one. */
  usage?: Record<string, unknown>;
  /** A usage limit the stream reported (`usage_limit_reached` in its terminal event). */
  usageLimit?: UsageLimit;
  /** The failure the backend reported inside the stream (`response.failed` or `error`), if any. */
  failure?: RelayError;
  /**
   * With `keepOutput`, when the stream completed: the final Response object
   * (already parsed, or rebuilt when the backend sent its output empty), or
   * the completed event as bytes, a view into the stream's last chunks (not
   * parsed: most stored responses are never referred to).
   */
  final?: { response: Record<string, unknown> } | {
    event: CompletedEvent;
  };
}

/** How an open exchange is answered. */
export interface RelayOptions {
  /** Longest silence inside the stream, in milliseconds. */
  idleTimeoutMs: number;
  /** Pause between keep-alive comments to a streaming buyer while the stream is silent (0 or unset: none). */
  keepAliveMs?: number;
  /** Rebuild and return the final Response object (to store the turn). */
  keepOutput?: boolean;
  /** Extra headers of the answer, e.g. the dropped parameters. */
  headers?: Record<string, string>;
  /**
   * Translates the stream for a buyer of another protocol (Chat
   * Completions): the buyer gets what it returns instead of the upstream
   * bytes, and the resolved body is its billing body (or, without usage, what
   * the buyer got, translated again from the upstream bytes).
   */
  translator?: StreamTranslator;
  /** Turns the final Response object into the answer of another protocol (non-streaming). */
  convert?: (response: Record<string, unknown>) => unknown;
  /**
   * What the buyer sent that its Response object echoes (`instructions`,
   * `previous_response_id`, `prompt_cache_key`, `store`): set in the JSON
   * answer, rewritten in the stream's lifecycle events (./codex/echo.ts).
   */
  echo?: EchoFields;
}

/** A per-stream translation of the upstream SSE for another protocol. */
export interface StreamTranslator {
  /** The buyer's bytes for the next upstream bytes (empty when none yet). */
  push(chunk: Uint8Array): Uint8Array;
  /** The buyer's last bytes; `failure` when the upstream stream ended without a terminal event. */
  finish(failure?: RelayError): Uint8Array;
  /**
   * The bytes the node bills the stream from (the usage chunk, whether the
   * buyer got it or not), empty when the backend reported no usage.
   */
  billingBody(): Uint8Array;
  /**
   * A new translator that gives the same bytes for the same upstream bytes:
   * a stream without usage is translated again to be billed, not kept.
   */
  again(): StreamTranslator;
}

/** An upstream exchange that answered 2xx, body not yet read. */
export interface OpenUpstream {
  /**
   * The upstream response body. The Response itself is kept only until the
   * body is locked for reading ({@linkcode response}): its headers would
   * otherwise be held for the whole stream.
   */
  readonly body: ReadableStream<Uint8Array> | null;
  /**
   * The upstream Response until its body is locked for reading, then
   * undefined. Node's fetch (undici) cancels the body of a Response that
   * the garbage collector takes while the body is not locked, and the buyer
   * would get an empty answer: the wait between the headers and the first
   * read (the hold, a lazy import of the Chat translation) is such a time.
   */
  response?: Response;
  /** Account id of the token the exchange was made with. */
  readonly accountId: string;
  /**
   * Receives the snapshot of each `codex.rate_limits` event of the stream
   * (cut out of what the buyer receives); `RelayContext.onRateLimits`.
   */
  readonly onRateLimits?: (
    limits: RateLimitSnapshot,
    observedAt: number,
  ) => void;
  /** Deadline of the next chunk (ms since the epoch); moved by every chunk. */
  deadline: number;
  /** Whether the deadline passed (the fetch was then aborted). */
  readonly timedOut: boolean;
  /**
   * A chunk arrived at `now`: the silence starts again (and, with a
   * keep-alive, whether the stream now stands between two events).
   */
  moved(now: number, chunk: Uint8Array): void;
  /**
   * While the stream is silent, calls `ping` every `everyMs` when it stands
   * between two events; the idle timeout still ends a dead stream.
   */
  keepAlive(everyMs: number, ping: () => void): void;
  /** Whether the exchange was aborted: timed out, or the buyer went away. */
  readonly aborted: boolean;
  /** The reader of `body` while it is read, so that an abort can cancel it. */
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  /**
   * Ends an exchange of which nothing is pending any more (the fetch failed,
   * or the body was read to its end): stops watching its deadline and
   * listening to the buyer.
   */
  release(): void;
  /** Ends an exchange whose body is unfinished: releases it and aborts the fetch. */
  cancel(): void;
}

/**
 * One attempt's state, with no closures: it is the watchdog entry (its
 * deadline covers the headers, then each silence in the stream) and the
 * listener of the buyer's abort signal.
 */
class UpstreamExchange implements OpenUpstream, WatchEntry {
  readonly controller = new AbortController();
  body: ReadableStream<Uint8Array> | null = null;
  response: Response | undefined = undefined;
  accountId = "";
  onRateLimits:
    | ((limits: RateLimitSnapshot, observedAt: number) => void)
    | undefined = undefined;
  reader: ReadableStreamDefaultReader<Uint8Array> | undefined = undefined;
  /** The next deadline watched: the idle end, or the next keep-alive when earlier. */
  deadline: number;
  timedOut = false;
  /** Longest silence inside the stream, in ms (0 before the stream). */
  idleMs = 0;
  /** When the current silence ends the stream (ms since the epoch). */
  #idleAt = 0;
  #everyMs = 0;
  #ping: (() => void) | undefined;
  #atBoundary = true;
  readonly #watchdog: Watchdog;
  readonly #signal: AbortSignal | undefined;

  constructor(
    watchdog: Watchdog,
    signal: AbortSignal | undefined,
    deadline: number,
  ) {
    this.deadline = deadline;
    this.#watchdog = watchdog;
    this.#signal = signal;
    watchdog.add(this);
    // A buyer who left while the token was fetched fires no more events.
    if (signal?.aborted) this.controller.abort(signal.reason);
    else signal?.addEventListener("abort", this, { once: true });
  }

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  moved(now: number, chunk: Uint8Array): void {
    this.#idleAt = now + this.idleMs;
    if (this.#everyMs === 0) {
      this.deadline = this.#idleAt;
      return;
    }
    this.#atBoundary = endsWithBlankLine(chunk);
    this.deadline = Math.min(this.#idleAt, now + this.#everyMs);
  }

  keepAlive(everyMs: number, ping: () => void): void {
    this.#everyMs = everyMs;
    this.#ping = ping;
    this.#idleAt = this.deadline;
    this.deadline = Math.min(this.#idleAt, Date.now() + everyMs);
  }

  /** A deadline passed: a keep-alive is due, or the fetch is aborted. */
  onExpire(): void {
    const now = Date.now();
    if (this.#ping && now < this.#idleAt) {
      // A comment in the middle of an event would break it: wait for the
      // next boundary (the idle timeout still bounds a dead upstream).
      if (this.#atBoundary) this.#ping();
      this.deadline = Math.min(this.#idleAt, now + this.#everyMs);
      this.#watchdog.add(this);
      return;
    }
    this.timedOut = true;
    this.#abort(undefined);
  }

  /** The buyer's signal aborted. */
  handleEvent(): void {
    this.#abort(this.#signal?.reason);
  }

  #abort(reason: unknown): void {
    this.controller.abort(reason);
    // Deno's fetch now and then misses an abort while a body read is
    // pending, and the read then waits for as long as the stream is silent:
    // cancelling the reader ends it whatever the fetch does.
    this.reader?.cancel(reason).catch(() => {});
  }

  release(): void {
    this.#watchdog.unwatch(this);
    this.#signal?.removeEventListener("abort", this);
  }

  cancel(): void {
    this.release();
    // Not in release(): aborting a settled exchange costs a DOMException
    // and an abort event for nothing.
    this.controller.abort();
  }
}

function tokenError(error: unknown): RelayError {
  if (error instanceof RelayError) return error;
  if (
    error instanceof LoginRequiredError || error instanceof CredentialsError
  ) {
    return new RelayError(
      503,
      "upstream_auth_failed",
      "The seller's upstream login cannot be used right now; try another seller or try again later",
    );
  }
  return new RelayError(
    503,
    "upstream_auth_unavailable",
    "The seller's upstream login could not be refreshed right now; try again shortly",
    { headers: { "retry-after": "5" } },
  );
}

function buyerGone(): RelayError {
  return new RelayError(499, "client_closed_request", "The buyer went away");
}

/**
 * Opens the upstream exchange: gets a token, POSTs the body and
 * retries transient failures (429 without a usage limit, 500, 502, 503, 504,
 * network errors) with full-jitter exponential backoff, all before any byte
 * reaches the buyer. Resolves with the body of a 2xx upstream response, not
 * yet read; throws a {@linkcode RelayError} otherwise. Every discarded body
 * is consumed or cancelled and every timer cleared.
 *
 * @example
 * ```ts ignore
 * const upstream = await openUpstream({ body, sessionId }, context);
 * ```
 */
export async function openUpstream(
  request: UpstreamRequest,
  context: RelayContext,
): Promise<OpenUpstream> {
  const doFetch = context.fetch ?? fetch;
  const random = context.random ?? Math.random;
  const { sessionId } = request;
  // No attempt for a buyer who has gone, and no lookup either: it may start
  // reading the login's catalog. Later attempts follow a wait that the
  // abort ends, or a refresh after which the exchange starts aborted.
  if (context.signal?.aborted) throw buyerGone();
  // The shape of this login's attempts: one lookup in its catalog.
  const lite = context.catalog?.usesResponsesLite(request.model ?? "") === true;
  const shapedBody = lite ? await responsesLiteBody(request) : request.body;
  // One turn per attempt on a login: its retries repeat it, as the CLI's do.
  const turn = context.installation?.turn(sessionId, request.model);
  const body = turn
    ? withClientMetadata(shapedBody, turn.bodyTail)
    : shapedBody;
  let retries = 0;
  let waited = 0;
  let refreshedAfter401 = false;
  let token: AccessToken | undefined;

  while (true) {
    if (!token) {
      try {
        token = await context.tokens.getToken();
      } catch (error) {
        throw tokenError(error);
      }
    }
    const exchange = new UpstreamExchange(
      context.watchdog,
      context.signal,
      Date.now() + context.requestTimeoutMs,
    );

    let response: Response;
    try {
      response = await doFetch(context.responsesUrl, {
        method: "POST",
        headers: withResponsesLiteHeader(
          buildUpstreamHeaders(
            token,
            sessionId,
            context.identity,
            turn?.headers,
          ),
          lite,
        ),
        body,
        signal: exchange.controller.signal,
        // A redirect is not followed (nor retried, see isRedirect): to
        // be able to follow one, Node's fetch keeps a clone of the request,
        // its body stream teed, for as long as the answer streams (8 KiB of
        // heap per open stream). The backend answers its URL itself.
        redirect: "error",
      });
    } catch (error) {
      exchange.release();
      if (context.signal?.aborted) throw buyerGone();
      if (exchange.timedOut) {
        throw new RelayError(
          504,
          "upstream_timeout",
          `The upstream sent no response within ${context.requestTimeoutMs} ms`,
        );
      }
      // Not followed, and not retried: the same URL answers the same way.
      if (isRedirect(error)) {
        throw new RelayError(
          502,
          "upstream_unreachable",
          "The upstream answered with a redirect, which is not followed",
          { cause: error },
        );
      }
      const final = new RelayError(
        502,
        "upstream_unreachable",
        "The upstream could not be reached",
        { cause: error },
      );
      const pause = backoff(retries, random);
      if (retries < MAX_RETRIES && waited + pause <= MAX_RETRY_BUDGET_MS) {
        retries++;
        context.onRetry?.("network_error");
        waited += pause;
        await delay(pause, context.signal).catch(() => {
          throw buyerGone();
        });
        continue;
      }
      throw final;
    }
    // Parsed only when someone asks (`getRateLimits()`): every answer has
    // these headers, few readers need them.
    if (response.headers.has("x-codex-primary-used-percent")) {
      context.onRateLimits?.(response.headers, Date.now());
    }

    if (response.ok) {
      context.tokens.handleAccepted?.(token);
      // From here the same deadline bounds silence inside the stream; the
      // buyer's abort stays wired to this exchange while it streams.
      exchange.idleMs = context.idleTimeoutMs;
      exchange.deadline = Date.now() + context.idleTimeoutMs;
      exchange.response = response;
      exchange.body = response.body;
      exchange.accountId = token.accountId;
      exchange.onRateLimits = context.onRateLimits;
      return exchange;
    }

    // The header timeout also bounds reading an error body.
    const text = await response.text().catch(() => "");
    exchange.release();
    const verdict = classifyUpstreamError(
      response.status,
      response.headers,
      text,
      { model: request.model },
    );
    if (verdict.unauthorized && !refreshedAfter401) {
      refreshedAfter401 = true;
      let next: AccessToken | undefined;
      try {
        next = await context.tokens.handleUnauthorized(token);
      } catch (error) {
        throw tokenError(error);
      }
      if (next) {
        token = next;
        continue;
      }
      throw verdict.error;
    }
    if (verdict.usageLimit) {
      context.onUsageLimit?.(verdict.usageLimit.resetsAt, token.accountId);
      throw verdict.error;
    }
    if (!verdict.retryable || retries >= MAX_RETRIES) throw verdict.error;
    if (
      verdict.retryAfterMs !== undefined &&
      verdict.retryAfterMs > MAX_RETRY_AFTER_MS
    ) {
      throw withRetryAfter(verdict.error, verdict.retryAfterMs);
    }
    const pause = verdict.retryAfterMs ?? backoff(retries, random);
    if (waited + pause > MAX_RETRY_BUDGET_MS) {
      throw withRetryAfter(verdict.error, pause);
    }
    retries++;
    context.onRetry?.(verdict.error.code);
    waited += pause;
    await delay(pause, context.signal).catch(() => {
      throw buyerGone();
    });
  }
}

/**
 * Whether a fetch failed on a redirect it was told not to follow, by each
 * runtime's exact words (a network error's message may hold the URL, which
 * may hold any word): Node's fetch (undici) gives the cause `unexpected
 * redirect`, Deno's says `Encountered redirect while redirect mode is set to
 * 'error'`. Other words are taken for a network error (retried).
 */
function isRedirect(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.message.includes(DENO_REDIRECT) ||
    (error.cause instanceof Error &&
      error.cause.message === NODE_REDIRECT);
}

const NODE_REDIRECT = "unexpected redirect";
const DENO_REDIRECT =
  "Encountered redirect while redirect mode is set to 'error'";

function backoff(retry: number, random: () => number): number {
  return Math.floor(random() * BASE_BACKOFF_MS * 2 ** retry);
}

function withRetryAfter(error: RelayError, waitMs: number): RelayError {
  if (error.headers["retry-after"]) return error;
  return new RelayError(error.status, error.code, error.message, {
    type: error.type,
    headers: {
      ...error.headers,
      "retry-after": String(Math.max(1, Math.ceil(waitMs / 1000))),
    },
    details: error.details,
  });
}

/** The answer to a buyer as a complete host response. */
export function errorResponse(
  requestId: string,
  error: RelayError,
): SerializedHttpResponse {
  return {
    requestId,
    statusCode: error.status,
    headers: { "content-type": "application/json", ...error.headers },
    body: errorBody(error),
  };
}

/** What reading an upstream body produced. */
interface ReadResult {
  chunks: Uint8Array[];
  total: number;
  /** The body was read to its end. */
  finished: boolean;
  /** Why the read stopped early: the stream broke or stayed silent. */
  failure?: RelayError;
}

/**
 * The filter that cuts the `codex.rate_limits` events out of an exchange's
 * stream and reports what they say to `upstream.onRateLimits`. Reading them
 * is the seller's bookkeeping: whatever goes wrong there, the stream goes on.
 */
function rateLimitsFilter(upstream: OpenUpstream): RateLimitsEventFilter {
  return new RateLimitsEventFilter((data) => {
    const report = upstream.onRateLimits;
    if (!report) return;
    try {
      const now = Date.now();
      const snapshot = parseRateLimitsEvent(JSON.parse(data), now);
      if (snapshot) report(snapshot, now);
    } catch {
      // Unreadable, or the seller's callback failed: the stream is not at fault.
    }
  });
}

/**
 * Reads the upstream body to its end, handing every chunk to `forward` as it
 * arrives, less the `codex.rate_limits` events (the seller's data; see
 * ./codex/rate_limits_filter.ts). Ends on the body's end, a broken stream,
 * an idle timeout, or `forward` returning false (buyer gone). Does no other
 * parsing: the bytes are observed once the stream has ended.
 */
async function readUpstream(
  upstream: OpenUpstream,
  idleTimeoutMs: number,
  forward: ((chunk: Uint8Array) => boolean) | undefined,
  keepAlive?: KeepAliveTally,
  echo?: EchoRewriter,
): Promise<ReadResult> {
  const chunks = keepAlive?.chunks ?? [];
  let total = 0;
  const body = upstream.body;
  if (!body) return { chunks, total, finished: true };
  const reader = body.getReader();
  upstream.reader = reader;
  // Locked: the runtime no longer cancels it with the Response.
  upstream.response = undefined;
  const filter = rateLimitsFilter(upstream);
  // Aborted before the reader existed: cancel it now (see UpstreamExchange).
  if (upstream.aborted) reader.cancel().catch(() => {});
  try {
    while (true) {
      // The chunk read is not named here: a local of this function would
      // hold it (with the whole buffer it is a view of, 64 KiB on Deno)
      // until the next chunk arrives, also when only a copy of it is kept.
      const passed = passOn(await reader.read(), upstream, filter, echo);
      if (passed === undefined) {
        // A reader cancelled by an abort: not the end of the body.
        if (upstream.aborted) throw new Error("The exchange was aborted");
        return {
          chunks,
          total: total + (keepAlive?.bytes ?? 0),
          finished: true,
        };
      }
      if (passed.byteLength === 0) continue;
      chunks.push(kept(passed));
      total += passed.byteLength;
      if (forward && !forward(passed)) {
        await reader.cancel().catch(() => {});
        return {
          chunks,
          total: total + (keepAlive?.bytes ?? 0),
          finished: false,
        };
      }
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    const failure = upstream.timedOut
      ? new RelayError(
        504,
        "upstream_idle_timeout",
        `The upstream stream was silent for more than ${idleTimeoutMs} ms`,
      )
      : new RelayError(
        502,
        "upstream_stream_error",
        "The upstream stream broke before response.completed",
        { cause: error },
      );
    return {
      chunks,
      total: total + (keepAlive?.bytes ?? 0),
      finished: false,
      failure,
    };
  }
}

/**
 * What {@linkcode readUpstream} passes on of one read: the chunk less the
 * `codex.rate_limits` events, echoed; undefined at the end of the body.
 */
function passOn(
  read: ReadableStreamReadResult<Uint8Array>,
  upstream: OpenUpstream,
  filter: RateLimitsEventFilter,
  echo: EchoRewriter | undefined,
): Uint8Array | undefined {
  if (read.done) return undefined;
  upstream.moved(Date.now(), read.value);
  const filtered = filter.push(read.value);
  return echo ? echo.push(filtered) : filtered;
}

/**
 * A chunk as it is kept until the stream ends: a copy when it is a small view
 * of a much larger buffer, which the view would hold whole (Deno's fetch
 * reads each chunk into a 64 KiB buffer of its own: an event or two of a
 * token stream would hold 64 KiB each). A chunk that fills at least an eighth
 * of its buffer is kept as it is, so the large chunks of a fast stream are
 * not copied and at most eight times the stream's bytes are held.
 */
function kept(chunk: Uint8Array): Uint8Array {
  return chunk.buffer.byteLength >= 8 * chunk.byteLength
    ? chunk.slice()
    : chunk;
}

/** The SSE comment a silent stream sends so that the buyer's idle timer does not end it. */
const KEEP_ALIVE = new TextEncoder().encode(": keep-alive\n\n");

/** The keep-alives a stream sent: they go into its body in order. */
interface KeepAliveTally {
  /** The chunks of the stream, keep-alives included, in the order sent. */
  chunks: Uint8Array[];
  /** Bytes of the keep-alives sent. */
  bytes: number;
}

/** The error of a stream that ended without a terminal event. */
function streamFailure(read: ReadResult): RelayError {
  return read.failure ??
    new RelayError(
      502,
      "upstream_stream_incomplete",
      "The upstream stream closed before response.completed",
    );
}

/**
 * The usage limit a finished stream reported. Only a `response.failed` or
 * `error` terminal event is parsed for it: a completed stream costs nothing.
 */
function reportedFailure(
  seen: StreamObservation,
): { error: RelayError; usageLimit?: UsageLimit } | undefined {
  if (seen.terminal !== "response.failed" && seen.terminal !== "error") {
    return undefined;
  }
  const result = seen.result();
  return result.kind === "error" ? result : undefined;
}

/**
 * Streams an open upstream exchange to a streaming buyer: one
 * `onResponseStart` (200, `x-antseed-streaming: "1"`, `text/event-stream`,
 * empty body), every upstream chunk unmodified as it arrives (but for the
 * `codex.rate_limits` events, the seller's data, cut out, and with
 * `options.echo` the buyer's own fields echoed in the lifecycle events and
 * an `error` event kept to its own members), a well-formed
 * `response.failed` event when the stream breaks, stalls or ends without a
 * terminal event, then exactly one `done: true` chunk, also when reading or
 * observing the stream throws (the error then propagates). Resolves with the
 * body the node bills from: the last event when it carries the usage (for a
 * translated stream, its usage chunk), not a copy of the stream the buyer
 * already got; else the stream as the buyer got it, failure appended, which
 * the node's metering estimates from. Also resolves with the usage limit the
 * stream reported, if any (its event reaches the buyer kept to its own
 * members, reset times included).
 * Callback exceptions are caught; after one, the upstream body is cancelled.
 *
 * @example
 * ```ts ignore
 * const { response } = await streamToHost(upstream, "req-1", callbacks, {
 *   idleTimeoutMs: 120_000,
 * });
 * ```
 */
export async function streamToHost(
  upstream: OpenUpstream,
  requestId: string,
  callbacks: ProviderStreamCallbacks,
  options: RelayOptions,
): Promise<RelayOutcome> {
  let open = true;
  const send = (data: Uint8Array): boolean => {
    if (!open) return false;
    try {
      callbacks.onResponseChunk({ requestId, data, done: false });
      return true;
    } catch {
      open = false;
      return false;
    }
  };
  try {
    callbacks.onResponseStart({
      requestId,
      statusCode: 200,
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        ...options.headers,
        "x-antseed-streaming": "1",
      },
      body: EMPTY,
    });
  } catch {
    open = false;
  }
  const started = open;
  /** Whether the done chunk was sent. */
  let done = false;
  // One async function, not a wrapper with a finally around another: each
  // one waiting holds a frame for as long as the stream is open.
  try {
    let keepAlive: KeepAliveTally | undefined;
    if (open && options.keepAliveMs) {
      const tally: KeepAliveTally = { chunks: [], bytes: 0 };
      keepAlive = tally;
      upstream.keepAlive(options.keepAliveMs, () => {
        if (send(KEEP_ALIVE)) {
          tally.chunks.push(KEEP_ALIVE);
          tally.bytes += KEEP_ALIVE.byteLength;
        }
      });
    }
    const translator = options.translator;
    // What a translator sends is not kept: a stream without usage is
    // translated again to be billed (keeping 1 MB of chunks to the end cost
    // the collector 0.6-1.3 ms per stream).
    const forward = translator
      ? (chunk: Uint8Array): boolean => {
        const out = translator.push(chunk);
        return out.byteLength === 0 ? open : send(out);
      }
      : send;
    // A translated stream is another protocol's: nothing of it is echoed.
    const echo = options.echo && !translator
      ? new EchoRewriter(options.echo)
      : undefined;
    const read = open
      ? await readUpstream(
        upstream,
        options.idleTimeoutMs,
        forward,
        keepAlive,
        echo,
      )
      : await cancelled(upstream);
    if (read.finished) upstream.release();
    else upstream.cancel();
    const observed = observeChunks(read.chunks, read.total, {
      keepOutput: options.keepOutput,
    });
    const seen = observed.seen;
    // The node bills a started stream from the body it resolves with: with
    // usage, the last event that carries it (the buyer has the rest);
    // without, the stream as the buyer got it, which the node's metering
    // estimates from.
    let body: Uint8Array;
    if (translator) {
      const ending = seen.terminal === undefined
        ? streamFailure(read)
        : undefined;
      const tail = translator.finish(ending);
      if (tail.byteLength > 0) send(tail);
      const billing = translator.billingBody();
      body = billing.byteLength > 0
        ? billing
        : translatedAgain(translator, read.chunks, ending);
    } else {
      body = seen.usage !== undefined || observed.last.length === read.total
        ? observed.last
        : joinBytes(read.chunks, 0, read.total);
      if (seen.terminal === undefined && open) {
        const failure = sseErrorEvent(streamFailure(read), {
          sequenceNumber: seen.nextSequenceNumber,
          responseId: seen.responseId,
          echo: options.echo,
        });
        // Close an event the upstream cut off, so the appended one stands
        // alone.
        const tail = seen.pendingBytes > 0
          ? joinBytes([BLANK_LINE, failure])
          : failure;
        send(tail);
        body = joinBytes([body, tail]);
      }
    }
    const reported = reportedFailure(seen);
    // What the log line and the metrics say of a stream that did not end
    // well: the backend's own failure, a broken stream, or a buyer who left.
    const failure = reported?.error ??
      (seen.terminal !== undefined
        ? undefined
        : open
        ? streamFailure(read)
        : buyerGone());
    if (started) {
      // Always attempt the one done chunk: the node holds the stream open
      // until it arrives, even if an earlier chunk callback failed.
      done = true;
      sendDone(callbacks, requestId);
    }
    return {
      response: {
        requestId,
        statusCode: 200,
        headers: { "content-type": "text/event-stream" },
        body,
      },
      get usage() {
        return seen.usage;
      },
      usageLimit: reported?.usageLimit,
      failure,
      // The completed event is a view into the last chunks (no copy: the
      // store decodes it into a string at once).
      final: !options.keepOutput
        ? undefined
        : seen.completed
        ? { event: seen.completed }
        : finalResponse(seen),
    };
  } finally {
    // Whatever reading or observing the stream threw, a started stream ends
    // with its one done chunk: the node holds it open until that arrives.
    if (started && !done) sendDone(callbacks, requestId);
  }
}

/**
 * A translated stream as the buyer got it (keep-alive comments aside), from
 * the upstream bytes read: what a stream that reported no usage is billed
 * from.
 */
function translatedAgain(
  translator: StreamTranslator,
  chunks: readonly Uint8Array[],
  ending: RelayError | undefined,
): Uint8Array {
  const again = translator.again();
  const parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    // The relay's own keep-alives are among the chunks: the translator never
    // saw them (one between the halves of an event would break that event).
    if (chunk === KEEP_ALIVE) continue;
    const out = again.push(chunk);
    if (out.byteLength > 0) parts.push(out);
  }
  const tail = again.finish(ending);
  if (tail.byteLength > 0) parts.push(tail);
  return joinBytes(parts);
}

/** Sends the done chunk; a buyer who has gone is not waiting for it. */
function sendDone(callbacks: ProviderStreamCallbacks, requestId: string): void {
  try {
    callbacks.onResponseChunk({ requestId, data: EMPTY, done: true });
  } catch {
    // The buyer has gone; nothing is waiting for the done chunk.
  }
}

async function cancelled(upstream: OpenUpstream): Promise<ReadResult> {
  await upstream.body?.cancel().catch(() => {});
  return { chunks: [], total: 0, finished: false };
}

/**
 * Reads an open upstream exchange to its end and answers a non-streaming
 * buyer with the final Response object as JSON (`response.completed`, or
 * `response.incomplete` with `status: "incomplete"`, `output` rebuilt from the
 * streamed items when empty), or with an OpenAI-shaped error (429
 * `usage_limit_reached` with `retry-after` for a usage limit reported in the
 * stream, which the outcome also carries).
 *
 * @example
 * ```ts ignore
 * const { response } = await aggregateToResponse(upstream, "req-1", {
 *   idleTimeoutMs: 120_000,
 * });
 * ```
 */
export async function aggregateToResponse(
  upstream: OpenUpstream,
  requestId: string,
  options: RelayOptions,
): Promise<RelayOutcome> {
  const read = await readUpstream(upstream, options.idleTimeoutMs, undefined);
  if (read.finished) upstream.release();
  else upstream.cancel();
  const { seen } = observeChunks(read.chunks, read.total, {
    needOutput: true,
  });
  const result = seen.result();
  if (result.kind === "response" && options.echo && !options.convert) {
    echoResponse(result.response, options.echo);
  }
  // A stream that broke or ended without a terminal event fails too: the
  // log line and the metrics name its code, as for a streaming buyer.
  const failure = result.kind === "error"
    ? result.error
    : result.kind === "missing"
    ? streamFailure(read)
    : undefined;
  const response = result.kind === "response"
    ? {
      requestId,
      statusCode: 200,
      headers: { "content-type": "application/json", ...options.headers },
      body: encoder.encode(
        JSON.stringify(
          options.convert ? options.convert(result.response) : result.response,
        ),
      ),
    }
    : errorResponse(requestId, failure!);
  return {
    response,
    get usage() {
      return seen.usage;
    },
    usageLimit: result.kind === "error" ? result.usageLimit : undefined,
    failure,
    final: options.keepOutput && result.kind === "response"
      ? { response: result.response }
      : undefined,
  };
}

/** The completed Response object of a finished stream, if it completed. */
function finalResponse(
  seen: StreamObservation,
): { response: Record<string, unknown> } | undefined {
  if (seen.terminal !== "response.completed") return undefined;
  const result = seen.result();
  return result.kind === "response" ? { response: result.response } : undefined;
}
