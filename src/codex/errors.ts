/**
 * Classification of the Codex backend's error answers into buyer-facing
 * {@linkcode RelayError}s and relay decisions (retry, usage limit, refresh),
 * and the OpenAI-shaped error bodies and SSE events the buyer receives.
 *
 * Status choices (buyer-facing status, code):
 *
 * | upstream                                    | buyer                                    | retryable |
 * | ------------------------------------------- | ---------------------------------------- | --------- |
 * | 429/404 `usage_limit_reached`               | 429 `usage_limit_reached`, `retry-after` | no        |
 * | any `usage_not_included`                    | 503 `usage_not_included`                 | no        |
 * | 401 (after one refresh)                     | 503 `upstream_auth_failed`               | no        |
 * | 402 (`deactivated_workspace`)               | 503 `upstream_workspace_deactivated`     | no        |
 * | 402 (other)                                 | 503 `upstream_payment_required`          | no        |
 * | 403 HTML page (a Cloudflare challenge)      | 503 `upstream_blocked`                   | no        |
 * | any status with `cf-mitigated: challenge`   | 503 `upstream_blocked`                   | no        |
 * | 403 `account_deactivated`                   | 503 `upstream_account_deactivated`       | no        |
 * | 403 (other)                                 | 503 `upstream_forbidden`                 | no        |
 * | 400/422 the exact model statement (below)   | 400 `model_not_supported`                | no        |
 * | 400/422 (other)                             | 400 upstream code or `upstream_bad_request` | no     |
 * | 404 `Item with id ... not found`            | 404 `item_not_found`                     | no        |
 * | 404 (other)                                 | 502 `upstream_not_found`                 | no        |
 * | 413                                         | 413 `request_too_large`                  | no        |
 * | 429 `insufficient_quota`                    | 429 `insufficient_quota`                 | no        |
 * | 429 (other)                                 | 429 `rate_limited`                       | yes       |
 * | 5xx `server_is_overloaded`                  | 503 `server_is_overloaded`               | yes       |
 * | 500, 502                                    | 502 `upstream_error`                     | yes       |
 * | 503                                         | 503 `upstream_unavailable`               | yes       |
 * | 504                                         | 502 `upstream_timeout`                   | yes       |
 * | anything else                               | 502 `upstream_error`                     | no        |
 *
 * A redirect (301, 302, 303, 307, 308) never reaches this table from the
 * relay: its fetch follows none (`redirect: "error"`), so a redirect fails
 * the attempt like a refused connection (retried, then 502
 * `upstream_unreachable`).
 *
 * Why: the seller's login, plan, workspace and account standing are not the
 * buyer's fault and cannot be fixed by the buyer, so they are 503 ("this
 * seller cannot serve you now; try another"), never 401/402/403 which would
 * blame the buyer's own credentials. `usage_not_included` is 503 rather than
 * 429 because it is permanent (the plan has no Codex access): a 429 would
 * invite the buyer to wait and retry the same seller. A usage limit is 429
 * with the reset time because waiting does help.
 *
 * Some of these codes end a login until the seller acts
 * ({@linkcode accountStateOf}): the provider takes the login out of rotation
 * in a named state and answers later requests with the same code.
 *
 * Only the backend's own verdicts say something about a login, because the
 * provider passes a login over on them: `model_not_supported` comes only
 * from the backend's exact statement for the model requested (a 400 that
 * merely contains such text may echo the buyer's input), and a Cloudflare
 * challenge is `upstream_blocked`, a refusal of this machine's traffic by the
 * backend's edge that every login shares, not a verdict on the account.
 *
 * Text passed on from the upstream (a `detail`, an error `message`) is
 * truncated and scrubbed of anything that looks like a credential (`Bearer
 * ...`, JWTs, API keys); HTML is never passed on.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";
import { clampResetTime, MAX_RESET_MS } from "./reset_time.ts";
import { type EchoFields, echoResponse } from "./echo.ts";

/** Relay decision about one non-2xx upstream answer. */
export interface UpstreamVerdict {
  /** What the buyer gets if the relay gives up. */
  error: RelayError;
  /** Worth retrying: 429 without a usage-limit body, 500, 502, 503, 504. */
  retryable: boolean;
  /** From `retry-after-ms` or `retry-after` (seconds or HTTP date). */
  retryAfterMs?: number;
  /** Set for `usage_limit_reached` (429, or the same body under 404). */
  usageLimit?: UsageLimit;
  /** The upstream answered 401: refresh the token, then retry once. */
  unauthorized: boolean;
}

