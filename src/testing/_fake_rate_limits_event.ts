/**
 * The `codex.rate_limits` event the real backend may send inside a 200
 * stream, with the same numbers as the simulated backend's `x-codex-*`
 * headers.
 *
 * @module
 */

import { rateLimitHeaders, type UsageLimitState } from "./_fake_headers.ts";
import type { WireEvent } from "./_fake_events.ts";

/**
 * `{"type":"codex.rate_limits","plan_type","rate_limits":{"allowed",
 * "limit_reached","primary":{...},"secondary":{...}},"credits":{...}}`,
 * read from the headers the same answer carries.
 */
export function rateLimitsEvent(
  nowMs: number,
  planType: string,
  limit?: UsageLimitState,
): WireEvent {
  const headers = rateLimitHeaders(nowMs, planType, limit);
  function window(name: "primary" | "secondary"): Record<string, number> {
    const value = (field: string) =>
      Number(headers[`x-codex-${name}-${field}`]);
    return {
      used_percent: value("used-percent"),
      window_minutes: value("window-minutes"),
      reset_after_seconds: value("reset-after-seconds"),
      reset_at: value("reset-at"),
    };
  }
  return {
    type: "codex.rate_limits",
    plan_type: planType,
    rate_limits: {
      allowed: limit === undefined,
      limit_reached: limit !== undefined,
      primary: window("primary"),
      secondary: window("secondary"),
    },
    credits: {
      has_credits: headers["x-codex-credits-has-credits"] === "True",
      unlimited: false,
      balance: "0",
    },
  };
}
