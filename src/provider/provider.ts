/**
 * The `Provider` object the AntSeed node holds: each request passes the
 * route gate (./routes.ts), is read and shaped (./prepare.ts), passes the
 * usage-limit gate (./usage_limit.ts) and the concurrency gate
 * (./capacity.ts), then goes through the relay (../relay.ts).
 *
 * @module
 */

import { homedir } from "node:os";
import { dirname } from "node:path";
import { createTokenSource } from "../auth/token_source.ts";
import type { CredentialsInfo, TokenSource } from "../auth/types.ts";
import type { RateLimitSnapshot } from "../codex/rate_limits.ts";
import type { UsageReport } from "../codex/usage.ts";
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
  type OpenUpstream,
  openUpstream,
  type RelayContext,
  type RelayOptions,
  type RelayOutcome,
  streamToHost,
} from "../relay.ts";
import { ResponseStore } from "../state/response_store.ts";
import { Metrics } from "../metrics.ts";
import { Watchdog } from "../watchdog.ts";
import { maskEmail } from "../cli/mask.ts";
import { ConcurrencyGate } from "./capacity.ts";
import {
  type PreparedRequest,
  prepareRequest,
  type TurnToStore,
} from "./prepare.ts";
import { pathOf, routeOf } from "./routes.ts";
import { Login, LoginPool, type LoginState } from "./pool.ts";

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
   * Keep the numbers `metrics()` shows (default false: a seller node never
   * reads them, and counting tokens means reading each answer's usage).
   * `serve` turns it on for `GET /metrics`.
   */
  metrics?: boolean;
}

/** One login of a provider, as `/health`, `check` and the logs show it. */
export interface LoginStatus {
  /** Its stable label: the account name, `file1`, ..., or `codex`. */
  name: string;
  /** `ok`, `usage_limited`, `login_failed` or `at_capacity`. */
  state: LoginState;
  /** Requests in flight on it. */
  inFlight: number;
  /** Unix milliseconds until which its usage limit blocks it, if one does. */
  usageLimitedUntil?: number;
  /** Its latest rate-limit snapshot, if any answer carried one. */
  rateLimits?: RateLimitSnapshot;
  /** With `logins({ usage: true })`: what the usage endpoint says (cached for a minute). */
  usage?: UsageReport;
  /** With `logins({ usage: true })`: why the usage endpoint could not be read (the rate limits stand in). */
  usageError?: string;
}

/** Which rule chose the logins, and their labels. */
export interface LoginRule {
  /**
   * `auth_file` (OPENAI_RESPONSES_AUTH_FILE), `accounts` (the provider's own,
   * under OPENAI_RESPONSES_HOME), `codex_home` (the Codex CLI's), or
   * `token_source` (given to `createProvider`).
   */
  rule: "auth_file" | "accounts" | "codex_home" | "token_source";
  /** The logins' labels, in order. */
  names: string[];
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
 * Codes of a failure before any byte that another login may not share: the
 * request moves on to the next login that can serve.
 */
const FAILOVER_CODES: ReadonlySet<string> = new Set([
  "usage_limit_reached",
  "upstream_auth_failed",
  "upstream_auth_unavailable",
  "usage_not_included",
  "model_not_supported",
  "upstream_forbidden",
  "upstream_payment_required",
  "upstream_workspace_deactivated",
]);

/** Codes that say the login's plan lacks the model. */
const PLAN_CODES: ReadonlySet<string> = new Set([
  "usage_not_included",
  "model_not_supported",
]);

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
  const warn = options.onWarning ?? console.warn;
  const log = options.onLog ?? console.log;
  const capacity = new ConcurrencyGate(settings.maxConcurrency);
  const watchdog = new Watchdog();
  const base: Omit<RelayContext, "signal" | "tokens"> = {
    responsesUrl: settings.responsesUrl,
    requestTimeoutMs: settings.requestTimeoutMs,
    idleTimeoutMs: settings.idleTimeoutMs,
    watchdog,
    identity: upstreamIdentity(
      settings.originator,
      settings.clientVersion,
      machineInfo(),
    ),
    fetch: options.fetch,
    random: options.random,
  };
  const store = new ResponseStore({
    maxBytes: settings.stateMaxBytes,
    ttlMs: settings.stateTtlMs,
  });
  const warnedModels = new Set<string>();
  const metrics = new Metrics();
  const counting = options.metrics === true;