/** When a usage limit ends. */
export interface UsageLimit {
  /** Milliseconds since the epoch. */
  resetsAt: number;
}

/** Options of {@linkcode classifyUpstreamError}. */
export interface ClassifyOptions {
  /** The current time in ms since the epoch (default `Date.now()`). */
  now?: number;
  /**
   * The model the request asked the backend for. Only the backend's exact
   * statement that this model is not supported gives `model_not_supported`;
   * without it, no answer does.
   */
  model?: string;
}

/** Options of {@linkcode sseErrorEvent}. */
export interface SseErrorEventOptions {
  /** `sequence_number` of the event (default 0). */
  sequenceNumber?: number;
  /** `response.id` of the event, when known. */
  responseId?: string;
  /** The buyer's own fields, set in the Response as in every lifecycle event it got (./echo.ts). */
  echo?: EchoFields;
}

/** Options of {@linkcode usageLimitError}. */
export interface UsageLimitErrorOptions {
  /** The current time in ms since the epoch (default `Date.now()`). */
  now?: number;
}

/**
 * How long a usage limit is assumed to last when the backend gives no reset
 * time (no `resets_at`, no `resets_in_seconds`, no `retry-after`): short, so
 * that a seller is not blocked for long on a guess.
 */
export const DEFAULT_USAGE_LIMIT_MS = 60_000;

/** How the backend refuses a model for the `version` the request carried. */
const NEWER_CLIENT_REQUIRED = /requires a newer version of Codex/i;

/**
 * Whether `text` is the backend's whole statement that the account's plan
 * lacks `model`: `The '<model>' model is not supported when using Codex with
 * a ChatGPT account.` (the final period optional), and nothing else. A text
 * that only contains it may quote the buyer (an unsupported parameter's
 * name, an invalid value).
 */
function refusesModel(text: string, model: string): boolean {
  const statement =
    `The '${model}' model is not supported when using Codex with a ChatGPT account`;
  return text === statement || text === `${statement}.`;
}

/**
 * Whether an answer is the backend's edge (Cloudflare) refusing this
 * machine's traffic: a `cf-mitigated: challenge` header, or a 403 with an
 * HTML page (the backend's own 403s are JSON).
 */
function isEdgeBlock(
  status: number,
  headers: Headers,
  html: boolean,
): boolean {
  const mitigated = headers.get("cf-mitigated")?.trim().toLowerCase();
  return mitigated === "challenge" || (status === 403 && html);
}

/** The error of an answer the backend's edge gave instead of the backend. */
function edgeBlocked(status: number): RelayError {
  return new RelayError(
    503,
    "upstream_blocked",
    `The backend's edge (Cloudflare) refused this seller machine's traffic with a challenge (${status}), not the seller's account; this seller cannot serve requests now`,
  );
}

/**
 * The error of a model the backend refused because the Codex client version
 * the provider speaks as is too old for it: 400 `client_version_too_old`,
 * with a message that does not blame the buyer (the seller must raise
 * `OPENAI_RESPONSES_CLIENT_VERSION`). The model named by the backend is kept
 * in `details.model` for the seller's log.
 *
 * @param upstreamText what the backend said, e.g. `The 'gpt-5.6-sol' model requires a newer version of Codex. ...`
 * @returns the buyer-facing error
 *
 * @example
 * ```ts
 * import { clientVersionTooOld } from "./errors.ts";
 * const error = clientVersionTooOld("The 'gpt-5.6-sol' model requires a newer version of Codex.");
 * console.log(error.code, error.details.model); // "client_version_too_old" "gpt-5.6-sol"
 * ```
 */
