/**
 * The rate-limit snapshot of the seller's subscription (from the backend's
 * `x-codex-*` headers) in words, for `check --probe`.
 *
 * @module
 */

import { formatDuration, formatRelative } from "./mask.ts";

/** One rate-limit window as the snapshot describes it (fields read tolerantly). */
export interface RateLimitWindowView {
  /** Percent of the window used. */
  usedPercent?: number;
  /** Length of the window, in minutes. */
  windowMinutes?: number;
  /** When the window resets, milliseconds since the epoch. */
  resetsAt?: number;
}

function numberField(
  source: Record<string, unknown>,
  names: string[],
): number | undefined {
  for (const name of names) {
    const value = source[name];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return undefined;
}

function readWindow(value: unknown): RateLimitWindowView | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const source = value as Record<string, unknown>;
  const window: RateLimitWindowView = {
    usedPercent: numberField(source, ["usedPercent", "used_percent"]),
    windowMinutes: numberField(source, ["windowMinutes", "window_minutes"]),
  };
  const resetsAt = numberField(source, [
    "resetsAt",
    "resetAt",
    "resets_at",
    "reset_at",
  ]);
  // Unix seconds and milliseconds both occur; seconds are below 10^11.
  if (resetsAt !== undefined) {
    window.resetsAt = resetsAt < 1e11 ? resetsAt * 1000 : resetsAt;
  }
  return window;
}

function describeWindow(
  name: string,
  window: RateLimitWindowView,
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
 * console.log(describeRateLimits({ primary: { usedPercent: 12, windowMinutes: 300 } }, Date.now()));
 * // ["primary: 12% used of a 5 h window"]
 * ```
 */
export function describeRateLimits(
  snapshot: object | undefined,
  now: number,
): string[] {
  if (snapshot === undefined) {
    return ["the backend sent no rate-limit headers"];
  }
  const source = snapshot as Record<string, unknown>;
  const lines: string[] = [];
  for (const name of ["primary", "secondary"]) {
    const window = readWindow(source[name]);
    if (window) lines.push(describeWindow(name, window, now));
  }
  return lines.length > 0 ? lines : ["the backend sent no rate-limit windows"];
}
