/**
 * The `Provider` object the AntSeed node holds: each request passes the
 * route gate (./routes.ts), is read and shaped (./prepare.ts), passes the
 * usage-limit gate (./usage_limit.ts) and the concurrency gate
 * (./capacity.ts), then goes through the relay (../relay.ts).
 *
 * @module
 */

import { createTokenSource } from "../auth/token_source.ts";
import type { CredentialsInfo, TokenSource } from "../auth/types.ts";
import {
  parseRateLimitHeaders,
  type RateLimitSnapshot,
} from "../codex/rate_limits.ts";
import { machineInfo, upstreamIdentity } from "../codex/request.ts";
import { parseConfig, type ProviderSettings } from "../config.ts";
import { RelayError } from "../errors.ts";
import type {
  Provider,
  ProviderCapacity,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
  ServiceApiProtocol,
} from "../host_types.ts";
import {
  aggregateToResponse,
  errorResponse,
  openUpstream,
  type RelayContext,
  type RelayOptions,
  type RelayOutcome,
  streamToHost,
} from "../relay.ts";
import { ResponseStore } from "../state/response_store.ts";
import { responseToChatCompletion } from "../protocols/chat_response.ts";
import { ChatStreamTranslator } from "../protocols/chat_stream.ts";
import { Watchdog } from "../watchdog.ts";
import { ConcurrencyGate } from "./capacity.ts";
import {
  type PreparedRequest,
  prepareRequest,
  type TurnToStore,
} from "./prepare.ts";
import { pathOf, routeOf } from "./routes.ts";
import { UsageLimit } from "./usage_limit.ts";

/** One finished request, for a log line. Carries no secret. */
export interface RequestLogEntry {
  /** Host request id. */
  requestId: string;
  /** HTTP method. */
  method: string;
  /** Path without the query. */
  path: string;
  /** Requested service, when the body named one. */
  service?: string;
  /** Status answered (200 for every started stream). */
  status: number;
  /** Stable error code when the answer is an error. */
  code?: string;
  /** Whole handling time, in milliseconds. */
  durationMs: number;
  /** Token usage of the final Response object, when known. */
  usage?: Record<string, unknown>;
}

/** Options of {@linkcode createProvider}, for embedding and tests. */
export interface CreateProviderOptions {
  /** Token source to use instead of one over the configured auth file. */
  tokenSource?: TokenSource;
  /** The fetch used for the backend (default: global `fetch`). */
  fetch?: typeof fetch;
  /** Random number in [0, 1) for backoff jitter (default `Math.random`). */
  random?: () => number;
  /** Called once per finished request. */
  onRequestDone?: (entry: RequestLogEntry) => void;
  /**
   * Receives seller-facing warnings (never a token), e.g. refreshed tokens
   * that could not be written back. Default: `console.warn`. Unused when
   * `tokenSource` is given (that source has its own).
   */
  onWarning?: (message: string) => void;
}

/** Per-call options of the request handlers (an extension of the host contract). */
export interface HandleOptions {
  /** Aborts the upstream exchange, e.g. when the buyer disconnects. */
  signal?: AbortSignal;
}

/** A provider created by {@linkcode createProvider}, with its settings. */
export interface OpenAIResponsesProvider extends Provider {
  /** The validated settings this provider runs with. */
  readonly settings: ProviderSettings;
  /** The token source over the seller's credentials. */
  readonly tokens: TokenSource;
  /** Loads and validates the credentials; throws with a message saying how to fix them. */
  init(): Promise<void>;
  /** What the credentials say (no secret), after `init()` or any request. */
  credentials(): Promise<CredentialsInfo>;
  /** The latest rate-limit snapshot from the backend's `x-codex-*` headers. */
  getRateLimits(): RateLimitSnapshot | undefined;
  /** Unix milliseconds until which a usage limit blocks requests, if any. */
  usageLimitedUntil(): number | undefined;
  /** Answers one request whole. */
  handleRequest(
    req: SerializedHttpRequest,
    options?: HandleOptions,
  ): Promise<SerializedHttpResponse>;
  /** Answers one request, streaming through the callbacks when the buyer asked for a stream. */
  handleRequestStream(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks,
    options?: HandleOptions,
  ): Promise<SerializedHttpResponse>;
}

/**
 * Response header listing the request parameters removed because the
 * backend does not accept them (`max_output_tokens`, `temperature`, ...), so
 * that a buyer's client can see what was not applied.
 */
