/**
 * The logins a provider serves from, and the choice of one per request:
 *
 * 1. skip logins that cannot serve: out of rotation in a named account state
 *    (`needs_login`, `deactivated`, `no_codex_access`, `blocked`: until
 *    their auth.json holds another account or other tokens), usage-limited
 *    (until their reset), failing for a moment (30 s), at their own
 *    concurrency cap, or whose plan does not include the model (after the
 *    backend said so once);
 * 2. keep a conversation on the login that served it while that login can
 *    serve (affinity by `prompt_cache_key`, else the buyer's session
 *    header), so that the backend's prompt cache keeps working;
 * 3. otherwise the least busy login: fewest requests in flight, then the
 *    lowest `x-codex-primary-used-percent` last seen.
 *
 * With one login the pool is that login: every rule above reduces to what a
 * single-login provider does.
 *
 * @module
 */

import type { TokenSource } from "../auth/types.ts";
import {
  parseRateLimitHeaders,
  type RateLimitSnapshot,
} from "../codex/rate_limits.ts";
import { type AccountState, usageLimitError } from "../codex/errors.ts";
import type { RelayError } from "../errors.ts";
import { UsageLimit } from "./usage_limit.ts";

/** How long a login whose credentials failed is passed over before it is tried again. */
const BROKEN_PAUSE_MS = 30_000;

/** Most conversations remembered for affinity. */
const AFFINITY_MEMORY = 10_000;

/**
 * Most models a login remembers its plan lacks. The model names come from
 * buyers (any name the backend refuses is one), so the memory is bounded: a
 * real catalog has a few dozen models; past the bound the least recently
 * refused is forgotten (and costs one more refused request if asked again).
 */
export const NOT_INCLUDED_MEMORY = 64;

/** A model a login's plan lacks: for which account, and the backend's refusal. */
interface NotIncluded {
  accountId: string;
  refusal: RelayError;
}

/**
 * Why a login cannot serve now: one of the named account states (only the
 * seller can end them), `usage_limited`, `login_failed` (a transient
 * failure: passed over for 30 s) or `at_capacity`.
 */
export type LoginState =
  | "ok"
  | AccountState
  | "usage_limited"
  | "login_failed"
  | "at_capacity";

/** What a login's auth.json holds, to tell a new login from the one that failed. */
async function credentialsKey(
  tokens: TokenSource,
): Promise<string | undefined> {
  try {
    return tokens.fingerprint
      ? await tokens.fingerprint()
      : (await tokens.info()).accountId;
  } catch {
    return undefined; // Unreadable now: any readable file is news.
  }
}

/** A login out of rotation: its state, the error that put it there, what its auth.json held. */
interface Standing {
  state: AccountState;
  error: RelayError;
  key: Promise<string | undefined>;
}

/**
 * The latest rate limits of a login: from the `x-codex-*` headers of an
 * answer, parsed only when asked for (every answer carries them, few readers
 * need them), or from a `codex.rate_limits` event of a stream (read by the
 * relay), whichever came last.
 */
export class RateLimitSnapshots {
  #snapshot: RateLimitSnapshot | undefined;
  #pending: { headers: Headers; at: number } | undefined;

  /** Keeps the headers of an answer (parsed later, if at all), or an event's snapshot. */
  observe(limits: Headers | RateLimitSnapshot, at: number): void {
    if ("observedAt" in limits) {
      this.#pending = undefined;
      this.#snapshot = limits;
    } else {
      this.#pending = { headers: limits, at };
    }
  }

  /** The snapshot of the latest answer that carried rate limits. */
  latest(): RateLimitSnapshot | undefined {
    if (this.#pending) {
      const { headers, at } = this.#pending;
      this.#pending = undefined;
      this.#snapshot = parseRateLimitHeaders(headers, at) ?? this.#snapshot;
    }
    return this.#snapshot;
  }
}