export function clientVersionTooOld(upstreamText: string): RelayError {
  const model = /'([A-Za-z0-9._:-]{1,100})'/.exec(upstreamText)?.[1];
  return new RelayError(
    400,
    "client_version_too_old",
    `This seller cannot serve ${
      model ? `the model "${model}"` : "this model"
    } yet: the backend requires a newer Codex client version than the seller's relay is configured with; try another model or another seller`,
    { details: model ? { model } : {} },
  );
}

/**
 * The named state a login is in when the backend said something only the
 * seller can fix: `needs_login` (its tokens are refused for good: a new
 * login is needed), `deactivated` (its account or workspace is deactivated),
 * `no_codex_access` (its plan has no Codex) or `blocked` (the backend
 * refused the account with another 403).
 */
export type AccountState =
  | "needs_login"
  | "deactivated"
  | "no_codex_access"
  | "blocked";

const ACCOUNT_STATES: Readonly<Record<string, AccountState>> = {
  upstream_auth_failed: "needs_login",
  upstream_workspace_deactivated: "deactivated",
  upstream_account_deactivated: "deactivated",
  usage_not_included: "no_codex_access",
  upstream_forbidden: "blocked",
};

/**
 * The account state a buyer-facing error code says a login is in, or
 * `undefined` when the code says nothing lasting about the account (a
 * Cloudflare challenge, `upstream_blocked`, is this machine's traffic being
 * refused, not the account).
 *
 * @param code a {@linkcode RelayError} code
 * @returns the login's state, if the code ends the login
 *
 * @example
 * ```ts
 * import { accountStateOf } from "./errors.ts";
 * console.log(accountStateOf("upstream_account_deactivated")); // "deactivated"
 * console.log(accountStateOf("upstream_blocked")); // undefined
 * ```
 */
export function accountStateOf(code: string): AccountState | undefined {
  return Object.hasOwn(ACCOUNT_STATES, code) ? ACCOUNT_STATES[code] : undefined;
}

/** Failures whose code names an account state but that say nothing lasting. */
const SAYS_NOTHING_LASTING = new WeakSet<RelayError>();

/**
 * The account state a failure puts its login in, or `undefined`: as
 * {@linkcode accountStateOf} of its code, except a 401 that outlived a
 * refresh without the backend saying `token_invalidated` or
 * `token_revoked`, which is answered `upstream_auth_failed` but leaves the
 * login in rotation.
 *
 * @param error the failure
 * @returns the login's state, if the failure ends the login
 *
 * @example
 * ```ts
 * import { RelayError } from "../errors.ts";
 * import { accountStateOfFailure } from "./errors.ts";
 * const error = new RelayError(503, "upstream_account_deactivated", "Deactivated");
 * console.log(accountStateOfFailure(error)); // "deactivated"
 * ```
 */
export function accountStateOfFailure(
  error: RelayError,
): AccountState | undefined {
  return SAYS_NOTHING_LASTING.has(error)
    ? undefined
    : accountStateOf(error.code);
}

/**
 * Whether `state` (a login's state, as `/health` shows it) is one of the
 * named account states only the seller ends.
 *
 * @param state a login state
 * @returns true for `needs_login`, `deactivated`, `no_codex_access`, `blocked`
 *
 * @example
 * ```ts
 * import { isAccountState } from "./errors.ts";
 * console.log(isAccountState("blocked"), isAccountState("usage_limited")); // true false
 * ```
 */
export function isAccountState(state: string): state is AccountState {
  return Object.values(ACCOUNT_STATES).includes(state as AccountState);
}

/** Longest upstream text passed on to a buyer, in characters. */
export const MAX_PASSED_TEXT = 500;

