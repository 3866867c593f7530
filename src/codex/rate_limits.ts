/**
 * The seller's own Codex subscription limits, read from the backend's
 * `x-codex-*` response headers (on 200 and 429 answers) and from the
 * `codex.rate_limits` event a stream may carry instead. They describe the
 * seller, never reach a buyer, and feed the provider's capacity and the
 * seller's dashboard.
 *
 * @module
 */

import { isRecord } from "../json.ts";
import { clampResetTime } from "./reset_time.ts";

/** The type (and SSE event name) of the backend's rate-limits event. */
export const RATE_LIMITS_EVENT = "codex.rate_limits";

/** One rate-limit window (the primary is the short one, e.g. 5 hours; the secondary the weekly one). */
export interface RateLimitWindow {
  /** Share of the window used, 0 to 100. */
  usedPercent?: number;
  /** Length of the window in minutes. */
  windowMinutes?: number;
  /** When the window resets, ms since the epoch. */
  resetsAt?: number;
}

/** What the `x-codex-*` headers (or the `codex.rate_limits` event) of one answer say. */
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
 * `-reset-at` is empty or absent), reset times brought within 7 days from
 * now. Unreadable values are left out; a window with no readable value is
 * absent.
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
  const resetsAt = resetTime(
    readNumber(headers.get(`${PREFIX}${which}-reset-at`)),
    readNumber(headers.get(`${PREFIX}${which}-reset-after-seconds`)),
    now,
  );
  if (resetsAt !== undefined) window.resetsAt = resetsAt;
  return Object.keys(window).length > 0 ? window : undefined;
}

/**
 * When a window resets: `reset-at` (unix seconds), else `reset-after-seconds`
 * from now, within 7 days from now (see ./reset_time.ts).
 */
function resetTime(
  resetAt: number | undefined,
  afterSeconds: number | undefined,
  now: number,
): number | undefined {
  if (resetAt !== undefined) return clampResetTime(resetAt * 1000, now);
  if (afterSeconds !== undefined) {
    return clampResetTime(now + afterSeconds * 1000, now);
  }
  return undefined;
}

/**
 * Reads the data of a `codex.rate_limits` event of the stream (the same
 * numbers as the `x-codex-*` headers, which the backend does not always
 * send): `plan_type`, `rate_limits.primary` and `.secondary` (`used_percent`,
 * `window_minutes`, `reset_at` in unix seconds, else `reset_after_seconds`)
 * and `credits.has_credits`. Unreadable values are left out, and reset times
 * are brought within 7 days from now.
 *
 * @param data the event's data, parsed
 * @param now the current time in ms since the epoch (default `Date.now()`)
 * @returns the snapshot, or undefined when `data` is not a `codex.rate_limits` event
 *
 * @example
 * ```ts
 * import { parseRateLimitsEvent } from "./rate_limits.ts";
 *
 * const snapshot = parseRateLimitsEvent({
 *   type: "codex.rate_limits",
 *   plan_type: "pro",
 *   rate_limits: { primary: { used_percent: 42, reset_after_seconds: 60 } },
 * }, 0);
 * console.log(snapshot?.planType, snapshot?.primary); // "pro" { usedPercent: 42, resetsAt: 60000 }
 * ```
 */
export function parseRateLimitsEvent(
  data: unknown,
  now: number = Date.now(),
): RateLimitSnapshot | undefined {
  if (!isRecord(data) || data.type !== RATE_LIMITS_EVENT) return undefined;
  const snapshot: RateLimitSnapshot = { observedAt: now };
  const limits = isRecord(data.rate_limits) ? data.rate_limits : {};
  const primary = readEventWindow(limits.primary, now);
  if (primary) snapshot.primary = primary;
  const secondary = readEventWindow(limits.secondary, now);
  if (secondary) snapshot.secondary = secondary;
  if (typeof data.plan_type === "string" && data.plan_type.trim() !== "") {
    snapshot.planType = data.plan_type.trim();
  }
  const credits = data.credits;
  if (isRecord(credits) && typeof credits.has_credits === "boolean") {
    snapshot.hasCredits = credits.has_credits;
  }
  return snapshot;
}

function readEventWindow(
  value: unknown,
  now: number,
): RateLimitWindow | undefined {
  if (!isRecord(value)) return undefined;
  const window: RateLimitWindow = {};
  const used = finite(value.used_percent);
  if (used !== undefined) window.usedPercent = used;
  const minutes = finite(value.window_minutes);
  if (minutes !== undefined) window.windowMinutes = minutes;
  const resetsAt = resetTime(
    finite(value.reset_at),
    finite(value.reset_after_seconds),
    now,
  );
  if (resetsAt !== undefined) window.resetsAt = resetsAt;
  return Object.keys(window).length > 0 ? window : undefined;
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value)
    ? value
    : undefined;
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