/** One login of the pool and what the provider knows of it. */
export class Login {
  /** Stable label (the account name, `file1`, `codex`); never an email or id. */
  readonly name: string;
  /** The token source over its auth.json. */
  readonly tokens: TokenSource;
  /** Its usage limit. */
  readonly usageLimit: UsageLimit;
  /** Its rate-limit snapshots. */
  readonly rateLimits = new RateLimitSnapshots();
  /** Requests in flight on it. */
  inFlight = 0;
  /** Until when its credentials are passed over (ms since the epoch). */
  #brokenUntil = 0;
  #standing: Standing | undefined;
  /** Called when it comes back into rotation (its auth.json changed). */
  onBack: (() => void) | undefined;
  #checking: Promise<boolean> | undefined;
  /** Models its plan does not include, least recently refused first. */
  readonly #notIncluded = new Map<string, NotIncluded>();
  readonly #now: () => number;

  /**
   * Creates a login.
   *
   * @param name its stable label
   * @param tokens its token source
   * @param now clock, ms since the epoch
   */
  constructor(name: string, tokens: TokenSource, now: () => number = Date.now) {
    this.name = name;
    this.tokens = tokens;
    this.#now = now;
    this.usageLimit = new UsageLimit(tokens, now);
  }

  /** Its credentials failed (a new login needed, a refreshed token refused): pass it over for a while. */
  markBroken(): void {
    this.#brokenUntil = this.#now() + BROKEN_PAUSE_MS;
  }

  /**
   * Takes it out of rotation in `state` (after `error`) until its auth.json
   * holds another account or other tokens.
   *
   * @returns whether the state changed (a line for the seller is due)
   */
  takeOut(state: AccountState, error: RelayError): boolean {
    const changed = this.#standing?.state !== state;
    this.#standing = { state, error, key: credentialsKey(this.tokens) };
    return changed;
  }

  /** The named state that keeps it out of rotation, if any. */
  get accountState(): AccountState | undefined {
    return this.#standing?.state;
  }

  /** The error to answer for it while it is out of rotation. */
  get standingError(): RelayError | undefined {
    return this.#standing?.error;
  }

  /**
   * Brings it back into rotation when its auth.json now holds another
   * account or other tokens (a new login). The token source bounds the
   * I/O: it looks at the file's stamp at most once per `statIntervalMs`.
   *
   * @returns whether it came back
   */
  revive(): Promise<boolean> {
    if (!this.#standing) return Promise.resolve(false);
    this.#checking ??= this.#revive().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #revive(): Promise<boolean> {
    const standing = this.#standing;
    if (!standing) return false;
    const [before, now] = await Promise.all([
      standing.key,
      credentialsKey(this.tokens),
    ]);
    if (now === undefined || now === before || this.#standing !== standing) {
      return false;
    }
    this.#standing = undefined;
    this.#brokenUntil = 0;
    this.onBack?.();
    return true;
  }

  /**
   * Its plan does not include `model` for `accountId`, as `refusal` (the
   * backend's 400 `model_not_supported`) said. At most
   * {@linkcode NOT_INCLUDED_MEMORY} models are remembered.
   */
  markNotIncluded(model: string, accountId: string, refusal: RelayError): void {
    this.#notIncluded.delete(model);
    this.#notIncluded.set(model, { accountId, refusal });
    if (this.#notIncluded.size > NOT_INCLUDED_MEMORY) {
      const oldest = this.#notIncluded.keys().next().value;
      if (oldest !== undefined) this.#notIncluded.delete(oldest);
    }
  }

  /** The backend's refusal of `model` for this login's plan, if remembered. */
  refusalOf(model: string): RelayError | undefined {
    return this.#notIncluded.get(model)?.refusal;
  }

  /** Whether its credentials are being passed over. */
  get broken(): boolean {
    return this.#now() < this.#brokenUntil;
  }

  /** Whether the backend said its plan lacks `model`. */
  lacks(model: string): boolean {
    return this.#notIncluded.has(model);
  }

  /** Forgets what belonged to another account (its auth.json changed account). */
  forgetAccount(accountId: string): void {
    for (const [model, { accountId: account }] of this.#notIncluded) {
      if (account !== accountId) this.#notIncluded.delete(model);
    }
  }

  /** The `x-codex-primary-used-percent` last seen, or 0. */
  get usedPercent(): number {
    return this.rateLimits.latest()?.primary?.usedPercent ?? 0;
  }
}

/** Options of {@linkcode LoginPool}. */
export interface LoginPoolOptions {
  /** Most requests at once per login (unset: only the provider's bound). */
  accountMaxConcurrency?: number;
}

/**
 * The logins of a provider.
 *
 * @example
 * ```ts ignore
 * const pool = new LoginPool([new Login("work", tokens)]);
 * const login = pool.pick("gpt-5.4", "conv-1", new Set());
 * ```
 */
export class LoginPool {
  /** The logins, in their configured order. */
  readonly logins: readonly Login[];
  readonly #cap: number;
  readonly #affinity = new Map<string, Login>();

