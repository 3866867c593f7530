/**
 * The token source over a Codex CLI auth.json: hands out a valid access
 * token, refreshing it when needed, with one refresh in flight per process
 * and at most one refresh per refresh token across the processes of this
 * module that share the file (a lock file next to auth.json). The Codex CLI
 * takes no lock: its newer tokens are adopted, and a refresh at the same
 * moment as its own is recovered by the re-read after `refresh_token_reused`.
 *
 * - Proactive refresh when `exp` is within 5 minutes (or, without a readable
 *   `exp`, when `last_refresh` is older than 8 days).
 * - Under the lock, a write-back that a killed process left between its
 *   temp file and its rename is finished first; then the file is read again:
 *   newer tokens written by another process (this provider or the Codex CLI)
 *   are adopted instead of refreshing.
 * - The tokens in memory are the authority; the file is reconciled with
 *   them. A file that holds a refresh token this process has already spent
 *   (its write-back failed, or an older writer) is never adopted: the next
 *   refresh sends the rotated token, and the newest tokens are written back
 *   at the next chance under the lock. A file with tokens that are neither
 *   the current ones nor spent ones (a new login, another writer's refresh)
 *   is adopted.
 * - Where auth.json cannot be replaced by a rename (a single-file bind
 *   mount), it is rewritten in place; a warning says so once.
 * - After `refresh_token_reused`, the file is read again (for a short grace)
 *   and newer tokens are adopted if another writer produced them.
 * - When the token a forced refresh (after a backend 401) has just produced
 *   gets a 401 as well, before it served a single answer, no refresh follows
 *   a 401 until a cooldown (5 minutes, doubling up to an hour on repeats) has
 *   passed or auth.json holds other tokens: `handleUnauthorized` resolves
 *   `undefined` meanwhile. Any other token (from the file, from a proactive
 *   refresh, or from a forced refresh that has served answers since, which
 *   the relay reports with `handleAccepted`) gets its one forced refresh on
 *   a 401.
 * - A permanent failure (`LoginRequiredError`) stops every further call to
 *   the token endpoint until the auth file holds different tokens; a
 *   transient one (`TokenRefreshError`) backs off for a growing few seconds,
 *   while a still unexpired access token keeps being handed out.
 * - The parsed file is cached; `getToken` looks at the file's stamp (inode,
 *   size, times) at most once a second (`statIntervalMs`) and reads it again
 *   only when the stamp changed.
 *
 * @module
 */

import {
  CredentialsError,
  LoginRequiredError,
  TokenRefreshError,
} from "../errors.ts";
import {
  type CodexCredentials,
  credentialsFromDocument,
  credentialsInfo,
  readCredentials,
  sameStamp,
  type StampedCredentials,
  statAuthFile,
} from "./auth_file.ts";
import { acquireLock } from "./lock.ts";
import { isExpired, needsRefresh } from "./policy.ts";
import {
  DEFAULT_REFRESH_TIMEOUT_MS,
  loginRequired,
  type RefreshedTokens,
  requestTokenRefresh,
} from "./refresh.ts";
import type { AccessToken, CredentialsInfo, TokenSource } from "./types.ts";
import {
  type AuthFileSystem,
  authFileTarget,
  mergeRefreshedTokens,
  recoverInterruptedWrite,
  writeAuthFile,
} from "./write.ts";
import { delay } from "../async.ts";

