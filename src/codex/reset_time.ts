/**
 * The one rule for every reset time the backend sends (a usage limit's
 * `resets_at` / `resets_in_seconds`, a rate-limit window's `reset-at` /
 * `reset_after_seconds`, a `retry-after`): it lies between now and
 * {@linkcode MAX_RESET_MS} from now. A backend value beyond that (or beyond
 * the range of `Date`, where `toISOString()` throws) is read as "in 7 days";
 * one in the past as "now"; `NaN` is no reset time at all.
 *
 * @module
 */

/** The furthest a reset time may lie in the future: 7 days, in milliseconds (a Codex weekly window). */
export const MAX_RESET_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * A reset time (ms since the epoch) brought within `[now, now + MAX_RESET_MS]`;
 * undefined for `NaN` (the caller then falls back to its next source).
 *
 * @param resetsAt the reset time as read, ms since the epoch
 * @param now the current time, ms since the epoch
 * @returns the clamped reset time, or undefined for `NaN`
 *
 * @example
 * ```ts
 * import { clampResetTime, MAX_RESET_MS } from "./reset_time.ts";
 * console.log(clampResetTime(1e303, 0) === MAX_RESET_MS); // true
 * console.log(clampResetTime(Number.NaN, 0)); // undefined
 * ```
 */
export function clampResetTime(
  resetsAt: number,
  now: number,
): number | undefined {
  if (Number.isNaN(resetsAt)) return undefined;
  return Math.min(Math.max(resetsAt, now), now + MAX_RESET_MS);
}
