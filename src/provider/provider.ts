/**
 * The `Provider` object the AntSeed node holds, wired from three parts: the
 * request pipeline (./pipeline.ts: route, admit, prepare, relay, answer,
 * finish), the logins' lifecycle (./logins.ts) and what the seller is told
 * (./observability.ts).
 *
 * @module
 */

import type { CredentialsInfo, TokenSource } from "../auth/types.ts";
import type { RateLimitSnapshot } from "../codex/rate_limits.ts";
import type { ClientVersionChoice } from "../codex/client_version.ts";
import { parseConfig, type ProviderSettings } from "../config.ts";
import type {
  Provider,
  ProviderCapacity,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
  ServiceApiProtocol,
} from "../host_types.ts";
import { ResponseStore } from "../state/response_store.ts";
import { Watchdog } from "../watchdog.ts";
import { ConcurrencyGate } from "./capacity.ts";
import { type LoginRule, Logins, type LoginStatus } from "./logins.ts";
import { Observability, type RequestLogEntry } from "./observability.ts";
import { handleRequest, type Pipeline } from "./pipeline.ts";

export type { LoginRule, LoginStatus } from "./logins.ts";
export type { RequestLogEntry } from "./observability.ts";
export { DROPPED_HEADER } from "./pipeline.ts";

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
   * that could not be written back. Default: `console.warn`. Unused by a
   * `tokenSource` given here (it has its own).
   */
  onWarning?: (message: string) => void;
  /**
   * Receives the seller-facing log lines (no secret, no prompt text): the
   * logins found at `init()`, state changes (a login needing renewal, usage
   * limits reached and ended) and, with `OPENAI_RESPONSES_LOG=requests`, one
   * line per finished request. Default: `console.log`.
   */
  onLog?: (line: string) => void;
  /**
   * Print the per-request log lines (default true): `OPENAI_RESPONSES_LOG=requests`
   * lines, and at the default level the line of a request that failed on the
   * seller's side. `serve` turns them off: it prints one line per request of
   * its own, with the code from `onRequestDone`.
   */
  logRequests?: boolean;
  /**
   * Keep the numbers `metrics()` shows (default false: a seller node never
   * reads them, and counting tokens means reading each answer's usage).
   * `serve` turns it on for `GET /metrics`.
   */
  metrics?: boolean;
  /**
   * The seller's home folder, shown as `~` in every log line and warning
   * (a warning may quote a file's path). Default: the process's home.
   */
  homeDir?: string;
  /**
   * The Codex CLI version to speak as, chosen already (`check` gives each
   * per-login provider the one chosen over all logins). Default: chosen when
   * the logins are found, from OPENAI_RESPONSES_CLIENT_VERSION, the default
   * and the Codex homes' `version.json`.
   */
  clientVersion?: ClientVersionChoice;
}

/** Per-call options of the request handlers (an extension of the host contract). */
export interface HandleOptions {
  /** Aborts the upstream exchange, e.g. when the buyer disconnects. */
  signal?: AbortSignal;
  /**
   * Hold a slow non-streaming answer open as a committed JSON stream
   * (`OPENAI_RESPONSES_HOLD_MS`, see ./hold.ts) when callbacks are given
   * (default true: the AntSeed node's buyer waits 30 s at most). `serve`
   * sets it to false: a local client has no such window, and keeps the
   * answer's own status.
   */
  hold?: boolean;
}