const SAFE_CODE = /^[A-Za-z0-9_.-]{1,64}$/;
const encoder = new TextEncoder();

/**
 * Classifies a non-2xx answer of the backend (see the module documentation
 * for the table of statuses).
 *
 * @param status the upstream HTTP status
 * @param headers the upstream response headers
 * @param bodyText the upstream body as text (may be empty, JSON or HTML)
 * @param options the current time
 * @returns the buyer's error and what the relay should do
 *
 * @example
 * ```ts
 * import { classifyUpstreamError } from "./errors.ts";
 *
 * const verdict = classifyUpstreamError(
 *   503,
 *   new Headers({ "retry-after": "2" }),
 *   '{"error":{"code":"server_is_overloaded"}}',
 * );
 * console.log(verdict.error.code, verdict.retryable, verdict.retryAfterMs); // "server_is_overloaded" true 2000
 * ```
 */
export function classifyUpstreamError(
  status: number,
  headers: Headers,
  bodyText: string,
  options: ClassifyOptions = {},
): UpstreamVerdict {
  const now = options.now ?? Date.now();
  const body = parseErrorBody(bodyText, headers);
  const retryAfterMs = parseRetryAfter(headers, now);
  if (isEdgeBlock(status, headers, body.html)) {
    // Not the account's fault: no refresh, no mark on the login.
    return {
      error: edgeBlocked(status),
      retryable: false,
      unauthorized: false,
    };
  }
  const unauthorized = status === 401;

  function verdict(error: RelayError, retryable = false): UpstreamVerdict {
    const result: UpstreamVerdict = { error, retryable, unauthorized };
    if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs;
    return result;
  }

  if (
    (status === 429 || status === 404) &&
    body.kinds.has("usage_limit_reached")
  ) {
    const resetsAt = usageLimitResetsAt(body, {
      now,
      fallbackMs: retryAfterMs ?? DEFAULT_USAGE_LIMIT_MS,
    });
    const error = usageLimitError(resetsAt, { now });
    return {
      error,
      retryable: false,
      retryAfterMs: Math.max(0, resetsAt - now),
      usageLimit: { resetsAt },
      unauthorized,
    };
  }
  if (body.kinds.has("usage_not_included")) {
    return verdict(failureError("usage_not_included", undefined));
  }
  const code = body.code !== undefined && SAFE_CODE.test(body.code)
    ? body.code
    : undefined;
  const label = code ? `${status} ${code}` : `${status}`;

  switch (status) {
    case 401: {
      const error = new RelayError(
        503,
        "upstream_auth_failed",
        `The upstream rejected the seller's Codex credentials (${label}); this seller cannot serve requests now`,
      );
      // Only the backend's word that the tokens are gone ends the login; a
      // bare 401 that outlived a refresh may pass (the login is paused).
      if (code !== "token_invalidated" && code !== "token_revoked") {
        SAYS_NOTHING_LASTING.add(error);
      }
      return verdict(error);
    }
    case 402:
      return verdict(
        code === "deactivated_workspace"
          ? new RelayError(
            503,
            "upstream_workspace_deactivated",
            "The seller's ChatGPT workspace is deactivated (402); this seller cannot serve requests",
          )
          : new RelayError(
            503,
            "upstream_payment_required",
            `The upstream asked the seller for payment (${label}); this seller cannot serve requests`,
          ),
      );
    case 403:
      if (body.kinds.has("account_deactivated")) {
        return verdict(
          new RelayError(
            503,
            "upstream_account_deactivated",
            "The seller's ChatGPT account is deactivated (403); this seller cannot serve requests",
          ),
        );
      }
      return verdict(
        new RelayError(
          503,
          "upstream_forbidden",
          `The upstream refused the seller's request (${label}); this seller cannot serve requests now`,
        ),
      );
    case 400:
    case 422: {
      const text = body.text ?? "no detail given";
      if (NEWER_CLIENT_REQUIRED.test(text)) {
        return verdict(clientVersionTooOld(text));
      }
      const refused = options.model !== undefined &&
        refusesModel(text, options.model);
      // `model_not_supported` makes the provider pass the login over for the
      // model: only the statement above says so, never a code alone.
      const passedCode = refused
        ? "model_not_supported"
        : code !== undefined && code !== "model_not_supported"
        ? code
        : "upstream_bad_request";
      return verdict(
        new RelayError(
          400,
          passedCode,
          `The upstream rejected the request: ${text}`,
        ),
      );
    }
    case 404:
      if (
        body.text !== undefined && /\bitem\b.*\bnot found\b/i.test(body.text)
      ) {
        return verdict(
          new RelayError(
            404,
            "item_not_found",
            `The upstream could not find an input item: ${body.text}`,
            { type: "invalid_request_error" },
          ),
        );
      }
      return verdict(
        new RelayError(
          502,
          "upstream_not_found",
          "The upstream answered 404 Not Found for the responses endpoint",
        ),
      );
    case 413:
      return verdict(
        new RelayError(
          413,
          "request_too_large",
          "The upstream rejected the request as too large (413)",
        ),
      );
    case 429:
      if (code === "insufficient_quota") {
        return verdict(failureError("insufficient_quota", body.text));
      }
      return verdict(
        new RelayError(
          429,
          "rate_limited",
          retryAfterMs === undefined
            ? "The upstream is rate limiting the seller (429); retry shortly"
            : `The upstream is rate limiting the seller (429); retry after ${
              Math.ceil(retryAfterMs / 1000)
            } s`,
          { headers: retryAfterHeader(retryAfterMs) },
        ),
        true,
      );
  }
  if (status >= 500 && status <= 599 && code === "server_is_overloaded") {
    return verdict(
      new RelayError(
        503,
        "server_is_overloaded",
        "The upstream is overloaded; retry shortly",
        { headers: retryAfterHeader(retryAfterMs) },
      ),
      RETRYABLE_5XX.has(status),
    );
  }
  switch (status) {
    case 500:
    case 502:
      return verdict(
        new RelayError(
          502,
          "upstream_error",
          `The upstream failed (${label}); retry shortly`,
        ),
        true,
      );
    case 503:
      return verdict(
        new RelayError(
          503,
          "upstream_unavailable",
          `The upstream is unavailable (${label}); retry shortly`,
          { headers: retryAfterHeader(retryAfterMs) },
        ),
        true,
      );
    case 504:
      return verdict(
        new RelayError(
          502,
          "upstream_timeout",
          "The upstream timed out (504); retry shortly",
        ),
        true,
      );
  }
  return verdict(
    new RelayError(
      502,
      "upstream_error",
      `Expected a successful answer from the upstream, found status ${label}`,
    ),
  );
}

