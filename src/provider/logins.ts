/**
 * The lifecycle of a provider's logins: found on first use by the rules of
 * the README ("Logins"), given each a relay context, told what the backend
 * says of them (usage limits, refused credentials, models their plan lacks),
 * and shown to the seller (`init`, `/health`, `/metrics`).
 *
 * @module
 */

import { homedir } from "node:os";
import { dirname } from "node:path";
import { createTokenSource } from "../auth/token_source.ts";
import type { CredentialsInfo, TokenSource } from "../auth/types.ts";
import {
  chooseClientVersion,
  type ClientVersionChoice,
  codexHomesOf,
  selectClientVersion,
} from "../codex/client_version.ts";
import {
  machineInfo,
  type UpstreamIdentity,
  upstreamIdentity,
} from "../codex/request.ts";
import {
  type CatalogRead,
  ModelCatalog,
  readModelCatalog,
} from "../codex/catalog.ts";
import { type AccountState, accountStateOfFailure } from "../codex/errors.ts";
import { LoginInstallation } from "../codex/login_identity.ts";
import type { RateLimitSnapshot } from "../codex/rate_limits.ts";
import type { UsageReport } from "../codex/usage.ts";
import type { ResetCredits } from "../codex/reset_credits.ts";
import { DEFAULT_CLIENT_VERSION, type ProviderSettings } from "../config.ts";
import { RelayError } from "../errors.ts";
import type { RelayContext } from "../relay.ts";
import { stateAdvice, stateMeaning } from "./account_states.ts";
import type { ConcurrencyGate } from "./capacity.ts";
import {
  type GaugeSeries,
  loginLine,
  type Observability,
} from "./observability.ts";
import { Login, LoginPool, type LoginState } from "./pool.ts";

/** One login of a provider, as `/health`, `check` and the logs show it. */
export interface LoginStatus {
  /** Its stable label: the account name, `file1`, ..., or `codex`. */
  name: string;
  /**
   * `ok`; a named account state that only the seller ends (`needs_login`,
   * `deactivated`, `no_codex_access`, `blocked`); or `usage_limited`,
   * `login_failed` (passed over for 30 s) or `at_capacity`.
   */
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
  /** With `logins({ usage: true })`: its banked rate-limit resets (cached for a minute; never spent here). */
  resetCredits?: ResetCredits;
  /** With `logins({ usage: true })`: why the banked resets could not be read. */
  resetCreditsError?: string;
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

/** A relay context without the per-request parts. */
export type LoginContext = Omit<RelayContext, "signal">;

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
  "upstream_account_deactivated",
]);

/** The answer for a login whose credentials need a new login. */
const NEEDS_LOGIN = new RelayError(
  503,
  "upstream_auth_failed",
  "The seller's upstream login cannot be used right now; try another seller or try again later",
);

/** How long what the usage endpoint said is reused, in milliseconds. */
const USAGE_CACHE_MS = 60_000;

const RULE_TEXT: Record<LoginRule["rule"], string> = {
  auth_file: "OPENAI_RESPONSES_AUTH_FILE",
  accounts: "the accounts under OPENAI_RESPONSES_HOME",
  codex_home: "the Codex CLI's auth.json",
  token_source: "a token source given to createProvider",
};

/** A time for a log line; never throws, whatever the backend said. */
function timeText(ms: number): string {
  const at = new Date(ms);
  return Number.isNaN(at.getTime()) ? "an unknown time" : at.toISOString();
}

type UsageResult = {
  usage?: UsageReport;
  error?: string;
  resets?: ResetCredits;
  resetsError?: string;
};

/** What {@linkcode Logins} is built from. */
export interface LoginsOptions {
  /** The provider's settings. */
  settings: ProviderSettings;
  /**
   * The relay context every login shares (its token source is added per
   * login, and the identity once the version is chosen).
   */
  base: Omit<RelayContext, "signal" | "tokens" | "identity">;
  /** The provider's log lines and numbers. */
  observability: Observability;
  /** A token source to serve from instead of the rules' logins. */
  tokenSource?: TokenSource;
  /** The fetch used for the usage endpoint. */
  fetch?: typeof fetch;
  /**
   * The client version chosen already (`check`'s per-login providers share
   * the one chosen over all logins); default: chosen when the logins are
   * found ({@linkcode selectClientVersion}).
   */
  clientVersion?: ClientVersionChoice;
}