/** A provider created by {@linkcode createProvider}, with its settings. */
export interface OpenAIResponsesProvider extends Provider {
  /** The validated settings this provider runs with. */
  readonly settings: ProviderSettings;
  /**
   * The seller's credentials as one token source: a token of a login that
   * can serve (the first one, for `info` and `forceRefresh`).
   */
  readonly tokens: TokenSource;
  /** Loads and validates the credentials; throws with a message saying how to fix them. */
  init(): Promise<void>;
  /** What the credentials say (no secret), after `init()` or any request. */
  credentials(): Promise<CredentialsInfo>;
  /** The latest rate-limit snapshot from the backend's `x-codex-*` headers. */
  getRateLimits(): RateLimitSnapshot | undefined;
  /** Unix milliseconds until which usage limits block every login, if they do. */
  usageLimitedUntil(): number | undefined;
  /**
   * Each login the provider serves from, and what keeps it from serving (no
   * secret); with `usage`, also what the backend's usage endpoint says of it.
   */
  logins(options?: { usage?: boolean }): Promise<LoginStatus[]>;
  /** Which rule chose the logins (see the README, "Logins"). */
  loginRule(): Promise<LoginRule>;
  /** The Codex CLI version spoken upstream and why (finds the logins first). */
  clientVersion(): Promise<ClientVersionChoice>;
  /** Its numbers in the Prometheus text format (`GET /metrics` of `serve`). */
  metrics(): string;
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
 * Creates a provider from env-style configuration. Validates every key up
 * front and throws a `ConfigError` naming the bad key; does no file or network
 * I/O (the logins are found and read by `init()`, or by the first request).
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
  const serviceApiProtocols: Record<string, ServiceApiProtocol[]> = {};
  for (const service of settings.services) {
    serviceApiProtocols[service] = [
      "openai-responses",
      "openai-chat-completions",
    ];
  }
  const observability = new Observability(settings, options);
  const capacity = new ConcurrencyGate(settings.maxConcurrency);
  const logins = new Logins({
    settings,
    observability,
    tokenSource: options.tokenSource,
    fetch: options.fetch,
    clientVersion: options.clientVersion,
    base: {
      responsesUrl: settings.responsesUrl,
      requestTimeoutMs: settings.requestTimeoutMs,
      idleTimeoutMs: settings.idleTimeoutMs,
      watchdog: new Watchdog(),
      fetch: options.fetch,
      random: options.random,
    },
  });
  const parts: Pipeline = {
    settings,
    capacity,
    logins,
    observability,
    store: new ResponseStore({
      maxBytes: settings.stateMaxBytes,
      ttlMs: settings.stateTtlMs,
      buyerShare: settings.stateBuyerShare,
    }),
  };
  const tokens = logins.tokenSource();

  return {
    name: "openai-responses",
    settings,
    tokens,
    services: [...settings.services],
    pricing: settings.pricing,
    serviceApiProtocols,
    serviceCategories: undefined,
    maxConcurrency: settings.maxConcurrency,
    init: () => logins.init(),
    credentials: (): Promise<CredentialsInfo> => tokens.info(),
    getRateLimits: (): RateLimitSnapshot | undefined =>
      logins.found?.logins[0].rateLimits.latest(),
    usageLimitedUntil: (): number | undefined => logins.found?.limitedUntil(),
    logins: (asked?: { usage?: boolean }): Promise<LoginStatus[]> =>
      logins.statuses(asked?.usage === true),
    metrics: (): string =>
      observability.text({
        ...logins.gauges(),
        openai_responses_requests_in_flight: [[{}, capacity.inFlight]],
      }),
    loginRule: (): Promise<LoginRule> => logins.rule(),
    clientVersion: (): Promise<ClientVersionChoice> => logins.clientVersion(),
    handleRequest: (
      req: SerializedHttpRequest,
      handleOptions?: HandleOptions,
    ): Promise<SerializedHttpResponse> =>
      handleRequest(parts, req, undefined, handleOptions),
    handleRequestStream: (
      req: SerializedHttpRequest,
      callbacks: ProviderStreamCallbacks,
      handleOptions?: HandleOptions,
    ): Promise<SerializedHttpResponse> =>
      handleRequest(parts, req, callbacks, handleOptions),
    getCapacity(): ProviderCapacity {
      const max = capacity.max;
      // Polled about once a second: the next poll sees a switched login.
      return { current: logins.full ? max : capacity.inFlight, max };
    },
  };
}