const RETRYABLE_5XX: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/**
 * Reads how long to wait from `retry-after-ms` (milliseconds) or `retry-after`
 * (seconds, or an HTTP date). Negative waits become 0, and waits longer than
 * 7 days ({@linkcode MAX_RESET_MS}) 7 days.
 *
 * @param headers the upstream response headers
 * @param now the current time in ms since the epoch (default `Date.now()`)
 * @returns the wait in milliseconds, or undefined when absent or unreadable
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./errors.ts";
 *
 * console.log(parseRetryAfter(new Headers({ "retry-after": "3" }))); // 3000
 * ```
 */
export function parseRetryAfter(
  headers: Headers,
  now: number = Date.now(),
): number | undefined {
  const milliseconds = headers.get("retry-after-ms")?.trim();
  if (milliseconds && /^\d+(\.\d+)?$/.test(milliseconds)) {
    return Math.min(Math.round(Number(milliseconds)), MAX_RESET_MS);
  }
  const value = headers.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) {
    return Math.min(Math.round(Number(value) * 1000), MAX_RESET_MS);
  }
  const date = Date.parse(value);
  if (Number.isNaN(date) || !/[a-z]/i.test(value)) return undefined;
  return Math.min(Math.max(0, date - now), MAX_RESET_MS);
}

