/**
 * The backend's usage endpoint: what a login's subscription has used of its
 * windows, when they reset, and its credits, read with the login's own
 * token (`GET <base>/wham/usage`, or `<base>/api/codex/usage` for a base
 * outside `/backend-api`). It describes the seller, never reaches a buyer,
 * and complements the `x-codex-*` headers of the answers
 * (./rate_limits.ts), which only come with a request.
 *
 * @module
 */

import { DEFAULT_CLIENT_VERSION, DEFAULT_ORIGINATOR } from "../config.ts";
import { RelayError } from "../errors.ts";
import { accountStateOf, classifyUpstreamError } from "./errors.ts";

/** Codes of a 401 that end the login, not only the token of this call. */
const ENDED_TOKEN = /"(token_invalidated|token_revoked)"/;

/**
 * The error of an answer that says the account is ended (the usage
 * endpoint answers as the responses endpoint does): deactivated, no Codex
 * in the plan, or tokens invalidated/revoked. A bare 401 (this call's
 * token) or 403 (some accounts may not read their usage) says nothing.
 */
function accountError(
  status: number,
  headers: Headers,
  text: string,
): RelayError | undefined {
  const { error } = classifyUpstreamError(status, headers, text);
  const state = accountStateOf(error.code);
  if (state === undefined || state === "blocked") return undefined;
  if (state === "needs_login" && !ENDED_TOKEN.test(text)) return undefined;
  return error;
}
import { isRecord, nonEmptyString } from "../json.ts";
import { clampResetTime } from "./reset_time.ts";
import {
  machineInfo,
  type UpstreamIdentity,
  upstreamIdentity,
  type UpstreamToken,
} from "./request.ts";

/** Default bound of one usage call, in milliseconds. */
export const DEFAULT_USAGE_TIMEOUT_MS = 10_000;

/** One window of the usage endpoint (`primary_window`, `secondary_window`). */
export interface UsageWindow {
  /** Share of the window used, 0 to 100 (`used_percent`). */
  usedPercent?: number;
  /** Length of the window in seconds (`limit_window_seconds`): typically 18000 (5 h) or 604800 (7 days). */
  windowSeconds?: number;
  /** Seconds until the window resets, when answered (`reset_after_seconds`). */
  resetAfterSeconds?: number;
  /**
   * When the window resets, milliseconds since the epoch: `reset_at` (unix
   * seconds), else now plus `reset_after_seconds`, within 7 days from now.
   */
  resetAt?: number;
}

/** The credits of the account (`credits`). */
export interface UsageCredits {
  /** Whether the account has credits (`has_credits`). */
  hasCredits?: boolean;
  /** Whether its credits are unlimited (`unlimited`). */
  unlimited?: boolean;
  /** The balance as the backend writes it, a decimal string (`balance`). */
  balance?: string;
  /** Approximate local messages the credits buy (`approx_local_messages`). */
  approxLocalMessages?: number;
  /** Approximate cloud messages the credits buy (`approx_cloud_messages`). */
  approxCloudMessages?: number;
}

/** A limit of the account besides the main one (`additional_rate_limits[]`). */
export interface AdditionalUsageLimit {
  /** `limit_name`. */
  limitName?: string;
  /** `metered_feature`. */
  meteredFeature?: string;
  /** Its `rate_limit.primary_window`. */
  primary?: UsageWindow;
  /** Its `rate_limit.secondary_window`. */
  secondary?: UsageWindow;
}

/** What the usage endpoint says of one login. Holds no secret. */
export interface UsageReport {
  /** `plan_type`, e.g. `plus`, `pro`. */
  plan?: string;
  /** `rate_limit.allowed`: whether requests are accepted now. */
  allowed?: boolean;
  /** `rate_limit.limit_reached`: whether a window is used up. */
  limitReached?: boolean;
  /** The short window (typically 5 h); absent when the backend answers `null`. */
  primary?: UsageWindow;
  /** The long window (typically 7 days); absent when the backend answers `null`. */
  secondary?: UsageWindow;
  /** The credits; absent when the backend sends none. */
  credits?: UsageCredits;
  /** Further limits (`additional_rate_limits`); empty when none. */
  additional: AdditionalUsageLimit[];
  /**
   * Banked rate-limit resets the login can spend
   * (`rate_limit_reset_credits.available_count`), when answered; their
   * expiry comes from ./reset_credits.ts.
   */
  resetCreditsAvailable?: number;
  /** When the answer was read, milliseconds since the epoch. */
  observedAt: number;
}