/**
 * The logins of one provider and what is known of them.
 *
 * @example
 * ```ts ignore
 * const logins = new Logins({ settings, base, observability });
 * const pool = await logins.pool();
 * ```
 */
export class Logins {
  readonly #settings: ProviderSettings;
  readonly #base: Omit<RelayContext, "signal" | "tokens" | "identity">;
  readonly #seen: Observability;
  readonly #fetch: typeof fetch | undefined;
  readonly #contexts = new Map<Login, LoginContext>();
  readonly #catalogs = new Map<Login, ModelCatalog>();
  readonly #usage = new Map<
    Login,
    { at: number; result: Promise<UsageResult> }
  >();
  #rule: LoginRule["rule"] = "token_source";
  #version: ClientVersionChoice | undefined;
  // Built once when the version is chosen, shared by every request.
  #identity: UpstreamIdentity | undefined;
  #pool: LoginPool | undefined;
  /** The installation ids of the logins found, in their order (read once). */
  #installationIds: string[] = [];
  #resolving: Promise<LoginPool> | undefined;

  /**
   * Creates the logins; finds none yet (that looks at the file system).
   *
   * @param options settings, shared relay context, observability
   */
  constructor(options: LoginsOptions) {
    this.#settings = options.settings;
    this.#base = options.base;
    this.#seen = options.observability;
    this.#fetch = options.fetch;
    if (options.clientVersion) this.#speak(options.clientVersion);
    if (options.tokenSource) {
      // No Codex home: the key, else the default.
      if (!this.#version) {
        this.#speak(chooseClientVersion({
          pinned: this.#settings.clientVersionPinned
            ? this.#settings.clientVersion
            : undefined,
          fallback: DEFAULT_CLIENT_VERSION,
        }));
      }
      this.#pool = this.#poolOf([new Login("default", options.tokenSource)]);
    }
  }

  /** The pool once found (undefined before the first use). */
  get found(): LoginPool | undefined {
    return this.#pool;
  }

  /** The pool of logins, found on first use. */
  pool(): Promise<LoginPool> | LoginPool {
    if (this.#pool) return this.#pool;
    this.#resolving ??= this.#resolve().finally(() => {
      this.#resolving = undefined;
    });
    return this.#resolving;
  }

  /**
   * The relay context of a login.
   *
   * @param login a login of the pool
   * @returns its context
   */
  contextOf(login: Login): LoginContext {
    return this.#contexts.get(login)!;
  }

  /**
   * Records a usage limit of a login, and says so when it starts.
   *
   * @param login the limited login
   * @param resetsAt when the limit ends, ms since the epoch
   * @param accountId the account it was answered for
   */
  limitReached(login: Login, resetsAt: number, accountId: string): void {
    const wasActive = login.usageLimit.active;
    login.usageLimit.record(resetsAt, accountId);
    if (!wasActive) {
      this.#seen.log(
        `login ${login.name}: usage limit reached; it resets at ${
          timeText(login.usageLimit.until() ?? resetsAt)
        }`,
      );
    }
  }

  /**
   * Whether a failure before any byte moves the request to another login;
   * records what it says of `login`.
   *
   * @param login the login that failed
   * @param error the failure
   * @param model the upstream model asked for
   * @returns true when another login may serve the request
   */
  async failOver(
    login: Login,
    error: RelayError,
    model: string,
  ): Promise<boolean> {
    if (!FAILOVER_CODES.has(error.code)) return false;
    const state = accountStateOfFailure(error);
    if (state !== undefined) {
      this.takeOut(login, state, error);
      return true;
    }
    // With one login a pause would only turn the next answers into a
    // generic refusal: only named states are kept.
    if ((this.#pool?.logins.length ?? 1) < 2) return true;
    if (error.code === "model_not_supported") {
      const accountId = await login.tokens.info().then(
        (info) => info.accountId,
        () => "",
      );
      login.markNotIncluded(model, accountId, error);
    } else if (error.code !== "usage_limit_reached") {
      if (!login.broken) {
        this.#seen.log(`login ${login.name}: cannot serve now (${error.code})`);
      }
      login.markBroken();
    }
    return true;
  }

  /**
   * Takes `login` out of rotation in `state`; says so to the seller once per
   * change of state, by the login's name, with what to do.
   *
   * @param login the login
   * @param state its account state
   * @param error the failure that showed it (answered while it lasts)
   */
  takeOut(login: Login, state: AccountState, error: RelayError): void {
    if (!login.takeOut(state, error)) return;
    this.#seen.log(
      `login ${login.name}: ${state}: ${
        stateMeaning(state)
      } (${error.code}); it is out of rotation until its auth.json changes: ${
        stateAdvice(state, login.name, this.#rule)
      }`,
    );
  }

  /**
   * Records what a failure after the answer began says of `login` (a
   * `usage_not_included` inside a 200 stream): no failover then, but the
   * login leaves rotation all the same.
   *
   * @param login the login that answered
   * @param failure the failure of its answer, if any
   */
  noteFailure(login: Login, failure: RelayError | undefined): void {
    const state = failure && accountStateOfFailure(failure);
    if (failure && state !== undefined) this.takeOut(login, state, failure);
  }

  /**
   * The answer when no login of `pool` is left to try.
   *
   * @param pool the pool
   * @param last the failure of the last login tried, if any
   * @param capacity the provider's concurrency gate
   * @param model the upstream model asked for
   * @returns the error to answer
   */
  async noLogin(
    pool: LoginPool,
    last: RelayError | undefined,
    capacity: ConcurrencyGate,
    model?: string,
  ): Promise<RelayError> {
    const limited = pool.allLimited ? await pool.refusal() : undefined;
    if (limited) return limited;
    if (last) return last;
    // Every plan lacks the model (a name the backend refused, maybe one a
    // buyer made up): the buyer's fault, answered as the backend did, not
    // a failure of the seller's logins.
    const refusals = model === undefined
      ? []
      : pool.logins.map((login) => login.refusalOf(model));
    if (refusals.length > 0 && refusals.every((refusal) => refusal)) {
      return refusals[0]!;
    }
    if (pool.logins.some((login) => pool.stateOf(login) === "at_capacity")) {
      return capacity.refusal();
    }
    // Every login out of rotation for the same reason: that reason's code.
    const errors = pool.logins.map((login) => login.standingError);
    const first = errors[0];
    if (first && errors.every((error) => error?.code === first.code)) {
      return first;
    }
    return new RelayError(
      503,
      "upstream_auth_failed",
      "None of the seller's upstream logins can be used right now; try another seller or try again later",
    );
  }

  /**
   * Loads and validates every login's credentials, and logs what was found;
   * starts reading each usable login's model catalog in the background.
   */
  async init(): Promise<void> {
    const pool = await this.pool();
    const rule = RULE_TEXT[this.#rule];
    if (pool.logins.length === 1) {
      const info = await pool.logins[0].tokens.init();
      if (this.#rule !== "token_source") {
        this.#seen.log(
          `logins (${rule}): ${loginLine(pool.logins[0].name, info)}`,
        );
      }
      this.#readCatalogs(pool.logins);
      return;
    }
    const results = await Promise.allSettled(
      pool.logins.map((login) => login.tokens.init()),
    );
    const lines: string[] = [];
    let usable = 0;
    results.forEach((result, index) => {
      const login = pool.logins[index];
      if (result.status === "fulfilled") {
        usable++;
        lines.push(loginLine(login.name, result.value));
      } else {
        const code = (result.reason as { code?: unknown } | null)?.code;
        if (code === "login_required") {
          login.takeOut("needs_login", NEEDS_LOGIN);
        } else {
          login.markBroken();
        }
        lines.push(
          code === "login_required"
            ? `${login.name}: needs_login: ${
              stateMeaning("needs_login")
            }; it is out of rotation until its auth.json changes: ${
              stateAdvice("needs_login", login.name, this.#rule)
            }`
            : `${login.name} cannot be used now (${
              typeof code === "string" ? code : "error"
            }); it is passed over`,
        );
      }
    });
    this.#seen.log(`logins (${rule}):\n  ${lines.join("\n  ")}`);
    if (usable === 0) throw (results[0] as PromiseRejectedResult).reason;
    this.#readCatalogs(
      pool.logins.filter((_, index) => results[index].status === "fulfilled"),
    );
  }

  /** Starts reading the model catalog of each of `logins` (never waited for). */
  #readCatalogs(logins: readonly Login[]): void {
    for (const login of logins) void this.#catalogs.get(login)?.refresh();
  }

  /**
   * Each login and what keeps it from serving.
   *
   * @param usage also ask the usage endpoint (cached a minute)
   * @returns one status per login
   */
  async statuses(usage: boolean): Promise<LoginStatus[]> {
    const pool = await this.pool();
    const reports = usage
      ? await Promise.all(pool.logins.map((login) => this.#usageOf(login)))
      : [];
    return pool.logins.map((login, index) => {
      const status: LoginStatus = {
        name: login.name,
        state: pool.stateOf(login),
        inFlight: login.inFlight,
      };
      const until = login.usageLimit.until();
      if (until !== undefined) status.usageLimitedUntil = until;
      const limits = login.rateLimits.latest();
      if (limits) status.rateLimits = limits;
      const report = reports[index];
      if (report?.usage) status.usage = report.usage;
      if (report?.error) status.usageError = report.error;
      if (report?.resets) status.resetCredits = report.resets;
      if (report?.resetsError) status.resetCreditsError = report.resetsError;
      return status;
    });
  }

  /** The Codex CLI version spoken, and why; chosen when the logins are found. */
  async clientVersion(): Promise<ClientVersionChoice> {
    await this.pool();
    return this.#version!;
  }

  /** Which rule chose the logins, and their labels. */
  async rule(): Promise<LoginRule> {
    const pool = await this.pool();
    return { rule: this.#rule, names: pool.logins.map((login) => login.name) };
  }

  /** The per-login gauges of `/metrics` (none before the logins are found). */
  gauges(): Record<string, GaugeSeries> {
    const up: GaugeSeries = [];
    const until: GaugeSeries = [];
    const used: GaugeSeries = [];
    const pool = this.#pool;
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
    return {
      openai_responses_login_up: up,
      openai_responses_login_usage_limited_until_seconds: until,
      openai_responses_login_used_percent: used,
    };
  }

  /**
   * Whether the pool can take nothing now (announced as full capacity):
   * every login usage-limited, or, with several, none left in rotation.
   * When every login is out of rotation, starts in the background the look
   * at their auth.json that brings a new login back: a pool announced full
   * gets no request that would.
   */
  get full(): boolean {
    const pool = this.#pool;
    if (pool === undefined) return false;
    if (pool.logins.every((login) => login.accountState !== undefined)) {
      void pool.revive();
    }
    return pool.limitedUntil() !== undefined ||
      (pool.logins.length > 1 && pool.exhausted);
  }

  /** The logins as one token source (the first login for `info` and refreshes). */
  tokenSource(): TokenSource {
    const first = async () => (await this.pool()).logins[0];
    return {
      init: async () => await (await first()).tokens.init(),
      getToken: async () => {
        const pool = await this.pool();
        const login = pool.pick("", undefined, new Set()) ?? pool.logins[0];
        return await login.tokens.getToken();
      },
      handleUnauthorized: async (failed) =>
        await (await first()).tokens.handleUnauthorized(failed),
      forceRefresh: async () => await (await first()).tokens.forceRefresh(),
      info: async (): Promise<CredentialsInfo> =>
        await (await first()).tokens.info(),
    };
  }

  async #resolve(): Promise<LoginPool> {
    const settings = this.#settings;
    const seen = this.#seen;
    // The rules (and the account folders) are loaded when first needed.
    const { resolveLogins } = await import("../auth/accounts.ts");
    const found = await resolveLogins({
      authFile: settings.authFiles.join(","),
      home: settings.home,
      codexHome: dirname(settings.codexAuthFile),
      homeDir: homedir(),
    });
    this.#rule = found.rule;
    if (!this.#version) {
      this.#speak(
        await selectClientVersion(settings, codexHomesOf(found), {
          homeDir: homedir(),
          onWarning: seen.warn,
        }),
      );
    }
    const several = found.logins.length > 1;
    const { installationIdPlace, readOrCreateInstallationId } = await import(
      "../auth/installation_id.ts"
    );
    // Read (or created) once per login, before its first request.
    this.#installationIds = await Promise.all(
      found.logins.map((login) =>
        readOrCreateInstallationId(
          installationIdPlace(found.rule, login.authFile),
        )
          .catch((error) => {
            seen.warn(
              `${login.name}: cannot keep an installation id beside its auth.json (${
                (error as { code?: unknown } | null)?.code ?? "error"
              }); it uses a new one until the provider restarts`,
            );
            return crypto.randomUUID();
          })
      ),
    );
    this.#pool ??= this.#poolOf(found.logins.map((login) =>
      new Login(
        login.name,
        createTokenSource(login.authFile, {
          tokenUrl: settings.tokenUrl,
          onRefresh: seen.counting
            ? (outcome) => seen.refreshed(login.name, outcome)
            : undefined,
          onWarning: several
            ? (message) => seen.warn(`${login.name}: ${message}`)
            : seen.warn,
        }),
      )
    ));
    return this.#pool;
  }

  #speak(choice: ClientVersionChoice): void {
    this.#version = choice;
    this.#identity = upstreamIdentity(
      this.#settings.originator,
      choice.version,
      machineInfo(),
    );
    this.#seen.speaking(choice);
  }

  #poolOf(logins: Login[]): LoginPool {
    const seen = this.#seen;
    for (const [index, login] of logins.entries()) {
      login.usageLimit.onEnded = () =>
        seen.log(`login ${login.name}: usage limit ended`);
      login.onBack = () =>
        seen.log(
          `login ${login.name}: back in rotation (its auth.json holds another login now)`,
        );
      const catalog = new ModelCatalog({
        load: (etag) => this.#readCatalog(login, etag),
        refreshMs: this.#settings.catalogRefreshMs,
        onChange: (text) => seen.log(`login ${login.name}: ${text}`),
      });
      this.#catalogs.set(login, catalog);
      this.#contexts.set(login, {
        ...this.#base,
        identity: this.#identity,
        // A token source given to createProvider has no file to keep an
        // id in: one per provider, for as long as it runs.
        installation: new LoginInstallation(
          this.#installationIds[index] ?? crypto.randomUUID(),
          {
            originator: this.#settings.originator,
            version: this.#version!.version,
          },
        ),
        tokens: login.tokens,
        catalog,
        onRateLimits: (headers, at) => login.rateLimits.observe(headers, at),
        onUsageLimit: (resetsAt, accountId) =>
          this.limitReached(login, resetsAt, accountId),
        onRetry: seen.counting ? (reason) => seen.retried(reason) : undefined,
      });
    }
    return new LoginPool(logins, {
      accountMaxConcurrency: this.#settings.accountMaxConcurrency,
    });
  }

  /**
   * Reads a login's model catalog with its token and identity, as the
   * version spoken; `undefined` (asked again later, nothing logged) for a
   * login out of rotation or without a token: its requests say why.
   */
  async #readCatalog(
    login: Login,
    etag: string | undefined,
  ): Promise<CatalogRead | "not_modified" | undefined> {
    if (login.accountState !== undefined) return undefined;
    const token = await login.tokens.getToken().catch(() => undefined);
    if (token === undefined) return undefined;
    const identity = this.#contexts.get(login)?.identity ?? this.#identity ??
      upstreamIdentity(
        this.#settings.originator,
        this.#settings.clientVersion,
        machineInfo(),
      );
    return await readModelCatalog(this.#settings.modelsUrl, token, identity, {
      clientVersion: identity.version,
      etag,
      fetch: this.#fetch,
    });
  }

  /**
   * What the usage and reset-credits endpoints say of a login, asked at most
   * once a minute. Reads only: no reset is ever spent from here.
   */
  #usageOf(login: Login): Promise<UsageResult> {
    // Asking the backend for an account it has refused would only refresh
    // its tokens, which looks like a new login.
    const state = login.accountState;
    if (state !== undefined) {
      return Promise.resolve({ error: `${state}: ${stateMeaning(state)}` });
    }
    const cached = this.#usage.get(login);
    if (cached && Date.now() - cached.at < USAGE_CACHE_MS) return cached.result;
    const why = (error: unknown) =>
      error instanceof RelayError ? error.message : "unavailable";
    const call = { fetch: this.#fetch, identity: this.#identity };
    const token = login.tokens.getToken();
    const usage = Promise.all([token, import("../codex/usage.ts")]).then((
      [token, { readUsage }],
    ) => readUsage(this.#settings.baseUrl, token, call)).then(
      (usage): UsageResult => ({ usage }),
      (error): UsageResult => ({ error: why(error) }),
    );
    const resets = Promise.all([token, import("../codex/reset_credits.ts")])
      .then(([token, { readResetCredits }]) =>
        readResetCredits(this.#settings.baseUrl, token, call)
      ).then(
        (resets): UsageResult => ({ resets }),
        (error): UsageResult => ({ resetsError: why(error) }),
      );
    const result = Promise.all([usage, resets]).then(([usage, resets]) => ({
      ...usage,
      ...resets,
    }));
    this.#usage.set(login, { at: Date.now(), result });
    return result;
  }
}
