/**
 * Durations for people, as the command line prints them: `53 min`,
 * `in 2 min`, `2 h ago`.
 *
 * @module
 */

/**
 * A duration for people: `45 s`, `53 min`, `2 h 5 min`, `3 d 4 h`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./duration.ts";
 * console.log(formatDuration(53 * 60_000)); // "53 min"
 * ```
 */
export function formatDuration(ms: number): string {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days} d` : `${days} d ${rest} h`;
}

/**
 * A time relative to now: `in 53 min` or `2 h ago`.
 *
 * @example
 * ```ts
 * import { formatRelative } from "./duration.ts";
 * console.log(formatRelative(Date.now() + 120_000, Date.now())); // "in 2 min"
 * ```
 */
export function formatRelative(at: number, now: number): string {
  const duration = formatDuration(at - now);
  return at >= now ? `in ${duration}` : `${duration} ago`;
}
