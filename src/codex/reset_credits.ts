/**
 * Banked rate-limit resets of a ChatGPT plan: how many a login has and when
 * they expire (`GET <base>/wham/rate-limit-reset-credits`), and spending one
 * (`POST <base>/wham/rate-limit-reset-credits/consume`), with the login's
 * own token. A base outside `/backend-api` uses `<base>/api/codex/...`, as
 * the usage endpoint does (./usage.ts).
 *
 * Spending a reset is the seller's decision: only `accounts reset` calls
 * {@linkcode redeemResetCredit}; nothing in the provider, `serve`, `check`
 * or the listings does.
 *
 * @module
 */

import { DEFAULT_CLIENT_VERSION, DEFAULT_ORIGINATOR } from "../config.ts";
import { RelayError } from "../errors.ts";
import { isRecord, nonEmptyString } from "../json.ts";
import {
  machineInfo,
  type UpstreamIdentity,
  upstreamIdentity,
  type UpstreamToken,
} from "./request.ts";
import { DEFAULT_USAGE_TIMEOUT_MS } from "./usage.ts";

/** One banked reset that can be spent. */
export interface ResetCredit {
  /** Its id, for `credit_id`. */
  id: string;
  /** When it expires, milliseconds since the epoch, when the backend says. */
  expiresAt?: number;
  /** `reset_type`, as the backend writes it. */
  resetType?: string;
}

/** What the backend says of a login's banked resets. */
export interface ResetCredits {
  /** `available_count`. */
  availableCount: number;
  /** The available credits, the soonest to expire first. */
  credits: ResetCredit[];
}

/**
 * What spending a reset did: `reset` (the limited windows were reset),
 * `nothing_to_reset` (no window was limited; no credit spent), `no_credit`
 * (none left), `already_redeemed` (that credit was spent before), or
 * `ineligible` (403 `rate_limit_reset_ineligible`: the plan may not).
 */
export type ResetOutcome =
  | "reset"
  | "nothing_to_reset"
  | "no_credit"
  | "already_redeemed"
  | "ineligible";

/** The answer to one redemption. */
export interface ResetRedemption {
  /** What happened. */
  outcome: ResetOutcome;
  /** `windows_reset`, when answered. */
  windowsReset?: number;
  /** How many calls it took (1 unless an attempt failed and was retried). */
  attempts: number;
}

/** Options of the calls of this module. */
export interface ResetCreditsOptions {
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Bound of one call, answer included, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** Who the provider speaks as (default: the Codex CLI, on this machine). */
  identity?: UpstreamIdentity;
}

/** Options of {@linkcode redeemResetCredit}. */
export interface RedeemOptions extends ResetCreditsOptions {
  /**
   * `redeem_request_id`: one UUID v4 per decision of the seller, sent
   * unchanged by every retry so that the backend spends at most one credit.
   */
  redeemRequestId: string;
  /** The credit to spend (`credit_id`); default: the backend's choice. */
  creditId?: string;
  /** Calls in all, retries of a lost answer included (default 3). */
  maxAttempts?: number;
  /** Pause before the n-th retry: `retryDelayMs * n` milliseconds (default 1000). */
  retryDelayMs?: number;
}

const OUTCOMES: ReadonlySet<string> = new Set([
  "reset",
  "nothing_to_reset",
  "no_credit",
  "already_redeemed",
]);

/** Calls in all of one redemption, by default. */
export const DEFAULT_REDEEM_ATTEMPTS = 3;

/**
 * The URL of the reset-credits endpoint for a backend base URL.
 *
 * @example
 * ```ts
 * import { resetCreditsUrl } from "./reset_credits.ts";
 * console.log(resetCreditsUrl("https://chatgpt.com/backend-api"));
 * // "https://chatgpt.com/backend-api/wham/rate-limit-reset-credits"
 * ```
 */
export function resetCreditsUrl(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, "");
  return base.includes("/backend-api")
    ? `${base}/wham/rate-limit-reset-credits`
    : `${base}/api/codex/rate-limit-reset-credits`;
}

function unavailable(found: string, status?: number): RelayError {
  return new RelayError(
    502,
    "reset_credits_unavailable",
    `Expected an answer from the backend's rate-limit reset endpoint, found ${found}`,
    status === undefined ? {} : { details: { upstream_status: status } },
  );
}

/** One call; throws `reset_credits_unavailable` when no answer comes. */
async function call(
  url: string,
  token: UpstreamToken,
  options: ResetCreditsOptions,
  body?: object,
): Promise<{ status: number; text: string }> {
  const identity = options.identity ??
    upstreamIdentity(DEFAULT_ORIGINATOR, DEFAULT_CLIENT_VERSION, machineInfo());
  const timeoutMs = options.timeoutMs ?? DEFAULT_USAGE_TIMEOUT_MS;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await (options.fetch ?? globalThis.fetch)(url, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        "authorization": `Bearer ${token.accessToken}`,
        "chatgpt-account-id": token.accountId,
        "accept": "application/json",
        "originator": identity.originator,
        "user-agent": identity.userAgent,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: controller.signal,
      // Answered as it is: a redirect would take the login's account id
      // (and, to the same host, its token) wherever it points.
      redirect: "manual",
    });
    return { status: response.status, text: await response.text() };
  } catch {
    throw unavailable(
      controller.signal.aborted
        ? `no answer within ${timeoutMs} ms`
        : "no answer (the backend could not be reached)",
    );
  } finally {
    clearTimeout(timer);
  }
}

