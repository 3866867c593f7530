/**
 * The rate-limit snapshot of the seller's subscription (from the backend's
 * `x-codex-*` headers) in words, for `check --probe`.
 *
 * @module
 */

import type {
  RateLimitSnapshot,
  RateLimitWindow,
} from "../codex/rate_limits.ts";
import { formatDuration, formatRelative } from "./duration.ts";

/**
 * One window in words: `primary: 12% used of a 5 h window, resets <ISO>
 * (in 2 h)`.
 *
 * @example
 * ```ts
 * import { describeWindow } from "./rate_limits_text.ts";
 * console.log(describeWindow("primary", { usedPercent: 12, windowMinutes: 300 }, Date.now()));
 * // "primary: 12% used of a 5 h window"
 * ```
 */
export function describeWindow(
  name: string,
  window: RateLimitWindow,
  now: number,
): string {
  const used = window.usedPercent === undefined
    ? "usage unknown"
    : `${window.usedPercent}% used`;
  const length = window.windowMinutes === undefined
    ? ""
    : ` of a ${formatDuration(window.windowMinutes * 60_000)} window`;
  const reset = window.resetsAt === undefined
    ? ""
    : `, resets ${new Date(window.resetsAt).toISOString()} (${
      formatRelative(window.resetsAt, now)
    })`;
  return `${name}: ${used}${length}${reset}`;
}

/**
 * Describes a rate-limit snapshot, one line per window (`primary`,
 * `secondary`); a single line saying so when there is none.
 *
 * @example
 * ```ts
 * import { describeRateLimits } from "./rate_limits_text.ts";
 * const snapshot = { primary: { usedPercent: 12, windowMinutes: 300 }, observedAt: 0 };
 * console.log(describeRateLimits(snapshot, Date.now()));
 * // ["primary: 12% used of a 5 h window"]
 * ```
 */
export function describeRateLimits(
  snapshot: RateLimitSnapshot | undefined,
  now: number,
): string[] {
  if (snapshot === undefined) {
    return ["the backend sent no rate-limit headers"];
  }
  const lines: string[] = [];
  if (snapshot.primary) {
    lines.push(describeWindow("primary", snapshot.primary, now));
  }
  if (snapshot.secondary) {
    lines.push(describeWindow("secondary", snapshot.secondary, now));
  }
  if (lines.length === 0) lines.push("the backend sent no rate-limit windows");
  if (snapshot.activeLimit) lines.push(`active limit: ${snapshot.activeLimit}`);
  if (snapshot.hasCredits !== undefined) {
    lines.push(`extra credits: ${snapshot.hasCredits ? "yes" : "no"}`);
  }
  return lines;
}
