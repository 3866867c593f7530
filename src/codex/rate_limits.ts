/**
 * The seller's own Codex subscription limits, read from the backend's
 * `x-codex-*` response headers (on 200 and 429 answers). They describe the
 * seller, never reach a buyer, and feed the provider's capacity and the
 * seller's dashboard.
 *
 * @module
 */

/** One rate-limit window (the primary is the short one, e.g. 5 hours; the secondary the weekly one). */
export interface RateLimitWindow {
  /** Share of the window used, 0 to 100. */
  usedPercent?: number;
  /** Length of the window in minutes. */
  windowMinutes?: number;
  /** When the window resets, ms since the epoch. */
  resetsAt?: number;
}

/** What the `x-codex-*` headers of one answer say. */
export interface RateLimitSnapshot {
  /** The primary (short) window. */
  primary?: RateLimitWindow;
  /** The secondary (long) window. */
  secondary?: RateLimitWindow;
  /** `x-codex-plan-type`, e.g. `plus`, `pro`. */
  planType?: string;
  /** `x-codex-active-limit`: which limit applies now. */
  activeLimit?: string;
  /** `x-codex-credits-has-credits` (Python-style `True`/`False`). */
  hasCredits?: boolean;
  /** When the headers were read, ms since the epoch. */
  observedAt: number;
}

const PREFIX = "x-codex-";

/**
 * Reads the `x-codex-*` rate-limit headers. Per window (`primary`,
 * `secondary`): `-used-percent`, `-window-minutes`, `-reset-at` (unix
 * seconds, may be an empty string) and `-reset-after-seconds` (used when
 * `-reset-at` is empty or absent). Unreadable values are left out; a window
 * with no readable value is absent.
 *
 * @param headers the upstream response headers
 * @param now the current time in ms since the epoch (default `Date.now()`)
 * @returns the snapshot, or undefined when there is no `x-codex-*` header
 *
 * @example
 * ```ts
 * import { parseRateLimitHeaders } from "./rate_limits.ts";
 *
 * const snapshot = parseRateLimitHeaders(new Headers({
 *   "x-codex-primary-used-percent": "42",
 *   "x-codex-primary-reset-after-seconds": "60",
 * }), 0);
 * console.log(snapshot?.primary); // { usedPercent: 42, resetsAt: 60000 }
 * ```
 */
export function parseRateLimitHeaders(
  headers: Headers,
  now: number = Date.now(),
): RateLimitSnapshot | undefined {
  let seen = false;
  for (const [name] of headers) {
    if (name.startsWith(PREFIX)) {
      seen = true;
      break;
    }
  }
  if (!seen) return undefined;
  const snapshot: RateLimitSnapshot = { observedAt: now };
  const primary = readWindow(headers, "primary", now);
  if (primary) snapshot.primary = primary;
  const secondary = readWindow(headers, "secondary", now);
  if (secondary) snapshot.secondary = secondary;
  const planType = headers.get(`${PREFIX}plan-type`)?.trim();
  if (planType) snapshot.planType = planType;
  const activeLimit = headers.get(`${PREFIX}active-limit`)?.trim();
  if (activeLimit) snapshot.activeLimit = activeLimit;
  const hasCredits = readBoolean(headers.get(`${PREFIX}credits-has-credits`));
  if (hasCredits !== undefined) snapshot.hasCredits = hasCredits;
  return snapshot;
}

function readWindow(
  headers: Headers,
  which: "primary" | "secondary",
  now: number,
): RateLimitWindow | undefined {
  const window: RateLimitWindow = {};
  const used = readNumber(headers.get(`${PREFIX}${which}-used-percent`));
  if (used !== undefined) window.usedPercent = used;
  const minutes = readNumber(headers.get(`${PREFIX}${which}-window-minutes`));
  if (minutes !== undefined) window.windowMinutes = minutes;
  const resetAt = readNumber(headers.get(`${PREFIX}${which}-reset-at`));
  if (resetAt !== undefined) {
    window.resetsAt = resetAt * 1000;
  } else {
    const after = readNumber(
      headers.get(`${PREFIX}${which}-reset-after-seconds`),
    );
    if (after !== undefined) window.resetsAt = now + after * 1000;
  }
  return Object.keys(window).length > 0 ? window : undefined;
}

function readNumber(value: string | null): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : undefined;
}

function readBoolean(value: string | null): boolean | undefined {
  switch (value?.trim().toLowerCase()) {
    case "true":
    case "1":
      return true;
    case "false":
    case "0":
      return false;
  }
  return undefined;
}