  /**
   * Creates the pool.
   *
   * @param logins the logins, at least one
   * @param options the per-login cap
   */
  constructor(logins: readonly Login[], options: LoginPoolOptions = {}) {
    this.logins = logins;
    this.#cap = options.accountMaxConcurrency ?? Infinity;
  }

  /** What keeps `login` from serving `model` now, or `ok`. */
  stateOf(login: Login, model?: string): LoginState {
    const out = login.accountState;
    if (out !== undefined) return out;
    if (login.usageLimit.active) return "usage_limited";
    if (login.broken) return "login_failed";
    if (model !== undefined && login.lacks(model)) return "login_failed";
    if (login.inFlight >= this.#cap) return "at_capacity";
    return "ok";
  }

  /**
   * The login to serve a request for `model` with, or `undefined` when none
   * can (besides those in `excluded`, which already failed this request).
   * `affinity` is the conversation's key, if any.
   */
  pick(
    model: string,
    affinity: string | undefined,
    excluded: ReadonlySet<Login>,
  ): Login | undefined {
    if (affinity !== undefined) {
      const kept = this.#affinity.get(affinity);
      if (
        kept && !excluded.has(kept) && this.stateOf(kept, model) === "ok"
      ) {
        return kept;
      }
    }
    let best: Login | undefined;
    for (const login of this.logins) {
      if (excluded.has(login) || this.stateOf(login, model) !== "ok") continue;
      if (
        best === undefined || login.inFlight < best.inFlight ||
        (login.inFlight === best.inFlight &&
          login.usedPercent < best.usedPercent)
      ) {
        best = login;
      }
    }
    if (best && affinity !== undefined) this.#remember(affinity, best);
    return best;
  }

  #remember(affinity: string, login: Login): void {
    this.#affinity.delete(affinity);
    this.#affinity.set(affinity, login);
    if (this.#affinity.size > AFFINITY_MEMORY) {
      const oldest = this.#affinity.keys().next().value;
      if (oldest !== undefined) this.#affinity.delete(oldest);
    }
  }

  /** Whether every login is usage-limited now (costs no I/O). */
  get allLimited(): boolean {
    return this.logins.every((login) => login.usageLimit.active);
  }

  /**
   * The 429 `usage_limit_reached` to answer when every login is
   * usage-limited, with the earliest reset as `retry-after`, or
   * `undefined`. Before refusing, each limited login's auth.json is looked
   * at (at most once a second) for a switched account.
   */
  async refusal(): Promise<RelayError | undefined> {
    if (!this.allLimited) return undefined;
    const refusals = await Promise.all(
      this.logins.map((login) => login.usageLimit.refusal()),
    );
    if (refusals.some((refusal) => refusal === undefined)) return undefined;
    const resets = this.logins.map((login) => login.usageLimit.until())
      .filter((until): until is number => until !== undefined);
    return resets.length === 0
      ? undefined
      : usageLimitError(Math.min(...resets));
  }

  /** When the earliest usage limit ends, when every login is limited; else undefined. */
  limitedUntil(): number | undefined {
    const resets: number[] = [];
    for (const login of this.logins) {
      const until = login.usageLimit.until();
      if (until === undefined) return undefined;
      resets.push(until);
    }
    return resets.length === 0 ? undefined : Math.min(...resets);
  }

  /** Whether no login can serve at all (every one limited, failed or out of rotation). */
  get exhausted(): boolean {
    return this.logins.every((login) =>
      login.accountState !== undefined || login.usageLimit.active ||
      login.broken
    );
  }

  /**
   * Brings back the logins out of rotation whose auth.json changed.
   *
   * @returns whether any came back
   */
  async revive(): Promise<boolean> {
    const back = await Promise.all(this.logins.map((login) => login.revive()));
    return back.includes(true);
  }
}