/**
 * The JSON body of a buyer-facing error: the bytes of `error.toJSON()`.
 *
 * @param error the error
 * @returns UTF-8 JSON bytes
 *
 * @example
 * ```ts
 * import { errorBody } from "./errors.ts";
 * import { RelayError } from "../errors.ts";
 *
 * const bytes = errorBody(new RelayError(400, "invalid_json", "Bad"));
 * console.log(new TextDecoder().decode(bytes)); // {"error":{"message":"Bad",...}}
 * ```
 */
export function errorBody(error: RelayError): Uint8Array {
  return encoder.encode(JSON.stringify(error.toJSON()));
}

/**
 * A complete `response.failed` SSE event for a stream that must end in error:
 * `event: response.failed\ndata: {...}\n\n` whose data is
 * `{type:"response.failed", sequence_number, response:{id?, object:"response",
 * status:"failed", error:{code, message}}}` (OpenAI clients read
 * `response.error`), with the buyer's echoed fields when given.
 *
 * @param error the error to report
 * @param options the event's sequence number, response id and echoed fields
 * @returns the UTF-8 bytes of the event
 *
 * @example
 * ```ts
 * import { sseErrorEvent } from "./errors.ts";
 * import { RelayError } from "../errors.ts";
 *
 * const bytes = sseErrorEvent(
 *   new RelayError(502, "upstream_stream_incomplete", "Closed early"),
 *   { sequenceNumber: 7 },
 * );
 * console.log(new TextDecoder().decode(bytes).startsWith("event: response.failed\n")); // true
 * ```
 */
export function sseErrorEvent(
  error: RelayError,
  options: SseErrorEventOptions = {},
): Uint8Array {
  const response: Record<string, unknown> = {};
  if (options.responseId !== undefined) response.id = options.responseId;
  response.object = "response";
  response.status = "failed";
  response.error = { code: error.code, message: error.message };
  if (options.echo) echoResponse(response, options.echo);
  const data = JSON.stringify({
    type: "response.failed",
    sequence_number: options.sequenceNumber ?? 0,
    response,
  });
  return encoder.encode(`event: response.failed\ndata: ${data}\n\n`);
}

/**
 * The buyer-facing error of a failure the backend reports INSIDE a stream (a
 * `response.failed` event's `response.error`, or an `error` event), by code:
 * 400 for `context_length_exceeded` and `invalid_prompt`; 503 for
 * `usage_not_included`; 429 for `insufficient_quota`, `usage_limit_reached`
 * and `rate_limit_exceeded`; 503 for `server_is_overloaded` and `slow_down`;
 * else 502. The code is the upstream code when there is one, else
 * `upstream_failed`. The message is the upstream message, scrubbed and
 * truncated, or a default.
 *
 * @param code the upstream error code, if any
 * @param message the upstream error message, if any
 * @returns the buyer-facing error
 *
 * @example
 * ```ts
 * import { failureError } from "./errors.ts";
 *
 * const error = failureError("context_length_exceeded", "Too long");
 * console.log(error.status, error.code); // 400 "context_length_exceeded"
 * ```
 */
export function failureError(
  code: string | undefined,
  message: string | undefined,
): RelayError {
  const safeCode = code !== undefined && SAFE_CODE.test(code)
    ? code
    : undefined;
  const text = message !== undefined && message.trim() !== ""
    ? passText(message.trim())
    : undefined;
  if (text !== undefined && NEWER_CLIENT_REQUIRED.test(text)) {
    return clientVersionTooOld(text);
  }
  switch (safeCode) {
    case "context_length_exceeded":
    case "invalid_prompt":
      return new RelayError(
        400,
        safeCode,
        text ?? `The upstream rejected the request (${safeCode})`,
      );
    case "usage_not_included":
      return new RelayError(
        503,
        safeCode,
        "The seller's ChatGPT plan does not include Codex; this seller cannot serve requests",
      );
    case "insufficient_quota":
    case "usage_limit_reached":
    case "rate_limit_exceeded":
      return new RelayError(
        429,
        safeCode,
        text ?? `The upstream limited the seller's usage (${safeCode})`,
      );
    case "server_is_overloaded":
    case "slow_down":
      return new RelayError(
        503,
        safeCode,
        text ?? "The upstream is overloaded; retry shortly",
      );
  }
  return new RelayError(
    502,
    safeCode ?? "upstream_failed",
    text ?? "The upstream response failed",
  );
}