/** Options of {@linkcode createTokenSource}. */
export interface TokenSourceOptions {
  /** OAuth token endpoint, e.g. `https://auth.openai.com/oauth/token`. */
  tokenUrl: string;
  /** Bound of one token-endpoint call, in milliseconds (default 20000). */
  refreshTimeoutMs?: number;
  /** OAuth client id (default: the Codex CLI's). */
  clientId?: string;
  /** Clock for expiry decisions and `last_refresh`, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** `fetch` used for the token endpoint (default: the global one). */
  fetch?: typeof fetch;
  /** Time without a touch by its holder after which a refresh lock is stale, in milliseconds (default 30000). */
  lockStaleMs?: number;
  /** How long to wait for another process's refresh, in milliseconds (default 40000). */
  lockWaitMs?: number;
  /**
   * After `refresh_token_reused`, how long to watch auth.json for the tokens
   * of the writer that won, in milliseconds (default 1000).
   */
  reusedGraceMs?: number;
  /** How long a file caught mid-write is read again, in milliseconds (default 1000). */
  parseRetryMs?: number;
  /**
   * How often `getToken` and `info` look at auth.json for a change, in
   * milliseconds (default 1000; 0 looks on every call). A refresh, a backend
   * 401 and `init` always read the file afresh.
   */
  statIntervalMs?: number;
  /** First pause after a transient refresh failure, in milliseconds (default 1000); doubles per failure. */
  backoffMs?: number;
  /** Longest pause after transient failures, in milliseconds (default 30000). */
  maxBackoffMs?: number;
  /**
   * After the token a forced refresh produced was refused by the backend
   * too, how long no refresh follows a backend 401, in milliseconds (default
   * 300000); doubles on each repeat.
   */
  unauthorizedCooldownMs?: number;
  /** Longest such cooldown, in milliseconds (default 3600000). */
  maxUnauthorizedCooldownMs?: number;
  /**
   * Receives seller-facing warnings (never a token), e.g. refreshed tokens
   * that could not be written back. Default: `console.warn`.
   */
  onWarning?: (message: string) => void;
  /** File operations of the write-back, instead of `node:fs/promises` (for tests). */
  fs?: AuthFileSystem;
  /**
   * Told of every refresh this process attempted at the token endpoint:
   * `ok`, or the failure's reason (`refresh_token_reused`, ...,
   * `token_refresh_failed`). Never a token.
   */
  onRefresh?: (outcome: string) => void;
}

type Trigger =
  | { kind: "proactive" }
  | { kind: "unauthorized"; failed: string }
  | { kind: "forced" };

interface Blocked {
  error: LoginRequiredError;
  accessToken: string;
  refreshToken: string | undefined;
}

interface Cooldown {
  until: number;
  failures: number;
}

interface Backoff {
  error: TokenRefreshError;
  until: number;
  failures: number;
  accessToken: string;
  refreshToken: string | undefined;
}

/** How many failing access tokens remember that they had their forced refresh. */
const FORCED_MEMORY = 32;

/**
 * A 401 on the token a forced refresh produced counts as "refused at once"
 * (and starts the cooldown) only this long after the refresh.
 */
const FORCED_PRODUCT_FRESH_MS = 5 * 60 * 1000;

/** How many refresh tokens this process spent are remembered. */
const SPENT_MEMORY = 32;

/** Default of {@linkcode TokenSourceOptions.unauthorizedCooldownMs}. */
export const DEFAULT_UNAUTHORIZED_COOLDOWN_MS = 5 * 60 * 1000;

/** Default of {@linkcode TokenSourceOptions.maxUnauthorizedCooldownMs}. */
export const DEFAULT_MAX_UNAUTHORIZED_COOLDOWN_MS = 60 * 60 * 1000;

/** Default of {@linkcode TokenSourceOptions.statIntervalMs}. */
export const DEFAULT_STAT_INTERVAL_MS = 1000;

function toAccessToken(credentials: StampedCredentials): AccessToken {
  return {
    accessToken: credentials.accessToken,
    accountId: credentials.accountId,
  };
}

class FileTokenSource implements TokenSource {
  readonly #authFile: string;
  readonly #options: TokenSourceOptions;
  readonly #now: () => number;
  #cache: StampedCredentials | undefined;
  /** `performance.now()` when the cache was last known to match the file. */
  #checkedAt = -Infinity;
  /** Counts changes of the tokens in memory made here: refreshes and write-backs. */
  #generation = 0;
  /** Counts successful refreshes. */
  #refreshes = 0;
  /** A write-back is under way: a read of the file may catch its old content. */
  #writing = false;
  #checking: Promise<StampedCredentials> | undefined;
  #reading: Promise<StampedCredentials> | undefined;
  #inflight: Promise<StampedCredentials> | undefined;
  #blocked: Blocked | undefined;
  #backoff: Backoff | undefined;
  readonly #forced: string[] = [];
  /**
   * The access token the last forced refresh produced, until it fails too or
   * serves an answer.
   */
  #forcedProduct: string | undefined;
  /** When `#forcedProduct` was produced (`now()`). */
  #forcedProductAt = 0;
  /** No refresh after a 401 until `until`; kept afterwards to count repeats. */
  #cooldown: Cooldown | undefined;
  /** Refresh tokens this process traded for new ones, oldest first. */
  readonly #spent: string[] = [];
  /** The tokens in memory are newer than the file's. */
  #unsaved = false;
  /** The last write-back failed (warned once until one succeeds). */
  #saveFailing = false;
  #warnedInPlace = false;
  /** A freshly refreshed token that is still close to expiry: no new refresh for it. */
  #refreshedNearExpiry: string | undefined;