/** Options of {@linkcode readUsage}. */
export interface ReadUsageOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Bound of the whole call, answer included, in milliseconds (default 10000). */
  timeoutMs?: number;
  /**
   * Who the provider speaks as (`originator`, `user-agent`). Default: the
   * Codex CLI the provider speaks as by default, on this machine.
   */
  identity?: UpstreamIdentity;
  /** Aborts the call (it then fails with `usage_unavailable`). */
  signal?: AbortSignal;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/**
 * The URL of the usage endpoint for a backend base URL: `<base>/wham/usage`
 * when the base contains `/backend-api` (the ChatGPT backend), else
 * `<base>/api/codex/usage`.
 *
 * @example
 * ```ts
 * import { usageUrl } from "./usage.ts";
 * console.log(usageUrl("https://chatgpt.com/backend-api")); // "https://chatgpt.com/backend-api/wham/usage"
 * console.log(usageUrl("http://127.0.0.1:8080")); // "http://127.0.0.1:8080/api/codex/usage"
 * ```
 */
export function usageUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  return base.includes("/backend-api")
    ? `${base}/wham/usage`
    : `${base}/api/codex/usage`;
}

function unavailable(
  found: string,
  status?: number,
  cause?: unknown,
): RelayError {
  return new RelayError(
    502,
    "usage_unavailable",
    `Expected the account's usage from the backend's usage endpoint, found ${found}`,
    {
      ...(status === undefined ? {} : { details: { upstream_status: status } }),
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

function readNumber(value: unknown): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) ? value : undefined;
  }
  if (typeof value === "string" && value.trim() !== "") {
    const number = Number(value);
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

function readBoolean(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

function readWindow(value: unknown, now: number): UsageWindow | undefined {
  if (!isRecord(value)) return undefined;
  const window: UsageWindow = {};
  const used = readNumber(value.used_percent);
  if (used !== undefined) window.usedPercent = used;
  const seconds = readNumber(value.limit_window_seconds);
  if (seconds !== undefined) window.windowSeconds = seconds;
  const after = readNumber(value.reset_after_seconds);
  if (after !== undefined) window.resetAfterSeconds = after;
  const at = readNumber(value.reset_at);
  const resetAt = at !== undefined
    ? clampResetTime(at * 1000, now)
    : after !== undefined
    ? clampResetTime(now + after * 1000, now)
    : undefined;
  if (resetAt !== undefined) window.resetAt = resetAt;
  return window;
}

function readCredits(value: unknown): UsageCredits | undefined {
  if (!isRecord(value)) return undefined;
  const credits: UsageCredits = {};
  const has = readBoolean(value.has_credits);
  if (has !== undefined) credits.hasCredits = has;
  const unlimited = readBoolean(value.unlimited);
  if (unlimited !== undefined) credits.unlimited = unlimited;
  // A decimal string: kept as written, so that no digit is lost.
  const balance = typeof value.balance === "number"
    ? String(value.balance)
    : nonEmptyString(value.balance)?.trim();
  if (balance !== undefined) credits.balance = balance;
  const local = readNumber(value.approx_local_messages);
  if (local !== undefined) credits.approxLocalMessages = local;
  const cloud = readNumber(value.approx_cloud_messages);
  if (cloud !== undefined) credits.approxCloudMessages = cloud;
  return credits;
}

/**
 * Reads the body of the usage endpoint. Tolerant: unknown fields are
 * ignored, unreadable values left out. Returns `undefined` when the body is
 * not an object with `plan_type` or `rate_limit`.
 *
 * @example
 * ```ts
 * import { parseUsage } from "./usage.ts";
 * const report = parseUsage({
 *   plan_type: "pro",
 *   rate_limit: { primary_window: { used_percent: 7, limit_window_seconds: 18000, reset_at: 1700000000 } },
 * }, 0);
 * console.log(report?.plan, report?.primary?.resetAt); // "pro" 1700000000000
 * ```
 */
export function parseUsage(
  body: unknown,
  now: number,
): UsageReport | undefined {
  if (!isRecord(body)) return undefined;
  const rateLimit = isRecord(body.rate_limit) ? body.rate_limit : undefined;
  const plan = nonEmptyString(body.plan_type)?.trim();
  if (plan === undefined && rateLimit === undefined) return undefined;
  const report: UsageReport = { additional: [], observedAt: now };
  if (plan !== undefined) report.plan = plan;
  if (rateLimit !== undefined) {
    const allowed = readBoolean(rateLimit.allowed);
    if (allowed !== undefined) report.allowed = allowed;
    const reached = readBoolean(rateLimit.limit_reached);
    if (reached !== undefined) report.limitReached = reached;
    const primary = readWindow(rateLimit.primary_window, now);
    if (primary) report.primary = primary;
    const secondary = readWindow(rateLimit.secondary_window, now);
    if (secondary) report.secondary = secondary;
  }
  const credits = readCredits(body.credits);
  if (credits) report.credits = credits;
  const resets = isRecord(body.rate_limit_reset_credits)
    ? readNumber(body.rate_limit_reset_credits.available_count)
    : undefined;
  if (resets !== undefined) report.resetCreditsAvailable = resets;
  if (Array.isArray(body.additional_rate_limits)) {
    for (const entry of body.additional_rate_limits) {
      if (!isRecord(entry)) continue;
      const limit: AdditionalUsageLimit = {};
      const name = nonEmptyString(entry.limit_name);
      if (name !== undefined) limit.limitName = name;
      const feature = nonEmptyString(entry.metered_feature);
      if (feature !== undefined) limit.meteredFeature = feature;
      const inner = isRecord(entry.rate_limit) ? entry.rate_limit : {};
      const primary = readWindow(inner.primary_window, now);
      if (primary) limit.primary = primary;
      const secondary = readWindow(inner.secondary_window, now);
      if (secondary) limit.secondary = secondary;
      report.additional.push(limit);
    }
  }
  return report;
}

/**
 * Reads the usage of one login: `GET` {@linkcode usageUrl} with the login's
 * `authorization`, `chatgpt-account-id`, `user-agent` and `originator`,
 * bounded by `timeoutMs`.
 *
 * Throws the account's error (503, e.g. `upstream_workspace_deactivated`,
 * whose code names a login state) when the answer says the account is
 * ended. Throws `RelayError` (502, `usage_unavailable`) when no usable answer
 * comes: no answer in time, a network error, a non-2xx status (in
 * `details.upstream_status`), a body that is not the usage JSON. The
 * message names what was found, never the token or the URL.
 *
 * @example
 * ```ts ignore
 * import { readUsage } from "./usage.ts";
 * const usage = await readUsage("https://chatgpt.com/backend-api", await tokens.getToken());
 * console.log(usage.plan, usage.primary?.usedPercent);
 * ```
 */
export async function readUsage(
  baseUrl: string,
  token: UpstreamToken,
  options: ReadUsageOptions = {},
): Promise<UsageReport> {
  const identity = options.identity ??
    upstreamIdentity(DEFAULT_ORIGINATOR, DEFAULT_CLIENT_VERSION, machineInfo());
  const timeoutMs = options.timeoutMs ?? DEFAULT_USAGE_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  const signal = options.signal;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  let status: number;
  let text: string;
  let headers: Headers;
  try {
    const response = await (options.fetch ?? globalThis.fetch)(
      usageUrl(baseUrl),
      {
        method: "GET",
        headers: {
          "authorization": `Bearer ${token.accessToken}`,
          "chatgpt-account-id": token.accountId,
          "accept": "application/json",
          "originator": identity.originator,
          "user-agent": identity.userAgent,
        },
        signal: controller.signal,
        // Answered as it is: a redirect would take the login's account id
        // (and, to the same host, its token) wherever it points.
        redirect: "manual",
      },
    );
    status = response.status;
    headers = response.headers;
    text = await response.text();
  } catch (error) {
    throw timedOut
      ? unavailable(
        `no answer within ${
          timeoutMs % 1000 === 0 ? `${timeoutMs / 1000} s` : `${timeoutMs} ms`
        }`,
      )
      : controller.signal.aborted
      ? unavailable("no answer (the call was cancelled)")
      : unavailable(
        "no answer (the backend could not be reached)",
        undefined,
        error,
      );
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
  if (status < 200 || status > 299) {
    // A redirect says nothing of the account, whatever its body holds.
    const redirect = status >= 300 && status <= 399;
    const ended = redirect ? undefined : accountError(status, headers, text);
    if (ended) throw ended;
    const why = redirect
      ? " (a redirect, not followed)"
      : status === 401
      ? " (the login's token was refused)"
      : status === 403
      ? " (the account may not read its usage)"
      : status === 404
      ? " (no usage endpoint at this backend)"
      : "";
    throw unavailable(`HTTP ${status}${why}`, status);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw unavailable("a body that is not JSON", status);
  }
  const report = parseUsage(body, (options.now ?? Date.now)());
  if (report === undefined) {
    throw unavailable("JSON without plan_type or rate_limit", status);
  }
  return report;
}
