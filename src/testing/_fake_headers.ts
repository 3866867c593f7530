/**
 * Headers and bodies of the simulated Codex backend that depend on the
 * account state: rate-limit headers, noise headers, usage-limit bodies, the
 * usage endpoint's answer (the same numbers as the headers).
 *
 * @module
 */

import type {
  FakeAccountError,
  FakeAccountUsage,
  FakeUsageWindow,
} from "./_fake_types.ts";

/** Usage-limit state of the simulated account. */
export interface UsageLimitState {
  /** Status of every usage-limit answer. */
  status: 429 | 404;
  /** Reset time, unix seconds. */
  resetsAt: number;
  /** `plan_type` of the body. */
  planType: string;
}

/** Headers a relay must not forward to a buyer, sent on every answer. */
export const NOISE_HEADERS: Readonly<Record<string, string>> = {
  "set-cookie":
    "__cf_bm=simulated-cookie; path=/; domain=.chatgpt.com; HttpOnly; Secure; SameSite=None",
  "cf-ray": "8f0000000000fake-AMS",
  "openai-processing-ms": "42",
};

const PRIMARY = { used: 7, windowMinutes: 300, resetAfter: 9000 };
const SECONDARY = { used: 31, windowMinutes: 10080, resetAfter: 345600 };

/**
 * The `x-codex-*` rate-limit headers, booleans in Python style. With a
 * usage limit, the primary window is used up and resets at its reset time.
 */
export function rateLimitHeaders(
  nowMs: number,
  planType: string,
  limit?: UsageLimitState,
): Record<string, string> {
  const now = Math.floor(nowMs / 1000);
  const primaryResetAfter = limit
    ? Math.max(0, limit.resetsAt - now)
    : PRIMARY.resetAfter;
  return {
    "x-codex-primary-used-percent": String(limit ? 100 : PRIMARY.used),
    "x-codex-primary-window-minutes": String(PRIMARY.windowMinutes),
    "x-codex-primary-reset-at": String(now + primaryResetAfter),
    "x-codex-primary-reset-after-seconds": String(primaryResetAfter),
    "x-codex-secondary-used-percent": String(SECONDARY.used),
    "x-codex-secondary-window-minutes": String(SECONDARY.windowMinutes),
    "x-codex-secondary-reset-at": String(now + SECONDARY.resetAfter),
    "x-codex-secondary-reset-after-seconds": String(SECONDARY.resetAfter),
    "x-codex-plan-type": planType,
    "x-codex-active-limit": "codex",
    "x-codex-credits-has-credits": "False",
  };
}

function usageWindow(
  window: FakeUsageWindow | null,
  now: number,
): Record<string, unknown> | null {
  if (window === null) return null;
  return {
    used_percent: window.usedPercent,
    limit_window_seconds: window.windowSeconds,
    reset_after_seconds: window.resetAfterSeconds,
    reset_at: now + window.resetAfterSeconds,
  };
}

/**
 * The answer of `GET <base>/wham/usage`: the scripted fields, the rest from
 * the numbers of {@linkcode rateLimitHeaders} (with a usage limit, the
 * primary window is used up until its reset).
 */
export function accountUsageBody(
  nowMs: number,
  planType: string,
  limit: UsageLimitState | undefined,
  script: FakeAccountUsage = {},
): Record<string, unknown> {
  const now = Math.floor(nowMs / 1000);
  const limited = limit !== undefined && limit.resetsAt > now;
  const primary = script.primary !== undefined ? script.primary : {
    usedPercent: limited ? 100 : PRIMARY.used,
    windowSeconds: PRIMARY.windowMinutes * 60,
    resetAfterSeconds: limited ? limit.resetsAt - now : PRIMARY.resetAfter,
  };
  const secondary = script.secondary !== undefined ? script.secondary : {
    usedPercent: SECONDARY.used,
    windowSeconds: SECONDARY.windowMinutes * 60,
    resetAfterSeconds: SECONDARY.resetAfter,
  };
  const reached = script.limitReached ?? limited;
  const credits = script.credits === undefined
    ? { hasCredits: false, unlimited: false, balance: "0" }
    : script.credits;
  return {
    plan_type: script.plan ?? planType,
    rate_limit: {
      allowed: !reached,
      limit_reached: reached,
      primary_window: usageWindow(primary, now),
      secondary_window: usageWindow(secondary, now),
    },
    credits: credits === null ? null : {
      has_credits: credits.hasCredits,
      unlimited: credits.unlimited,
      balance: credits.balance,
      approx_local_messages: credits.approxLocalMessages ?? 0,
      approx_cloud_messages: credits.approxCloudMessages ?? 0,
    },
    additional_rate_limits: [],
  };
}

/** The real backend's usage-limit body, `resets_in_seconds` counted from now. */
export function usageLimitBody(
  limit: UsageLimitState,
  nowMs: number,
): Record<string, unknown> {
  return {
    error: {
      type: "usage_limit_reached",
      message: "The usage limit has been reached",
      plan_type: limit.planType,
      resets_at: limit.resetsAt,
      eligible_promo: null,
      resets_in_seconds: Math.max(
        0,
        Math.ceil(limit.resetsAt - nowMs / 1000),
      ),
    },
  };
}

/** The body of a `usage_not_included` answer (403). */
export function usageNotIncludedBody(
  planType: string,
): Record<string, unknown> {
  return {
    error: {
      type: "usage_not_included",
      message: "Your plan does not include Codex usage",
      plan_type: planType,
      resets_at: null,
      eligible_promo: null,
    },
  };
}

/** What the backend answers an account ended with `code`. */
export function accountErrorAnswer(
  code: FakeAccountError,
  planType: string,
): {
  status: number;
  body: string | Record<string, unknown>;
  headers: Record<string, string>;
} {
  const error = (code: string, message: string) => ({
    error: { message, type: "invalid_request_error", code, param: null },
  });
  switch (code) {
    case "token_invalidated":
      return {
        status: 401,
        body: error(
          code,
          "Your authentication token has been invalidated. Please try signing in again.",
        ),
        headers: {},
      };
    case "token_revoked":
      return {
        status: 401,
        body: error(
          code,
          "Encountered invalidated oauth token for user, failing request",
        ),
        headers: {},
      };
    case "deactivated_workspace":
      return { status: 402, body: { detail: { code } }, headers: {} };
    case "account_deactivated":
      return {
        status: 403,
        body: error(code, "This account has been deactivated."),
        headers: {},
      };
    case "phone_verification_required":
      return {
        status: 403,
        body: error(code, "Phone verification is required."),
        headers: {},
      };
    case "usage_not_included":
      return {
        status: 429,
        body: usageNotIncludedBody(planType),
        headers: {},
      };
    case "cloudflare":
      return {
        status: 403,
        body:
          "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body></body></html>",
        headers: { "cf-mitigated": "challenge", "content-type": "text/html" },
      };
  }
}

/** Default body of a scripted status answer. */
export function defaultStatusBody(status: number): Record<string, unknown> {
  if (status === 401) return { detail: "Unauthorized" };
  if (status === 503) return { error: { code: "server_is_overloaded" } };
  return { detail: REASONS[status] ?? `Status ${status}` };
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  504: "Gateway Timeout",
};