  constructor(authFile: string, options: TokenSourceOptions) {
    this.#authFile = authFile;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async init(): Promise<CredentialsInfo> {
    let credentials = await this.#readFresh();
    const now = this.#now();
    if (isExpired(credentials, now)) {
      credentials = await this.#refresh({ kind: "proactive" });
    } else if (needsRefresh(credentials, now)) {
      try {
        credentials = await this.#refresh({ kind: "proactive" });
      } catch (error) {
        // The token still works for a few minutes; getToken tries again.
        if (!(error instanceof TokenRefreshError)) throw error;
      }
    }
    return credentialsInfo(credentials);
  }

  async getToken(): Promise<AccessToken> {
    const credentials = await this.#current();
    const now = this.#now();
    if (this.#blocked) {
      if (!isExpired(credentials, now)) return toAccessToken(credentials);
      throw this.#blocked.error;
    }
    if (
      !needsRefresh(credentials, now) ||
      (credentials.accessToken === this.#refreshedNearExpiry &&
        !isExpired(credentials, now))
    ) {
      return toAccessToken(credentials);
    }
    if (this.#backoff && now < this.#backoff.until && !this.#inflight) {
      if (!isExpired(credentials, now)) return toAccessToken(credentials);
      throw this.#backoff.error;
    }
    try {
      return toAccessToken(await this.#refresh({ kind: "proactive" }));
    } catch (error) {
      // A token that has not expired yet still works: keep serving with it.
      const refreshFailed = error instanceof TokenRefreshError ||
        error instanceof LoginRequiredError;
      if (refreshFailed && !isExpired(credentials, now)) {
        return toAccessToken(credentials);
      }
      throw error;
    }
  }

  async handleUnauthorized(
    failed: AccessToken,
  ): Promise<AccessToken | undefined> {
    const credentials = await this.#readFresh();
    if (credentials.accessToken !== failed.accessToken) {
      return toAccessToken(credentials);
    }
    if (this.#inflight) {
      // Another request hit the same 401 and its refresh is under way.
      const joined = await this.#inflight.catch(() => undefined);
      if (joined && joined.accessToken !== failed.accessToken) {
        return toAccessToken(joined);
      }
    }
    if (this.#cooldown && this.#now() < this.#cooldown.until) {
      return undefined;
    }
    if (
      failed.accessToken === this.#forcedProduct &&
      this.#now() - this.#forcedProductAt < FORCED_PRODUCT_FRESH_MS
    ) {
      // A token that a refresh after a 401 has just produced is refused
      // before serving anything: another refresh would fare no better. (One
      // that has served answers, or was produced long ago, and is refused
      // later, e.g. revoked, gets its refresh.)
      this.#forcedProduct = undefined;
      this.#startCooldown();
      return undefined;
    }
    if (this.#forced.includes(failed.accessToken)) return undefined;
    if (this.#blocked) throw this.#blocked.error;
    if (this.#backoff && this.#now() < this.#backoff.until) {
      throw this.#backoff.error;
    }
    this.#forced.push(failed.accessToken);
    if (this.#forced.length > FORCED_MEMORY) this.#forced.shift();
    const refreshes = this.#refreshes;
    const next = await this.#refresh({
      kind: "unauthorized",
      failed: failed.accessToken,
    });
    if (next.accessToken === failed.accessToken) return undefined;
    if (refreshes !== this.#refreshes) {
      this.#forcedProduct = next.accessToken;
      this.#forcedProductAt = this.#now();
    }
    return toAccessToken(next);
  }

  handleAccepted(token: AccessToken): void {
    // The backend took it: a later 401 on it is news (a revocation, say),
    // not the refresh failing, and gets its own forced refresh.
    if (token.accessToken === this.#forcedProduct) {
      this.#forcedProduct = undefined;
    }
  }

  /** No refresh after a 401 for a while, longer on each repeat. */
  #startCooldown(): void {
    const first = this.#options.unauthorizedCooldownMs ??
      DEFAULT_UNAUTHORIZED_COOLDOWN_MS;
    const longest = this.#options.maxUnauthorizedCooldownMs ??
      DEFAULT_MAX_UNAUTHORIZED_COOLDOWN_MS;
    const now = this.#now();
    const previous = this.#cooldown;
    // A repeat: the previous cooldown ended less than the longest one ago.
    const failures = previous && now - previous.until < longest
      ? previous.failures + 1
      : 1;
    const pause = Math.min(longest, first * 2 ** (failures - 1));
    this.#cooldown = { until: now + pause, failures };
    this.#warn(
      `The Codex backend refused the access token it was just refreshed to (HTTP 401): no further refresh after a 401 for ${
        Math.ceil(pause / 1000)
      } s or until the Codex login changes; requests fail with upstream_auth_failed meanwhile`,
    );
  }