  let rule: LoginRule["rule"] = "token_source";
  let pool: LoginPool | undefined;
  const contexts = new Map<Login, Omit<RelayContext, "signal">>();

  function addLogins(logins: Login[]): LoginPool {
    for (const login of logins) {
      login.usageLimit.onEnded = () =>
        log(`login ${login.name}: usage limit ended`);
      contexts.set(login, {
        ...base,
        tokens: login.tokens,
        onRateLimits: (headers, at) => login.rateLimits.observe(headers, at),
        onUsageLimit: (resetsAt, accountId) =>
          limitReached(login, resetsAt, accountId),
        onRetry: counting
          ? (reason) =>
            metrics.count("openai_responses_upstream_retries_total", {
              reason,
            })
          : undefined,
      });
    }
    return new LoginPool(logins, {
      accountMaxConcurrency: settings.accountMaxConcurrency,
    });
  }

  if (options.tokenSource) {
    pool = addLogins([new Login("default", options.tokenSource)]);
  }

  let resolving: Promise<LoginPool> | undefined;
  /** The logins, found on first use: the rule looks at the file system. */
  function logins(): Promise<LoginPool> | LoginPool {
    if (pool) return pool;
    // The rules (and the account folders) are loaded when first needed.
    resolving ??= import("../auth/accounts.ts").then(({ resolveLogins }) =>
      resolveLogins({
        authFile: settings.authFiles.join(","),
        home: settings.home,
        codexHome: dirname(settings.codexAuthFile),
        homeDir: homedir(),
      })
    ).then((found) => {
      rule = found.rule;
      pool ??= addLogins(found.logins.map((login) =>
        new Login(
          login.name,
          createTokenSource(login.authFile, {
            tokenUrl: settings.tokenUrl,
            onRefresh: counting
              ? (outcome) =>
                metrics.count("openai_responses_token_refreshes_total", {
                  login: login.name,
                  outcome,
                })
              : undefined,
            onWarning: found.logins.length > 1
              ? (message) => warn(`${login.name}: ${message}`)
              : warn,
          }),
        )
      ));
      return pool;
    }).finally(() => {
      resolving = undefined;
    });
    return resolving;
  }

  function limitReached(login: Login, resetsAt: number, accountId: string) {
    const wasActive = login.usageLimit.active;
    login.usageLimit.record(resetsAt, accountId);
    if (!wasActive) {
      log(
        `login ${login.name}: usage limit reached; it resets at ${
          new Date(resetsAt).toISOString()
        }`,
      );
    }
  }

