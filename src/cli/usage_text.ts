/**
 * What the backend's usage endpoint says of a login, in words, for
 * `check --usage` and `accounts --usage`.
 *
 * @module
 */

import type { UsageReport, UsageWindow } from "../codex/usage.ts";
import type { RateLimitWindow } from "../codex/rate_limits.ts";
import { formatRelative } from "./duration.ts";
import { describeWindow } from "./rate_limits_text.ts";

function asRateLimitWindow(window: UsageWindow): RateLimitWindow {
  const converted: RateLimitWindow = {};
  if (window.usedPercent !== undefined) {
    converted.usedPercent = window.usedPercent;
  }
  if (window.windowSeconds !== undefined) {
    converted.windowMinutes = window.windowSeconds / 60;
  }
  if (window.resetAt !== undefined) converted.resetsAt = window.resetAt;
  return converted;
}

/**
 * Until when a usage report says the login is limited: when its limit is
 * reached, the latest reset of a used-up window (else the primary's, else
 * the secondary's); `undefined` when it is not limited or the reset is not
 * known.
 *
 * @example
 * ```ts
 * import { limitedUntil } from "./usage_text.ts";
 * console.log(limitedUntil({
 *   limitReached: true,
 *   primary: { usedPercent: 100, resetAt: 1_700_000_000_000 },
 *   additional: [],
 *   observedAt: 0,
 * })); // 1700000000000
 * ```
 */
export function limitedUntil(report: UsageReport): number | undefined {
  if (report.limitReached !== true) return undefined;
  const windows = [report.primary, report.secondary].filter(
    (window): window is UsageWindow => window?.resetAt !== undefined,
  );
  const full = windows.filter((window) => (window.usedPercent ?? 0) >= 100);
  const chosen = full.length > 0 ? full : windows.slice(0, 1);
  if (chosen.length === 0) return undefined;
  return Math.max(...chosen.map((window) => window.resetAt!));
}

function describeCredits(report: UsageReport): string {
  const credits = report.credits;
  if (credits === undefined) return "credits: not reported";
  if (credits.unlimited) return "credits: unlimited";
  if (credits.hasCredits) {
    return `credits: balance ${credits.balance ?? "unknown"}`;
  }
  return "credits: none";
}

/**
 * The lines of a usage report: plan, each window (used, length, reset),
 * whether the limit is reached and until when, the credits, the banked
 * rate-limit resets when the backend counts them, and each additional
 * limit.
 *
 * @example
 * ```ts
 * import { describeUsage } from "./usage_text.ts";
 * console.log(describeUsage({
 *   plan: "pro",
 *   primary: { usedPercent: 7, windowSeconds: 18000 },
 *   additional: [],
 *   observedAt: 0,
 * }, Date.now()));
 * // ["plan: pro", "primary: 7% used of a 5 h window", "credits: not reported"]
 * ```
 */
export function describeUsage(report: UsageReport, now: number): string[] {
  const lines = [`plan: ${report.plan ?? "unknown"}`];
  if (report.primary) {
    lines.push(
      describeWindow("primary", asRateLimitWindow(report.primary), now),
    );
  }
  if (report.secondary) {
    lines.push(
      describeWindow("secondary", asRateLimitWindow(report.secondary), now),
    );
  }
  if (!report.primary && !report.secondary) {
    lines.push("no rate-limit windows reported");
  }
  if (report.limitReached) {
    const until = limitedUntil(report);
    lines.push(
      until === undefined
        ? "limit reached (reset time unknown)"
        : `limit reached: usage-limited until ${
          new Date(until).toISOString()
        } (${formatRelative(until, now)})`,
    );
  }
  lines.push(describeCredits(report));
  if (report.resetCreditsAvailable !== undefined) {
    // Told, never spent: "accounts reset" is the only way to spend one.
    lines.push(`banked resets: ${report.resetCreditsAvailable}`);
  }
  for (const limit of report.additional) {
    const name = limit.limitName ?? limit.meteredFeature ?? "additional";
    if (limit.primary) {
      lines.push(
        describeWindow(
          `${name} primary`,
          asRateLimitWindow(limit.primary),
          now,
        ),
      );
    }
    if (limit.secondary) {
      lines.push(
        describeWindow(
          `${name} secondary`,
          asRateLimitWindow(limit.secondary),
          now,
        ),
      );
    }
  }
  return lines;
}