  async forceRefresh(): Promise<CredentialsInfo> {
    if (this.#inflight) await this.#inflight.catch(() => {});
    return credentialsInfo(await this.#refresh({ kind: "forced" }));
  }

  async info(): Promise<CredentialsInfo> {
    return credentialsInfo(await this.#current());
  }

  async fingerprint(): Promise<string> {
    const credentials = await this.#current();
    const held = `${credentials.accountId}\n${
      credentials.refreshToken ?? credentials.accessToken
    }`;
    const digest = await crypto.subtle.digest(
      "SHA-256",
      new TextEncoder().encode(held),
    );
    return Array.from(
      new Uint8Array(digest).slice(0, 12),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
  }

  /** The cached credentials, read again when the file's stamp changed. */
  /**
   * The cached credentials while they were checked against the file less
   * than `statIntervalMs` ago (a stat costs more than the rest of handing
   * out a token); else the file's, read again only if its stamp changed.
   */
  #current(): Promise<StampedCredentials> {
    const cache = this.#cache;
    if (cache && this.#checkedLately()) return Promise.resolve(cache);
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /** Whether the cache was checked against the file within `statIntervalMs`. */
  #checkedLately(): boolean {
    const interval = this.#options.statIntervalMs ?? DEFAULT_STAT_INTERVAL_MS;
    return performance.now() - this.#checkedAt < interval;
  }

  async #check(): Promise<StampedCredentials> {
    const stamp = await statAuthFile(this.#authFile);
    const cache = this.#cache;
    if (cache && sameStamp(cache.stamp, stamp)) {
      this.#checkedAt = performance.now();
      return cache;
    }
    if (!this.#reading) {
      this.#reading = this.#readFresh().finally(() => {
        this.#reading = undefined;
      });
    }
    return await this.#reading;
  }

  /**
   * Reads the file now and reconciles it with the tokens in memory, which
   * it replaces only when it holds other tokens that this process has not
   * spent (and no refresh committed during the read). Resolves with the
   * tokens in force afterwards.
   */
  async #readFresh(): Promise<StampedCredentials> {
    const generation = this.#generation;
    const file = await readCredentials(this.#authFile, {
      parseRetryMs: this.#options.parseRetryMs,
    });
    const cache = this.#cache;
    if (cache && (generation !== this.#generation || this.#writing)) {
      return cache;
    }
    if (
      cache && file.refreshToken !== undefined &&
      this.#isSpent(file.refreshToken)
    ) {
      // Older than the tokens in memory (a failed write-back): keep ours,
      // and remember this version of the file as seen.
      this.#cache = { ...cache, stamp: file.stamp };
      this.#checkedAt = performance.now();
      return this.#cache;
    }
    if (
      cache &&
      (file.accessToken !== cache.accessToken ||
        file.refreshToken !== cache.refreshToken)
    ) {
      // Another writer's tokens: a new login or refresh ends the cooldown,
      // and there is nothing of ours left to save.
      this.#cooldown = undefined;
      this.#forcedProduct = undefined;
    }
    this.#unsaved = false;
    this.#adopt(file);
    return file;
  }

  /** Whether this process has spent `refreshToken` (kept remembered if so). */
  #isSpent(refreshToken: string): boolean {
    const index = this.#spent.indexOf(refreshToken);
    if (index < 0) return false;
    // A file stuck on an old token keeps it among the remembered ones.
    this.#spent.splice(index, 1);
    this.#spent.push(refreshToken);
    return true;
  }