  /** Keeps a completed turn for later turns that refer to it. */
  function storeTurn(
    turn: TurnToStore,
    final: NonNullable<RelayOutcome["final"]>,
  ) {
    if ("event" in final && turn.request) {
      store.putRaw(turn.scope, {
        responseId: final.event.responseId,
        request: turn.request,
        response: final.event.data,
        previousResponseId: turn.previousResponseId,
      });
      return;
    }
    const response = "response" in final
      ? final.response
      : parseResponse(final.event.data);
    if (
      !response || typeof response.id !== "string" ||
      !Array.isArray(response.output)
    ) {
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

  /**
   * Whether a failure before any byte moves the request to another login;
   * records what it says of `login`.
   */
  async function failOver(
    login: Login,
    error: RelayError,
    model: string,
  ): Promise<boolean> {
    if (!FAILOVER_CODES.has(error.code)) return false;
    if (PLAN_CODES.has(error.code)) {
      const accountId = await login.tokens.info().then(
        (info) => info.accountId,
        () => "",
      );
      login.markNotIncluded(model, accountId);
    } else if (error.code !== "usage_limit_reached") {
      if (!login.broken) {
        log(`login ${login.name}: cannot serve now (${error.code})`);
      }
      login.markBroken();
    }
    return true;
  }

  /** The answer when no login is left to try. */
  async function noLogin(
    from: LoginPool,
    last: RelayError | undefined,
  ): Promise<RelayError> {
    const limited = from.allLimited ? await from.refusal() : undefined;
    if (limited) return limited;
    if (last) return last;
    if (from.logins.some((login) => from.stateOf(login) === "at_capacity")) {
      return capacity.refusal();
    }
    return new RelayError(
      503,
      "upstream_auth_failed",
      "None of the seller's upstream logins can be used right now; try another seller or try again later",
    );
  }

  /** The upstream exchange of a request that passed every gate, on the logins of `from`. */
  async function relay(
    req: SerializedHttpRequest,
    prepared: PreparedRequest,
    from: LoginPool,
    callbacks: ProviderStreamCallbacks | undefined,
    signal: AbortSignal | undefined,
  ): Promise<RelayOutcome> {
    const several = from.logins.length > 1;
    const excluded = new Set<Login>();
    let last: RelayError | undefined;
    for (;;) {
      const login = from.pick(prepared.model, prepared.affinity, excluded);
      if (!login) throw await noLogin(from, last);
      const context = contexts.get(login)!;
      login.inFlight++;
      try {
        let upstream: OpenUpstream;
        const asked = performance.now();
        try {
          upstream = await openUpstream(
            prepared,
            signal ? { ...context, signal } : context,
          );
          if (counting) {
            metrics.observe(
              "openai_responses_upstream_first_byte_seconds",
              {},
              (performance.now() - asked) / 1000,
            );
          }
        } catch (error) {
          const failure = asRelayError(error);
          if (several && await failOver(login, failure, prepared.model)) {
            excluded.add(login);
            last = failure;
            continue;
          }
          throw failure;
        }
        return await answer(req, prepared, upstream, login, callbacks);
      } finally {
        login.inFlight--;
      }
    }
  }

  /** Streams or aggregates an open exchange to the buyer, in the buyer's protocol. */
  async function answer(
    req: SerializedHttpRequest,
    prepared: PreparedRequest,
    upstream: OpenUpstream,
    login: Login,
    callbacks: ProviderStreamCallbacks | undefined,
  ): Promise<RelayOutcome> {
    const how: RelayOptions = {
      idleTimeoutMs: settings.idleTimeoutMs,
      keepAliveMs: settings.keepAliveMs,
      keepOutput: prepared.store !== undefined,
    };
    if (prepared.dropped.length > 0) {
      how.headers = { [DROPPED_HEADER]: prepared.dropped.join(", ") };
    }
    if (prepared.chat) {
      // Loaded with the first Chat Completions request (cold start).
      const model = prepared.service;
      if (prepared.stream) {
        const { ChatStreamTranslator } = await import(
          "../protocols/chat_stream.ts"
        );
        how.translator = new ChatStreamTranslator({
          model,
          includeUsage: prepared.chat.includeUsage,
        });
      } else {
        const { responseToChatCompletion } = await import(
          "../protocols/chat_response.ts"
        );
        how.convert = (response) =>
          responseToChatCompletion(response, { model });
      }
    }
    const outcome = prepared.stream
      ? await streamToHost(
        upstream,
        req.requestId,
        callbacks ?? NO_CALLBACKS,
        how,
      )
      : await aggregateToResponse(upstream, req.requestId, how);
    if (outcome.usageLimit) {
      limitReached(login, outcome.usageLimit.resetsAt, upstream.accountId);
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
    let route = "none";
    const finish = (outcome: RelayOutcome, code?: string) => {
      const status = outcome.response.statusCode;
      if (counting) {
        count(route, status, code ?? outcome.failure?.code, outcome.usage);
      }
      if (options.onRequestDone || settings.log === "requests") {
        const entry: RequestLogEntry = {
          requestId: req.requestId,
          method: req.method,
          path,
          service: named.service,
          status,
          code,
          durationMs: Date.now() - started,
          usage: outcome.usage,
        };
        options.onRequestDone?.(entry);
        if (settings.log === "requests") log(requestLine(entry));
      }
      return outcome.response;
    };
    const fail = (error: RelayError) =>
      finish({ response: errorResponse(req.requestId, error) }, error.code);

    const routed = routeOf(path, req.method);
    if (routed instanceof RelayError) return fail(routed);
    route = routed;
    let prepared: PreparedRequest;
    try {
      prepared = await prepareRequest(req, settings, store, routed);
    } catch (error) {
      if (error instanceof RelayError) return fail(error);
      throw error;
    }
    named.service = prepared.service;
    let from: LoginPool;
    try {
      from = pool ?? await logins();
    } catch (error) {
      return fail(asRelayError(error));
    }
    const refusal = (from.allLimited ? await from.refusal() : undefined) ??
      capacity.enter();
    if (refusal) return fail(refusal);
    try {
      const outcome = await relay(
        req,
        prepared,
        from,
        callbacks,
        handleOptions?.signal,
      );
      if (counting) {
        metrics.observe(
          "openai_responses_request_duration_seconds",
          {},
          (Date.now() - started) / 1000,
        );
      }
      return finish(outcome);
    } catch (error) {
      const failure = asRelayError(error);
      noticeFailure(failure);
      return fail(failure);
    } finally {
      capacity.leave();
    }
  }

  /** Counts a finished request and its tokens. */
  function count(
    route: string,
    status: number,
    code: string | undefined,
    usage: Record<string, unknown> | undefined,
  ): void {
    metrics.count("openai_responses_requests_total", {
      route,
      status: String(status),
      code: code ?? "",
    });
    if (!usage) return;
    const input = usage.input_tokens_details as Record<string, unknown> | null;
    const output = usage.output_tokens_details as
      | Record<string, unknown>
      | null;
    countTokens("input", usage.input_tokens);
    countTokens("output", usage.output_tokens);
    countTokens("cached", input?.cached_tokens);
    countTokens("reasoning", output?.reasoning_tokens);
  }

  function countTokens(kind: string, value: unknown): void {
    if (typeof value === "number" && value > 0) {
      metrics.count("openai_responses_tokens_total", { kind }, value);
    }
  }

  const usageCache = new Map<
    Login,
    { at: number; result: Promise<{ usage?: UsageReport; error?: string }> }
  >();

  /** What the usage endpoint says of a login, asked at most once a minute. */
  function usageOf(
    login: Login,
  ): Promise<{ usage?: UsageReport; error?: string }> {
    const cached = usageCache.get(login);
    if (cached && Date.now() - cached.at < USAGE_CACHE_MS) return cached.result;
    const result = Promise.all([
      login.tokens.getToken(),
      import("../codex/usage.ts"),
    ]).then(([token, { readUsage }]) =>
      readUsage(settings.baseUrl, token, {
        fetch: options.fetch,
        identity: base.identity,
      })
    ).then(
      (usage): { usage?: UsageReport; error?: string } => ({ usage }),
      (error): { usage?: UsageReport; error?: string } => ({
        error: error instanceof RelayError ? error.message : "unavailable",
      }),
    );
    usageCache.set(login, { at: Date.now(), result });
    return result;
  }

  /** The first login, once found. */
  async function first(): Promise<Login> {
    return (pool ?? await logins()).logins[0];
  }

  /** The seller's credentials as one token source (over the pool). */
  const tokens: TokenSource = {
    async init() {
      return await (await first()).tokens.init();
    },
    async getToken() {
      const from = pool ?? await logins();
      const login = from.pick("", undefined, new Set()) ?? from.logins[0];
      return await login.tokens.getToken();
    },
    async handleUnauthorized(failed) {
      return await (await first()).tokens.handleUnauthorized(failed);
    },
    async forceRefresh() {
      return await (await first()).tokens.forceRefresh();
    },
    async info() {
      return await (await first()).tokens.info();
    },
  };

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
      const from = pool ?? await logins();
      if (from.logins.length === 1) {
        const info = await from.logins[0].tokens.init();
        if (rule !== "token_source") {
          log(
            `logins (${RULE_TEXT[rule]}): ${loginLine(from.logins[0], info)}`,
          );
        }
        return;
      }
      const results = await Promise.allSettled(
        from.logins.map((login) => login.tokens.init()),
      );
      const lines: string[] = [];
      let usable = 0;
      results.forEach((result, index) => {
        const login = from.logins[index];
        if (result.status === "fulfilled") {
          usable++;
          lines.push(loginLine(login, result.value));
        } else {
          login.markBroken();
          const code = (result.reason as { code?: unknown } | null)?.code;
          lines.push(
            `${login.name} cannot be used now (${
              typeof code === "string" ? code : "error"
            }); it is passed over`,
          );
        }
      });
      log(`logins (${RULE_TEXT[rule]}):\n  ${lines.join("\n  ")}`);
      if (usable === 0) {
        const reason = (results[0] as PromiseRejectedResult).reason;
        throw reason;
      }
    },
    credentials(): Promise<CredentialsInfo> {
      return tokens.info();
    },
    getRateLimits(): RateLimitSnapshot | undefined {
      return pool?.logins[0].rateLimits.latest();
    },
    usageLimitedUntil(): number | undefined {
      return pool?.limitedUntil();
    },
    async logins(asked?: { usage?: boolean }): Promise<LoginStatus[]> {
      const from = pool ?? await logins();
      const reports = asked?.usage
        ? await Promise.all(from.logins.map((login) => usageOf(login)))
        : [];
      return from.logins.map((login, index) => {
        const status: LoginStatus = {
          name: login.name,
          state: from.stateOf(login),
          inFlight: login.inFlight,
        };
        const until = login.usageLimit.until();
        if (until !== undefined) status.usageLimitedUntil = until;
        const limits = login.rateLimits.latest();
        if (limits) status.rateLimits = limits;
        const report = reports[index];
        if (report?.usage) status.usage = report.usage;
        if (report?.error) status.usageError = report.error;
        return status;
      });
    },
    metrics(): string {
      const up: [Record<string, string>, number][] = [];
      const until: [Record<string, string>, number][] = [];
      const used: [Record<string, string>, number][] = [];
      for (const login of pool?.logins ?? []) {
        const state = pool!.stateOf(login);
        up.push([{ login: login.name, state }, state === "ok" ? 1 : 0]);
        const limited = login.usageLimit.until();
        until.push([
          { login: login.name },
          limited === undefined ? 0 : Math.floor(limited / 1000),
        ]);
        const limits = login.rateLimits.latest();
        for (const window of ["primary", "secondary"] as const) {
          const percent = limits?.[window]?.usedPercent;
          if (percent !== undefined) {
            used.push([{ login: login.name, window }, percent]);
          }
        }
      }
      return metrics.text({
        openai_responses_login_up: up,
        openai_responses_login_usage_limited_until_seconds: until,
        openai_responses_login_used_percent: used,
        openai_responses_requests_in_flight: [[{}, capacity.inFlight]],
      });
    },
    async loginRule(): Promise<LoginRule> {
      const from = pool ?? await logins();
      return { rule, names: from.logins.map((login) => login.name) };
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
      const full = pool !== undefined &&
        (pool.limitedUntil() !== undefined ||
          (pool.logins.length > 1 && pool.exhausted));
      return { current: full ? max : capacity.inFlight, max };
    },
  };
}

/** The Response of a completed event's data, or undefined. */
function parseResponse(
  data: Uint8Array,
): Record<string, unknown> | undefined {
  try {
    const event = JSON.parse(new TextDecoder().decode(data));
    return event?.response;
  } catch {
    return undefined;
  }
}

/** How long what the usage endpoint said is reused, in milliseconds. */
const USAGE_CACHE_MS = 60_000;

const RULE_TEXT: Record<LoginRule["rule"], string> = {
  auth_file: "OPENAI_RESPONSES_AUTH_FILE",
  accounts: "the accounts under OPENAI_RESPONSES_HOME",
  codex_home: "the Codex CLI's auth.json",
  token_source: "a token source given to createProvider",
};

/** A login as a log line: label, masked email, plan, expiry; no secret. */
function loginLine(login: Login, info: CredentialsInfo): string {
  const parts = [login.name];
  if (info.email !== undefined) parts.push(maskEmail(info.email));
  if (info.plan !== undefined) parts.push(`plan ${info.plan}`);
  if (info.expiresAt !== undefined) {
    parts.push(`token expires ${new Date(info.expiresAt).toISOString()}`);
  }
  return parts.join(", ");
}

/** One finished request as a log line (`OPENAI_RESPONSES_LOG=requests`): no secret, no prompt text. */
function requestLine(entry: RequestLogEntry): string {
  const usage = entry.usage;
  const tokens = usage
    ? ` tokens in=${usage.input_tokens ?? "?"} out=${
      usage.output_tokens ?? "?"
    }`
    : "";
  return `request ${entry.method} ${entry.path} ${
    entry.service ?? "-"
  } ${entry.status}${
    entry.code ? ` ${entry.code}` : ""
  } ${entry.durationMs}ms${tokens}`;
}