function statusText(status: number): string {
  const why = status === 401
    ? " (the login's token was refused)"
    : status === 404
    ? " (no reset endpoint at this backend)"
    : status === 429
    ? " (too many calls; try again later)"
    : "";
  return `HTTP ${status}${why}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Reads the body of `GET .../rate-limit-reset-credits`: the available
 * credits, soonest to expire first. Returns `undefined` when the body has no
 * `available_count` or `credits`.
 *
 * @example
 * ```ts
 * import { parseResetCredits } from "./reset_credits.ts";
 * const credits = parseResetCredits({
 *   available_count: 1,
 *   credits: [{ id: "c1", status: "available", expires_at: "2027-01-01T00:00:00Z", reset_type: "rate_limit" }],
 * });
 * console.log(credits?.availableCount, credits?.credits[0].id); // 1 "c1"
 * ```
 */
export function parseResetCredits(body: unknown): ResetCredits | undefined {
  if (!isRecord(body)) return undefined;
  const list = Array.isArray(body.credits) ? body.credits : undefined;
  const count = typeof body.available_count === "number" &&
      Number.isInteger(body.available_count) && body.available_count >= 0
    ? body.available_count
    : undefined;
  if (list === undefined && count === undefined) return undefined;
  const credits: ResetCredit[] = [];
  for (const entry of list ?? []) {
    if (!isRecord(entry)) continue;
    const id = nonEmptyString(entry.id);
    if (id === undefined) continue;
    if (entry.status !== undefined && entry.status !== "available") continue;
    const credit: ResetCredit = { id };
    const expires = nonEmptyString(entry.expires_at);
    const at = expires === undefined ? Number.NaN : Date.parse(expires);
    if (Number.isFinite(at)) credit.expiresAt = at;
    const type = nonEmptyString(entry.reset_type);
    if (type !== undefined) credit.resetType = type;
    credits.push(credit);
  }
  credits.sort((a, b) => (a.expiresAt ?? Infinity) - (b.expiresAt ?? Infinity));
  return { availableCount: count ?? credits.length, credits };
}

/**
 * Reads a login's banked resets. Spends nothing.
 *
 * Throws `RelayError` (502, `reset_credits_unavailable`) when no usable
 * answer comes; the message names what was found, never the token.
 *
 * @example
 * ```ts ignore
 * const { availableCount } = await readResetCredits(baseUrl, await tokens.getToken());
 * ```
 */
export async function readResetCredits(
  baseUrl: string,
  token: UpstreamToken,
  options: ResetCreditsOptions = {},
): Promise<ResetCredits> {
  const { status, text } = await call(resetCreditsUrl(baseUrl), token, options);
  if (status < 200 || status > 299) {
    throw unavailable(statusText(status), status);
  }
  const credits = parseResetCredits(parseJson(text));
  if (credits === undefined) {
    throw unavailable("a body without available_count or credits", status);
  }
  return credits;
}

/** Whether a failed attempt may have been lost on the way, so is retried. */
function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

/**
 * Spends one banked reset: `POST .../consume` with `redeem_request_id` (and
 * `credit_id` when given). A lost answer (no answer, a 5xx, a 429) is
 * retried with the same `redeem_request_id`, so the backend spends at most
 * one credit however many calls it takes.
 *
 * Throws `RelayError` (502, `reset_credits_unavailable`) when no outcome
 * comes after the last attempt, or the answer is not one of the outcomes.
 *
 * @example
 * ```ts ignore
 * const { outcome } = await redeemResetCredit(baseUrl, token, {
 *   redeemRequestId: crypto.randomUUID(),
 * });
 * ```
 */
export async function redeemResetCredit(
  baseUrl: string,
  token: UpstreamToken,
  options: RedeemOptions,
): Promise<ResetRedemption> {
  const body = {
    redeem_request_id: options.redeemRequestId,
    ...(options.creditId === undefined ? {} : { credit_id: options.creditId }),
  };
  const url = `${resetCreditsUrl(baseUrl)}/consume`;
  const maxAttempts = options.maxAttempts ?? DEFAULT_REDEEM_ATTEMPTS;
  const delay = options.retryDelayMs ?? 1000;
  let failure: RelayError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      await new Promise((resolve) =>
        setTimeout(resolve, delay * (attempt - 1))
      );
    }
    let answer: { status: number; text: string };
    try {
      answer = await call(url, token, options, body);
    } catch (error) {
      failure = error as RelayError;
      continue;
    }
    const parsed = parseJson(answer.text);
    if (answer.status === 403) {
      const detail = isRecord(parsed) && isRecord(parsed.detail)
        ? parsed.detail
        : undefined;
      if (detail?.code === "rate_limit_reset_ineligible") {
        return { outcome: "ineligible", attempts: attempt };
      }
    }
    if (answer.status < 200 || answer.status > 299) {
      failure = unavailable(statusText(answer.status), answer.status);
      if (retryable(answer.status)) continue;
      throw failure;
    }
    const code = isRecord(parsed) ? parsed.code : undefined;
    if (typeof code !== "string" || !OUTCOMES.has(code)) {
      throw unavailable(
        typeof code === "string"
          ? `the unknown outcome ${JSON.stringify(code.slice(0, 60))}`
          : "a body without an outcome code",
        answer.status,
      );
    }
    const redemption: ResetRedemption = {
      outcome: code as ResetOutcome,
      attempts: attempt,
    };
    const windows = isRecord(parsed) ? parsed.windows_reset : undefined;
    if (typeof windows === "number" && Number.isFinite(windows)) {
      redemption.windowsReset = windows;
    }
    return redemption;
  }
  throw failure ?? unavailable("no attempt");
}