  #spend(refreshToken: string): void {
    if (this.#spent.includes(refreshToken)) return;
    this.#spent.push(refreshToken);
    if (this.#spent.length > SPENT_MEMORY) this.#spent.shift();
  }

  #adopt(credentials: StampedCredentials): void {
    this.#cache = credentials;
    this.#checkedAt = performance.now();
    const blocked = this.#blocked;
    if (
      blocked &&
      (blocked.accessToken !== credentials.accessToken ||
        blocked.refreshToken !== credentials.refreshToken)
    ) {
      this.#blocked = undefined;
    }
    const backoff = this.#backoff;
    if (
      backoff &&
      (backoff.accessToken !== credentials.accessToken ||
        backoff.refreshToken !== credentials.refreshToken)
    ) {
      this.#backoff = undefined;
    }
  }

  #refresh(trigger: Trigger): Promise<StampedCredentials> {
    if (this.#inflight) return this.#inflight;
    const run = this.#refreshUnderLock(trigger).finally(() => {
      this.#inflight = undefined;
    });
    this.#inflight = run;
    return run;
  }

  async #refreshUnderLock(trigger: Trigger): Promise<StampedCredentials> {
    let basis: StampedCredentials | undefined;
    try {
      const target = await authFileTarget(this.#authFile);
      const lock = await acquireLock(`${target}.lock`, {
        staleMs: this.#options.lockStaleMs,
        waitMs: this.#options.lockWaitMs,
      });
      try {
        // A writer killed between its temp file and its rename left the
        // newest tokens there (the old refresh token is spent): finish its
        // write-back before reading the file.
        await recoverInterruptedWrite(this.#authFile, {
          fs: this.#options.fs,
        });
        basis = await this.#readFresh();
        const now = this.#now();
        if (
          (trigger.kind === "proactive" && !needsRefresh(basis, now)) ||
          (trigger.kind === "unauthorized" &&
            basis.accessToken !== trigger.failed)
        ) {
          // No refresh needed; the file may still lag behind.
          if (this.#unsaved) await this.#writeBack(basis);
          return this.#cache ?? basis;
        }
        if (basis.refreshToken === undefined) {
          throw loginRequired("refresh_token_missing", 0);
        }
        let refreshed: RefreshedTokens;
        try {
          refreshed = await requestTokenRefresh(
            this.#options.tokenUrl,
            basis.refreshToken,
            {
              clientId: this.#options.clientId,
              timeoutMs: this.#options.refreshTimeoutMs ??
                DEFAULT_REFRESH_TIMEOUT_MS,
              fetch: this.#options.fetch,
            },
          );
        } catch (error) {
          if (
            error instanceof LoginRequiredError &&
            error.reason === "refresh_token_reused"
          ) {
            const newer = await this.#awaitNewerTokens(basis);
            if (newer) return newer;
          }
          throw error;
        }
        const committed = await this.#commit(basis, refreshed);
        this.#options.onRefresh?.("ok");
        return committed;
      } finally {
        await lock.release();
      }
    } catch (error) {
      this.#recordFailure(error, basis);
      if (error instanceof LoginRequiredError) {
        this.#options.onRefresh?.(error.reason);
      } else if (error instanceof TokenRefreshError) {
        this.#options.onRefresh?.(error.code);
      }
      throw error;
    }
  }

  /** After `refresh_token_reused`: the winner's tokens, if it wrote them. */
  async #awaitNewerTokens(
    basis: StampedCredentials,
  ): Promise<StampedCredentials | undefined> {
    const graceMs = this.#options.reusedGraceMs ?? 1000;
    const started = Date.now();
    for (;;) {
      try {
        const current = await this.#readFresh();
        if (current.refreshToken !== basis.refreshToken) return current;
      } catch (error) {
        if (!(error instanceof CredentialsError)) throw error;
      }
      if (Date.now() - started >= graceMs) return undefined;
      await delay(Math.min(100, graceMs));
    }
  }

  async #commit(
    basis: StampedCredentials,
    refreshed: RefreshedTokens,
  ): Promise<StampedCredentials> {
    const now = this.#now();
    const document = mergeRefreshedTokens(basis.document, refreshed, {
      accountId: basis.accountId,
      now,
    });
    const parsed = await credentialsFromDocument(document, this.#authFile);
    if (
      basis.refreshToken !== undefined &&
      parsed.refreshToken !== basis.refreshToken
    ) {
      this.#spend(basis.refreshToken);
    }
    // In memory first: the authority from now on, whatever the write does.
    this.#generation++;
    this.#refreshes++;
    this.#blocked = undefined;
    this.#backoff = undefined;
    this.#adopt({ ...parsed, stamp: basis.stamp });
    this.#unsaved = true;
    await this.#writeBack(parsed);
    const next = this.#cache!;
    if (isExpired(next, now)) {
      throw new TokenRefreshError(
        "Token refresh failed: expected a new access token from the token endpoint, found none or an expired one",
      );
    }
    this.#refreshedNearExpiry = needsRefresh(next, now)
      ? next.accessToken
      : undefined;
    return next;
  }

  /**
   * Writes the tokens in memory (`tokens`) back to the file. A failure keeps
   * them in memory (the old refresh token is spent), warns once and leaves
   * them to be saved at the next chance.
   */
  async #writeBack(tokens: CodexCredentials): Promise<void> {
    let how;
    this.#writing = true;
    try {
      how = await writeAuthFile(this.#authFile, tokens.document, {
        fs: this.#options.fs,
      });
    } catch (error) {
      if (!this.#saveFailing) {
        this.#warn(
          `Codex tokens were refreshed but could not be saved (${
            error instanceof CredentialsError ? error.message : "write failed"
          }); this process keeps using them and tries again at its next refresh, other programs using this Codex login will need "codex login"`,
        );
      }
      this.#saveFailing = true;
      return;
    } finally {
      // A read that overlapped the write may hold the old content.
      this.#writing = false;
      this.#generation++;
    }
    this.#saveFailing = false;
    if (how === "in_place" && !this.#warnedInPlace) {
      this.#warnedInPlace = true;
      this.#warn(
        "The Codex auth file cannot be replaced by a rename here (a single-file bind mount, another file system, or a folder this process may not write): refreshed tokens are written into it in place. Mount the folder that holds it instead to get atomic writes",
      );
    }
    const cache = this.#cache;
    if (
      cache?.accessToken !== tokens.accessToken ||
      cache.refreshToken !== tokens.refreshToken
    ) {
      return;
    }
    this.#unsaved = false;
    try {
      this.#cache = { ...cache, stamp: await statAuthFile(this.#authFile) };
    } catch {
      // Looked at again at the next check.
    }
  }

  #warn(message: string): void {
    (this.#options.onWarning ?? console.warn)(message);
  }

  #recordFailure(
    error: unknown,
    basis: StampedCredentials | undefined,
  ): void {
    const tokens = basis ?? this.#cache;
    if (!tokens) return;
    if (error instanceof LoginRequiredError) {
      if (this.#blocked?.error !== error) this.#warn(error.message);
      this.#blocked = {
        error,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      };
    } else if (error instanceof TokenRefreshError) {
      const failures = (this.#backoff?.failures ?? 0) + 1;
      const first = this.#options.backoffMs ?? 1000;
      const longest = this.#options.maxBackoffMs ?? 30_000;
      const pause = Math.min(longest, first * 2 ** (failures - 1));
      this.#backoff = {
        error,
        until: this.#now() + pause,
        failures,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      };
    }
  }
}

/**
 * Creates the token source over a Codex CLI auth.json.
 *
 * @example
 * ```ts
 * import { createTokenSource } from "./token_source.ts";
 *
 * const tokens = createTokenSource("/home/me/.codex/auth.json", {
 *   tokenUrl: "https://auth.openai.com/oauth/token",
 * });
 * await tokens.init();
 * const { accessToken, accountId } = await tokens.getToken();
 * ```
 */
export function createTokenSource(
  authFile: string,
  options: TokenSourceOptions,
): TokenSource {
  return new FileTokenSource(authFile, options);
}