/**
 * The buyer-facing error of a reached usage limit: 429 `usage_limit_reached`,
 * the reset time in the message (ISO 8601), a `retry-after` header (seconds
 * until the reset, at least 1) and `resets_at` (unix seconds) in the body.
 *
 * @param resetsAt when the limit ends, ms since the epoch
 * @param options the current time
 * @returns the error
 *
 * @example
 * ```ts
 * import { usageLimitError } from "./errors.ts";
 *
 * const error = usageLimitError(Date.UTC(2026, 0, 1), { now: Date.UTC(2025, 11, 31, 23) });
 * console.log(error.headers["retry-after"]); // "3600"
 * ```
 */
export function usageLimitError(
  resetsAt: number,
  options: UsageLimitErrorOptions = {},
): RelayError {
  const now = options.now ?? Date.now();
  const seconds = Math.max(1, Math.ceil((resetsAt - now) / 1000));
  // A time outside the range of `Date` makes `toISOString()` throw.
  const date = new Date(resetsAt);
  const iso = Number.isNaN(date.getTime())
    ? "an unknown time"
    : date.toISOString();
  return new RelayError(
    429,
    "usage_limit_reached",
    `The seller's Codex usage limit has been reached; it resets at ${iso}`,
    {
      headers: { "retry-after": String(seconds) },
      details: { resets_at: Math.floor(resetsAt / 1000) },
    },
  );
}

/** The reset fields of a usage-limit body, as the backend sends them. */
export interface UsageLimitResets {
  /** `resets_at`: unix seconds. */
  resetsAt?: number;
  /** `resets_in_seconds`: seconds from now. */
  resetsInSeconds?: number;
}

/** Options of {@linkcode usageLimitResetsAt}. */
export interface UsageLimitResetsOptions {
  /** The current time in ms since the epoch (default `Date.now()`). */
  now?: number;
  /** Wait assumed without either field, in ms (default {@linkcode DEFAULT_USAGE_LIMIT_MS}). */
  fallbackMs?: number;
}

/**
 * When a usage limit ends, in ms since the epoch: `resets_at` when given,
 * else `resets_in_seconds` from now, else `fallbackMs` from now, brought
 * within 7 days from now (`clampResetTime`: a time beyond the range of
 * `Date` must not break the answer; `NaN` reads as
 * {@linkcode DEFAULT_USAGE_LIMIT_MS} from now). The same rule serves the 429
 * answer and a limit reported inside a 200 stream.
 *
 * @param resets the body's `resets_at` and `resets_in_seconds`, when numbers
 * @param options the current time and the fallback wait
 * @returns the reset time, ms since the epoch
 *
 * @example
 * ```ts
 * import { usageLimitResetsAt } from "./errors.ts";
 *
 * console.log(usageLimitResetsAt({ resetsInSeconds: 60 }, { now: 1_000 })); // 61000
 * ```
 */
export function usageLimitResetsAt(
  resets: UsageLimitResets,
  options: UsageLimitResetsOptions = {},
): number {
  const now = options.now ?? Date.now();
  const read = resets.resetsAt !== undefined
    ? resets.resetsAt * 1000
    : resets.resetsInSeconds !== undefined
    ? now + resets.resetsInSeconds * 1000
    : now + (options.fallbackMs ?? DEFAULT_USAGE_LIMIT_MS);
  return clampResetTime(read, now) ?? now + DEFAULT_USAGE_LIMIT_MS;
}

