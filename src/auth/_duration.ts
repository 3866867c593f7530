/**
 * Durations for messages: `15 minutes`, `30 s`, `250 ms`. Private to
 * `src/auth/`.
 *
 * @module
 */

/** `ms` in the largest whole unit that fits: minutes, seconds or milliseconds. */
export function describeDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) {
    const minutes = ms / 60_000;
    return `${minutes} minute${minutes === 1 ? "" : "s"}`;
  }
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