export const DROPPED_HEADER = "x-antseed-dropped-params";

/** Callbacks for `handleRequest` of a streaming buyer: the body is returned whole. */
const NO_CALLBACKS: ProviderStreamCallbacks = {
  onResponseStart() {},
  onResponseChunk() {},
};

/** A failure as the error the buyer gets: an unexpected one is a 500 `internal_error`. */
function asRelayError(error: unknown): RelayError {
  return error instanceof RelayError ? error : new RelayError(
    500,
    "internal_error",
    "The provider failed unexpectedly",
    { cause: error },
  );
}

/**
 * Creates a provider from env-style configuration. Validates every key up
 * front and throws a `ConfigError` naming the bad key; does no file or network
 * I/O (credentials are read by `init()` and on the first request).
 *
 * @example
 * ```ts
 * import { createProvider } from "./provider.ts";
 * const provider = createProvider({ ANTSEED_ALLOWED_SERVICES: "gpt-5.4" });
 * provider.serviceCategories = { "gpt-5.4": ["coding"] };
 * ```
 */
export function createProvider(
  config: Record<string, string>,
  options: CreateProviderOptions = {},
): OpenAIResponsesProvider {
  const settings = parseConfig(config);
  const tokens = options.tokenSource ??
    createTokenSource(settings.authFile, {
      tokenUrl: settings.tokenUrl,
      onWarning: options.onWarning,
    });
  const serviceApiProtocols: Record<string, ServiceApiProtocol[]> = {};
  for (const service of settings.services) {
    serviceApiProtocols[service] = [
      "openai-responses",
      "openai-chat-completions",
    ];
  }
  const capacity = new ConcurrencyGate(settings.maxConcurrency);
  const watchdog = new Watchdog();
  const usageLimit = new UsageLimit(tokens);
  const rateLimits = new RateLimitSnapshots();
  const context: Omit<RelayContext, "signal"> = {
    responsesUrl: settings.responsesUrl,
    requestTimeoutMs: settings.requestTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    watchdog,
    tokens,
    identity: upstreamIdentity(
      settings.originator,
      settings.clientVersion,
      machineInfo(),
    ),
    fetch: options.fetch,
    random: options.random,
    onRateLimits: (headers, at) => rateLimits.observe(headers, at),
    onUsageLimit: (resetsAt, accountId) =>
      usageLimit.record(resetsAt, accountId),
  };
  const store = new ResponseStore({
    maxBytes: settings.stateMaxBytes,
    ttlMs: settings.stateTtlMs,
  });
  const warn = options.onWarning ?? console.warn;
  const warnedModels = new Set<string>();

  /** Keeps a completed turn for later turns that refer to it. */
  function storeTurn(turn: TurnToStore, response: Record<string, unknown>) {
    if (typeof response.id !== "string" || !Array.isArray(response.output)) {
      return;
    }
    store.put(turn.scope, {
      responseId: response.id,
      input: turn.input,
      output: response.output,
      previousResponseId: turn.previousResponseId,
    });
  }

  /** Tells the seller what only the seller can fix, once per model. */
  function noticeFailure(error: RelayError): void {
    if (error.code !== "client_version_too_old") return;
    const model = String(error.details.model ?? "a model");
    if (warnedModels.has(model)) return;
    warnedModels.add(model);
    warn(
      `The Codex backend refused ${model}: it requires a newer Codex client than OPENAI_RESPONSES_CLIENT_VERSION=${settings.clientVersion}. Set OPENAI_RESPONSES_CLIENT_VERSION to the version of a current Codex CLI`,
    );
  }

  /** The upstream exchange of a request that passed every gate. */
  async function relay(
    req: SerializedHttpRequest,
    prepared: PreparedRequest,
    callbacks: ProviderStreamCallbacks | undefined,
    signal: AbortSignal | undefined,
  ): Promise<RelayOutcome> {
    const upstream = await openUpstream(
      prepared,
      signal ? { ...context, signal } : context,
    );
    const answer: RelayOptions = {
      idleTimeoutMs: settings.idleTimeoutMs,
      keepAliveMs: settings.keepAliveMs,
      watchdog,
      keepOutput: prepared.store !== undefined,
    };
    if (prepared.dropped.length > 0) {
      answer.headers = { [DROPPED_HEADER]: prepared.dropped.join(", ") };
    }
    if (prepared.chat) {
      const model = prepared.service;
      if (prepared.stream) {
        answer.translator = new ChatStreamTranslator({
          model,
          includeUsage: prepared.chat.includeUsage,
        });
      } else {
        answer.convert = (response) =>
          responseToChatCompletion(response, { model });
      }
    }
    const outcome = prepared.stream
      ? await streamToHost(
        upstream,
        req.requestId,
        callbacks ?? NO_CALLBACKS,
        answer,
      )
      : await aggregateToResponse(upstream, req.requestId, answer);
    if (outcome.usageLimit) {
      usageLimit.record(outcome.usageLimit.resetsAt, upstream.accountId);
    }
    if (outcome.failure) noticeFailure(outcome.failure);
    if (prepared.store && outcome.final) {
      storeTurn(prepared.store, outcome.final);
    }
    return outcome;
  }

  async function handle(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks | undefined,
    handleOptions: HandleOptions | undefined,
  ): Promise<SerializedHttpResponse> {
    const started = Date.now();
    const path = pathOf(req.path);
    // Known once the body is read; the log line of an early refusal has none.
    const named: { service?: string } = {};
    const finish = (outcome: RelayOutcome, code?: string) => {
      options.onRequestDone?.({
        requestId: req.requestId,
        method: req.method,
        path,
        service: named.service,
        status: outcome.response.statusCode,
        code,
        durationMs: Date.now() - started,
        usage: outcome.usage,
      });
      return outcome.response;
    };
    const fail = (error: RelayError) =>
      finish({ response: errorResponse(req.requestId, error) }, error.code);

    const route = routeOf(path, req.method);
    if (route instanceof RelayError) return fail(route);
    let prepared: PreparedRequest;
    try {
      prepared = await prepareRequest(req, settings, store, route);
    } catch (error) {
      if (error instanceof RelayError) return fail(error);
      throw error;
    }
    named.service = prepared.service;
    const refusal =
      (usageLimit.active ? await usageLimit.refusal() : undefined) ??
        capacity.enter();
    if (refusal) return fail(refusal);
    try {
      return finish(
        await relay(req, prepared, callbacks, handleOptions?.signal),
      );
    } catch (error) {
      const failure = asRelayError(error);
      noticeFailure(failure);
      return fail(failure);
    } finally {
      capacity.leave();
    }
  }

  return {
    name: "openai-responses",
    settings,
    tokens,
    services: [...settings.services],
    pricing: settings.pricing,
    serviceApiProtocols,
    serviceCategories: undefined,
    maxConcurrency: settings.maxConcurrency,
    async init(): Promise<void> {
      await tokens.init();
    },
    credentials(): Promise<CredentialsInfo> {
      return tokens.info();
    },
    getRateLimits(): RateLimitSnapshot | undefined {
      return rateLimits.latest();
    },
    usageLimitedUntil(): number | undefined {
      return usageLimit.until();
    },
    handleRequest(
      req: SerializedHttpRequest,
      handleOptions?: HandleOptions,
    ): Promise<SerializedHttpResponse> {
      return handle(req, undefined, handleOptions);
    },
    handleRequestStream(
      req: SerializedHttpRequest,
      callbacks: ProviderStreamCallbacks,
      handleOptions?: HandleOptions,
    ): Promise<SerializedHttpResponse> {
      return handle(req, callbacks, handleOptions);
    },
    getCapacity(): ProviderCapacity {
      const max = capacity.max;
      // Polled about once a second: the next poll sees a switched login.
      return {
        current: usageLimit.until() === undefined ? capacity.inFlight : max,
        max,
      };
    },
  };
}

/**
 * The latest `x-codex-*` rate-limit headers, parsed only when asked for:
 * every answer carries them, few readers need them.
 */
class RateLimitSnapshots {
  #snapshot: RateLimitSnapshot | undefined;
  #pending: { headers: Headers; at: number } | undefined;

  observe(headers: Headers, at: number): void {
    this.#pending = { headers, at };
  }

  latest(): RateLimitSnapshot | undefined {
    if (this.#pending) {
      const { headers, at } = this.#pending;
      this.#pending = undefined;
      this.#snapshot = parseRateLimitHeaders(headers, at) ?? this.#snapshot;
    }
    return this.#snapshot;
  }
}