/**
 * Replaces what looks like a credential in upstream text: `Bearer <token>`,
 * JWT-like strings (`eyJ...`) and API keys (`sk-...`).
 *
 * @param text upstream text
 * @returns the text with credentials replaced by `[redacted]`
 *
 * @example
 * ```ts
 * import { scrubSecrets } from "./errors.ts";
 *
 * console.log(scrubSecrets("bad header Bearer abc.def")); // "bad header Bearer [redacted]"
 * ```
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/\b(Bearer)\s+[^\s"',;]+/gi, "$1 [redacted]")
    .replace(/eyJ[A-Za-z0-9_\-.+/=]{6,}/g, "[redacted]")
    .replace(/\bsk-[A-Za-z0-9_-]{8,}/g, "[redacted]");
}

function retryAfterHeader(ms: number | undefined): Record<string, string> {
  return ms === undefined
    ? {}
    : { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))) };
}

function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

interface ErrorBodyFacts {
  /** `error.type` and `error.code` values (and a string `error`). */
  kinds: Set<string>;
  /** The most specific code. */
  code?: string;
  /** Text safe to pass on: scrubbed, truncated, never HTML. */
  text?: string;
  resetsAt?: number;
  resetsInSeconds?: number;
  html: boolean;
}

function parseErrorBody(bodyText: string, headers: Headers): ErrorBodyFacts {
  const trimmed = bodyText.trim();
  const html = /^</.test(trimmed) ||
    /html/i.test(headers.get("content-type") ?? "");
  const facts: ErrorBodyFacts = { kinds: new Set(), html };
  let body: unknown;
  try {
    body = JSON.parse(trimmed);
  } catch {
    if (!html && trimmed !== "") facts.text = passText(trimmed);
    return facts;
  }
  if (!isRecord(body)) return facts;
  let message: string | undefined;
  const error = body.error;
  if (isRecord(error)) {
    if (typeof error.type === "string") facts.kinds.add(error.type);
    if (typeof error.code === "string") {
      facts.kinds.add(error.code);
      facts.code = error.code;
    }
    if (typeof error.message === "string") message = error.message;
    facts.resetsAt = finite(error.resets_at);
    facts.resetsInSeconds = finite(error.resets_in_seconds);
  } else if (typeof error === "string") {
    facts.kinds.add(error);
    facts.code = error;
  }
  const detail = body.detail;
  if (typeof detail === "string") {
    message ??= detail;
  } else if (isRecord(detail)) {
    if (typeof detail.code === "string") {
      facts.kinds.add(detail.code);
      facts.code ??= detail.code;
    }
    message ??= typeof detail.message === "string"
      ? detail.message
      : JSON.stringify(detail);
  } else if (Array.isArray(detail)) {
    message ??= describeValidationErrors(detail);
  }
  if (typeof body.code === "string") {
    facts.kinds.add(body.code);
    facts.code ??= body.code;
  }
  if (typeof body.message === "string") message ??= body.message;
  facts.resetsAt ??= finite(body.resets_at);
  facts.resetsInSeconds ??= finite(body.resets_in_seconds);
  if (message !== undefined && message.trim() !== "") {
    facts.text = passText(message.trim());
  }
  return facts;
}

/** FastAPI validation errors: `[{loc: ["body","input"], msg: "...", type}]`. */
function describeValidationErrors(items: unknown[]): string {
  return items.map((item) => {
    if (isRecord(item) && typeof item.msg === "string") {
      const where = Array.isArray(item.loc) ? item.loc.join(".") : "";
      return where ? `${where}: ${item.msg}` : item.msg;
    }
    return JSON.stringify(item);
  }).join("; ");
}

function passText(text: string): string {
  return truncateText(scrubSecrets(text), MAX_PASSED_TEXT);
}

function finite(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value)
    ? value
    : undefined;
}
