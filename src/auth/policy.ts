/**
 * When a Codex login needs a refresh: the rules of the Codex CLI, in one
 * place, so the token source and the `check` command agree.
 *
 * @module
 */

/** Refresh when the access token expires within this many milliseconds (5 minutes). */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** Without a readable expiry, refresh when `last_refresh` is older than this (8 days). */
export const MAX_REFRESH_AGE_MS = 8 * 24 * 60 * 60 * 1000;

/** The expiry fields the refresh rules look at. */
export interface RefreshTiming {
  /** Access-token expiry, milliseconds since the epoch, when readable. */
  expiresAt?: number;
  /** `last_refresh`, milliseconds since the epoch, when readable. */
  lastRefresh?: number;
}

/** Why the access token may be used as it is or must be refreshed first. */
export type RefreshReason =
  | "valid"
  | "expires_soon"
  | "expired"
  | "last_refresh_old"
  | "expiry_unknown";

/** What the token source would do next with a given access token. */
export interface RefreshPlan {
  /** `use` the current access token, or `refresh` it first. */
  action: "use" | "refresh";
  /** Why. `expiry_unknown`: neither `exp` nor `last_refresh` is readable; the token is used until the backend rejects it. */
  reason: RefreshReason;
}

/**
 * Whether the access token has expired.
 *
 * @example
 * ```ts
 * import { isExpired } from "./policy.ts";
 * console.log(isExpired({ expiresAt: 1000 }, 2000)); // true
 * ```
 */
export function isExpired(timing: RefreshTiming, now: number): boolean {
  return timing.expiresAt !== undefined && timing.expiresAt <= now;
}

/**
 * Decides whether the access token can be used or must be refreshed first:
 * refresh when `exp` is within 5 minutes, or, when `exp` is unreadable, when
 * `last_refresh` is older than 8 days.
 *
 * @example
 * ```ts
 * import { planRefresh } from "./policy.ts";
 * const now = Date.now();
 * console.log(planRefresh({ expiresAt: now + 60_000 }, now)); // { action: "refresh", reason: "expires_soon" }
 * ```
 */
export function planRefresh(timing: RefreshTiming, now: number): RefreshPlan {
  if (timing.expiresAt !== undefined) {
    if (timing.expiresAt <= now) {
      return { action: "refresh", reason: "expired" };
    }
    if (timing.expiresAt - now <= REFRESH_MARGIN_MS) {
      return { action: "refresh", reason: "expires_soon" };
    }
    return { action: "use", reason: "valid" };
  }
  if (timing.lastRefresh !== undefined) {
    return now - timing.lastRefresh > MAX_REFRESH_AGE_MS
      ? { action: "refresh", reason: "last_refresh_old" }
      : { action: "use", reason: "valid" };
  }
  return { action: "use", reason: "expiry_unknown" };
}

/**
 * Shorthand for `planRefresh(timing, now).action === "refresh"`.
 *
 * @example
 * ```ts
 * import { needsRefresh } from "./policy.ts";
 * console.log(needsRefresh({ expiresAt: Date.now() + 3_600_000 }, Date.now())); // false
 * ```
 */
export function needsRefresh(timing: RefreshTiming, now: number): boolean {
  return planRefresh(timing, now).action === "refresh";
}
