/**
 * The `Provider` object: path gate, request validation, usage-limit gate,
 * concurrency gate and capacity, around the relay.
 *
 * @module
 */

import { createTokenSource } from "./auth/token_source.ts";
import type { CredentialsInfo, TokenSource } from "./auth/types.ts";
import { usageLimitError } from "./codex/errors.ts";
import {
  parseRateLimitHeaders,
  type RateLimitSnapshot,
} from "./codex/rate_limits.ts";
import {
  encodeUpstreamBody,
  readRequestJson,
  shapeRequest,
  upstreamSessionId,
} from "./codex/request.ts";
import { parseConfig, type ProviderSettings } from "./config.ts";
import { Watchdog } from "./watchdog.ts";
import { RelayError } from "./errors.ts";
import type {
  Provider,
  ProviderCapacity,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
  ServiceApiProtocol,
} from "./host_types.ts";
import {
  aggregateToResponse,
  errorResponse,
  openUpstream,
  type RelayContext,
  type RelayOutcome,
  streamToHost,
  type UpstreamRequest,
} from "./relay.ts";

/** The one path the provider serves. */
export const RESPONSES_PATH = "/v1/responses";

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
}

/** A shaped buyer request, ready for the backend. */
interface PreparedRequest extends UpstreamRequest {
  /** The requested service. */
  service: string;
  /** Whether the buyer asked for a stream. */
  stream: boolean;
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

/** Callbacks for `handleRequest` of a streaming buyer: the body is returned whole. */
const NO_CALLBACKS: ProviderStreamCallbacks = {
  onResponseStart() {},
  onResponseChunk() {},
};

function pathOf(path: string): string {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
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
    createTokenSource(settings.authFile, { tokenUrl: settings.tokenUrl });
  const serviceApiProtocols: Record<string, ServiceApiProtocol[]> = {};
  for (const service of settings.services) {
    serviceApiProtocols[service] = ["openai-responses"];
  }

  let inFlight = 0;
  let rateLimits: RateLimitSnapshot | undefined;
  let rateLimitHeaders: { headers: Headers; at: number } | undefined;
  /** The usage limit the backend reported, and the account it belongs to. */
  let usageLimit: { until: number; accountId: string } | undefined;
  let accountCheck: Promise<void> | undefined;

  /** Whether a usage limit blocks requests now; forgets one that has passed. */
  function usageLimited(): boolean {
    if (usageLimit && usageLimit.until <= Date.now()) usageLimit = undefined;
    return usageLimit !== undefined;
  }

  function recordUsageLimit(resetsAt: number, accountId: string): void {
    usageLimit = { until: resetsAt, accountId };
  }

  /**
   * Forgets the usage limit when auth.json now holds another account: the
   * seller switched logins and the limit was the old login's. Runs only while
   * a limit blocks (no request then fetches a token, so nothing else looks at
   * the file); the token source looks at the file at most once a second.
   */
  function recheckLimitedAccount(): Promise<void> {
    accountCheck ??= checkLimitedAccount().finally(() => {
      accountCheck = undefined;
    });
    return accountCheck;
  }

  async function checkLimitedAccount(): Promise<void> {
    const limit = usageLimit;
    if (!limit) return;
    let accountId: string;
    try {
      accountId = (await tokens.info()).accountId;
    } catch {
      return; // Unreadable now (mid-write, logged out): the limit stays.
    }
    if (usageLimit === limit && accountId !== limit.accountId) {
      usageLimit = undefined;
    }
  }

  const baseContext: Omit<RelayContext, "signal"> = {
    responsesUrl: settings.responsesUrl,
    requestTimeoutMs: settings.requestTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    watchdog: new Watchdog(),
    tokens,
    fetch: options.fetch,
    random: options.random,
    onRateLimits(headers, at) {
      rateLimitHeaders = { headers, at };
    },
    onUsageLimit: recordUsageLimit,
  };

  const relayOptions = { idleTimeoutMs: settings.idleTimeoutMs };

  async function handle(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks | undefined,
    handleOptions: HandleOptions | undefined,
  ): Promise<SerializedHttpResponse> {
    const started = Date.now();
    const path = pathOf(req.path);
    let service: string | undefined;
    const finish = (outcome: RelayOutcome, code?: string) => {
      options.onRequestDone?.({
        requestId: req.requestId,
        method: req.method,
        path,
        service,
        status: outcome.response.statusCode,
        code,
        durationMs: Date.now() - started,
        usage: outcome.usage,
      });
      return outcome.response;
    };
    const fail = (error: RelayError) =>
      finish({ response: errorResponse(req.requestId, error) }, error.code);

    if (path !== RESPONSES_PATH) {
      return fail(
        new RelayError(
          404,
          "not_found",
          `Unknown path ${
            JSON.stringify(path.slice(0, 200))
          }: this provider serves POST ${RESPONSES_PATH}`,
        ),
      );
    }
    if (req.method.toUpperCase() !== "POST") {
      return fail(
        new RelayError(
          405,
          "method_not_allowed",
          `Method ${
            JSON.stringify(req.method.slice(0, 20))
          } is not allowed on ${RESPONSES_PATH}: use POST`,
          { headers: { allow: "POST" } },
        ),
      );
    }

    let prepared: PreparedRequest;
    try {
      prepared = await prepare(req.body);
      service = prepared.service;
    } catch (error) {
      if (error instanceof RelayError) return fail(error);
      throw error;
    }

    if (usageLimited()) {
      await recheckLimitedAccount();
      if (usageLimit && usageLimited()) {
        return fail(usageLimitError(usageLimit.until));
      }
    }
    if (inFlight >= settings.maxConcurrency) {
      return fail(
        new RelayError(
          429,
          "provider_at_capacity",
          `The provider is serving its maximum of ${settings.maxConcurrency} concurrent requests; retry shortly`,
          { headers: { "retry-after": "1" } },
        ),
      );
    }

    inFlight++;
    try {
      const signal = handleOptions?.signal;
      const upstream = await openUpstream(
        prepared,
        signal ? { ...baseContext, signal } : baseContext,
      );
      const outcome = prepared.stream
        ? await streamToHost(
          upstream,
          req.requestId,
          callbacks ?? NO_CALLBACKS,
          relayOptions,
        )
        : await aggregateToResponse(upstream, req.requestId, relayOptions);
      if (outcome.usageLimit) {
        recordUsageLimit(outcome.usageLimit.resetsAt, upstream.accountId);
      }
      return finish(outcome);
    } catch (error) {
      return fail(
        error instanceof RelayError ? error : new RelayError(
          500,
          "internal_error",
          "The provider failed unexpectedly",
          { cause: error },
        ),
      );
    } finally {
      inFlight--;
    }
  }

  /**
   * Parses and shapes the buyer's body. Returns strings only, so that the
   * parsed objects are not held while the answer streams.
   */
  async function prepare(body: Uint8Array): Promise<PreparedRequest> {
    const buyer = readRequestJson(body, settings.maxBodyBytes);
    const shaped = shapeRequest(buyer.value, {
      defaultInstructions: settings.defaultInstructions,
      aliasMap: settings.aliasMap,
      allowedServices: settings.allowedServices,
    });
    return {
      service: shaped.service,
      stream: shaped.stream,
      body: encodeUpstreamBody(buyer, shaped.body),
      sessionId: await upstreamSessionId(shaped.promptCacheKey),
    };
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
      if (rateLimitHeaders) {
        const { headers, at } = rateLimitHeaders;
        rateLimitHeaders = undefined;
        rateLimits = parseRateLimitHeaders(headers, at) ?? rateLimits;
      }
      return rateLimits;
    },
    usageLimitedUntil(): number | undefined {
      if (!usageLimited()) return undefined;
      void recheckLimitedAccount();
      return usageLimit?.until;
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
      const max = settings.maxConcurrency;
      if (!usageLimited()) return { current: inFlight, max };
      // Polled about once a second: the next poll sees a switched login.
      void recheckLimitedAccount();
      return { current: max, max };
    },
  };
}
