/**
 * Public types of the simulated Codex backend, re-exported by
 * `fake_backend.ts`. Private to this folder: import them from
 * `fake_backend.ts` (or the package's `./testing` export).
 *
 * @module
 */

/** Options of `startFakeCodexBackend`. */
export interface FakeCodexBackendOptions {
  /**
   * Models the simulated account may use; a request for any other model gets
   * the backend's 400 `The '<model>' model is not supported when using Codex
   * with a ChatGPT account.` Default
   * `["gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex"]` and the gated
   * `gpt-5.6-sol`, `gpt-5.6-terra`, `gpt-5.6-luna`.
   */
  models?: string[];
  /**
   * `minimal_client_version` per model slug. Such a model is listed by
   * `GET /codex/models` only for a `client_version` of at least that
   * version, and `POST /codex/responses` refuses it with the backend's 400
   * `The '<slug>' model requires a newer version of Codex. ...` when the
   * request's `version` header is older or missing. Default
   * `{"gpt-5.6-sol": "0.144.0", "gpt-5.6-terra": "0.144.0",
   * "gpt-5.6-luna": "0.144.0"}`; the other models are not gated.
   */
  minimalClientVersions?: Record<string, string>;
  /**
   * Models the catalog marks `use_responses_lite: true` (with `tool_mode:
   * "code_mode_only"` and `prefer_websockets: true`; the others
   * `use_responses_lite: false`), for every account without a list of its
   * own (`setAccountResponsesLite`). Such a model accepts `instructions: ""`
   * (the Codex CLI sends its instructions in a developer message); a
   * request in either shape is served, and whether it came in the lite
   * shape is recorded (`RecordedRequest.responsesLite`): the spec says only
   * that classic tools "are not guaranteed to be honored". Default
   * `["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna"]`.
   */
  responsesLiteModels?: string[];
  /**
   * Decides whether a bearer token is accepted; `accountId` is the
   * `chatgpt-account-id` header (or `null` when it is missing). A refusal is
   * answered 401 `{"detail":"Unauthorized"}`.
   *
   * Default: the token is a JWT whose `exp` lies in the future and whose
   * `https://api.openai.com/auth` claim has a `chatgpt_account_id` equal to
   * the header.
   *
   * Whatever this function says, a token that decodes as a JWT with an `exp`
   * in the past is answered 401 `token_expired` first, as the real backend
   * does.
   */
  acceptToken?: (token: string, accountId: string | null) => boolean;
  /**
   * Send the `x-codex-*` rate-limit headers on every 200 and 429, and the
   * noise headers a relay must not forward (`set-cookie`, `cf-ray`,
   * `openai-processing-ms`) on every answer. Default `true`; `false` sends
   * none of them.
   */
  rateLimitHeaders?: boolean;
  /**
   * Omit the `content-type` header of 200 SSE answers, as the real backend
   * sometimes does. Default `false` (`text/event-stream; charset=utf-8`).
   */
  omitContentType?: boolean;
  /**
   * Number of `response.output_text.delta` events of a text answer (fewer
   * when the text has fewer characters). Default `8`.
   */
  deltaChunks?: number;
  /**
   * What `GET <base>/wham/usage` answers for every account without an
   * answer of its own (see `setAccountUsage`). Default: the numbers of the
   * `x-codex-*` headers (primary 7% of 5 h, secondary 31% of 7 days, the
   * primary used up while the account is usage-limited), the token's plan,
   * no credits.
   */
  accountUsage?: FakeAccountUsage | FakeUsageFailure;
  /**
   * Clock in milliseconds since the epoch, used for token expiry,
   * `created_at`, rate-limit reset times and usage-limit resets. Default
   * `Date.now`. Tests move it forward to make a usage limit pass.
   */
  now?: () => number;
}

/** One window of the usage endpoint's answer. */
export interface FakeUsageWindow {
  /** `used_percent`, 0 to 100. */
  usedPercent: number;
  /** `limit_window_seconds`, e.g. 18000 (5 h) or 604800 (7 days). */
  windowSeconds: number;
  /** Seconds until the reset; `reset_at` is now plus these. */
  resetAfterSeconds: number;
}

/** The `credits` object of the usage endpoint's answer. */
export interface FakeUsageCredits {
  /** `has_credits`. */
  hasCredits: boolean;
  /** `unlimited`. */
  unlimited: boolean;
  /** `balance`, a decimal string, or `null`. */
  balance: string | null;
  /** `approx_local_messages` (default 0). */
  approxLocalMessages?: number;
  /** `approx_cloud_messages` (default 0). */
  approxCloudMessages?: number;
}

/**
 * What the usage endpoint (`GET <base>/wham/usage`) answers for an account:
 * `{"plan_type", "rate_limit": {"allowed", "limit_reached",
 * "primary_window", "secondary_window"}, "credits",
 * "additional_rate_limits": []}`. Fields left out take the defaults of
 * `FakeCodexBackendOptions.accountUsage`.
 */
export interface FakeAccountUsage {
  /** `plan_type` (default: the token's plan claim, else `plus`). */
  plan?: string;
  /** `primary_window`; `null` answers `null`. */
  primary?: FakeUsageWindow | null;
  /** `secondary_window`; `null` answers `null`. */
  secondary?: FakeUsageWindow | null;
  /** `limit_reached` (`allowed` is its opposite); default: whether the account is usage-limited. */
  limitReached?: boolean;
  /** `credits`; `null` answers `null`. Default: none (`has_credits: false`, balance `"0"`). */
  credits?: FakeUsageCredits | null;
}

/** One banked rate-limit reset of a simulated account. */
export interface FakeResetCredit {
  /** `id` (the `credit_id` to spend it). */
  id: string;
  /** When it expires, milliseconds since the epoch (default: 30 days from the first read). */
  expiresAt?: number;
  /** `reset_type` (default `"rate_limit"`). */
  resetType?: string;
}

/**
 * An answer of the consume endpoint given instead of the outcome: a failure
 * (503, 429), or any scripted answer (200 `{"code":"already_redeemed"}`).
 * With `afterRedeeming`, the redemption is done first and its answer lost
 * on the way (a retry with the same `redeem_request_id` then gets that
 * outcome).
 */
export interface FakeResetFailure {
  /** HTTP status, e.g. 503, or 429 (default body `{"detail":{"code":"connector_rate_limit"}}`). */
  status: number;
  /** Body: a string as is, an object as JSON. */
  body?: string | object;
  /** Redeem first, then fail the answer. Default `false`. */
  afterRedeeming?: boolean;
}

/**
 * The banked resets of a simulated account, served by `GET
 * <base>/wham/rate-limit-reset-credits` and spent by `POST
 * .../consume`: a spend of an available credit while the account is
 * usage-limited (`limitAccount`, or `limitReached` of `setAccountUsage`)
 * answers `reset` and lifts the limit; without a limit `nothing_to_reset`
 * (nothing spent); without an available credit `no_credit`; a `credit_id`
 * spent before `already_redeemed`; a `redeem_request_id` seen before gets
 * its first answer again, and spends nothing more.
 */
export interface FakeResetCredits {
  /** The available credits. */
  credits: FakeResetCredit[];
  /** Answer 403 `{"detail":{"code":"rate_limit_reset_ineligible"}}` to a spend. */
  ineligible?: boolean;
  /** Answers given, in order, to the next spends instead of their outcome. */
  failures?: FakeResetFailure[];
}

/** One spend the simulated backend received, valid or not. */
export interface FakeResetRedemption {
  /** The `chatgpt-account-id` of the call. */
  account: string;
  /** Its `redeem_request_id`. */
  redeemRequestId: unknown;
  /** Its `credit_id`, if any. */
  creditId: unknown;
  /** The status answered. */
  status: number;
  /** The outcome code answered, if any. */
  code?: string;
}

/** A failing usage endpoint: that status with that body. */
export interface FakeUsageFailure {
  /** HTTP status, e.g. 503 or 404. */
  status: number;
  /** Body: a string as is, an object as JSON (default `{"detail": "<reason phrase>"}`). */
  body?: string | object;
}

/** One request the simulated backend received, valid or not. */
export interface RecordedRequest {
  /** HTTP method, upper case. */
  method: string;
  /** URL path without the query string, e.g. `/backend-api/codex/responses`. */
  path: string;
  /** Path with the query string, e.g. `/backend-api/codex/models?client_version=1.0.0`. */
  url: string;
  /** Request headers, names in lower case; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /**
   * The body parsed as JSON, the raw text when it is not JSON, `undefined`
   * when empty; decoded first when it has a `content-encoding` (`zstd`,
   * `gzip`) that decodes.
   */
  body: unknown;
  /**
   * The body as text, decoded like `body`: what a scan for bytes that must
   * never reach the backend reads (a buyer's installation id, folder).
   */
  text: string;
  /** Arrival time, milliseconds since the epoch (from the backend's clock). */
  at: number;
  /**
   * For `POST /codex/responses`: whether it came in the responses-lite
   * shape (the header `x-openai-internal-codex-responses-lite: true`, an
   * `additional_tools` first input item, `instructions: ""`, no top-level
   * `tools`, `parallel_tool_calls: false`).
   */
  responsesLite?: boolean;
}

/**
 * Usage numbers to put in `response.completed.response.usage` instead of the
 * computed ones (wire field names). `total_tokens` defaults to input plus
 * output. A detail set to `null` is sent as `null`, as the real backend may.
 */
export interface FakeUsageOverride {
  /** Input tokens. */
  input_tokens?: number;
  /** Output tokens, reasoning included. */
  output_tokens?: number;
  /** Total tokens. */
  total_tokens?: number;
  /** Cached input tokens, or `null`. */
  input_tokens_details?: { cached_tokens: number } | null;
  /** Reasoning tokens, or `null`. */
  output_tokens_details?: { reasoning_tokens: number } | null;
}

/**
 * A text answer. Without `text`, the default text derived from the request
 * (`Echo: <last user text>`, or the tool output after a
 * `function_call_output`). A request whose last input item is a
 * `compaction_trigger` gets the compaction answer instead (with `usage`).
 */
export interface FakeTextBehaviour {
  /** Selects this behaviour. */
  kind: "text";
  /** The answer text, split into `deltaChunks` deltas. */
  text?: string;
  /** Usage to report instead of the computed one. */
  usage?: FakeUsageOverride;
  /** Send `response.completed` with `output: []` (the real backend sometimes does). */
  emptyCompletedOutput?: boolean;
  /** Stop after this many events until `release()` (or `pauseMs`). */
  pauseAfterEvents?: number;
  /** With `pauseAfterEvents`: resume by itself after this many milliseconds. */
  pauseMs?: number;
  /** Wait this many milliseconds before each event after the first. */
  eventDelayMs?: number;
  /**
   * Send a reasoning item before the message. Default: when the request has a
   * `reasoning` object.
   */
  reasoning?: boolean;
  /**
   * Send a `codex.rate_limits` event right after `response.created`, with
   * the numbers of the `x-codex-*` headers. Default `false`.
   */
  rateLimitsEvent?: boolean;
}

/**
 * A function call answer (`output[].type === "function_call"`); the
 * compaction answer to a request whose last input item is a
 * `compaction_trigger`.
 */
export interface FakeFunctionCallBehaviour {
  /** Selects this behaviour. */
  kind: "function_call";
  /** Function name. */
  name: string;
  /** Arguments, a JSON text. */
  arguments: string;
  /** Call id (default `call_fake_<n>`). */
  callId?: string;
  /** Usage to report instead of the computed one. */
  usage?: FakeUsageOverride;
}

/** An HTTP error (or any status) with a body and headers of your choice. */
export interface FakeStatusBehaviour {
  /** Selects this behaviour. */
  kind: "status";
  /** HTTP status, e.g. 503, 429, 401, 500. */
  status: number;
  /**
   * Body: a string is sent as is (`text/html` when it starts with `<`, else
   * `text/plain`), an object as JSON. Default: `{"detail":"Unauthorized"}`
   * for 401, `{"error":{"code":"server_is_overloaded"}}` for 503, else
   * `{"detail":"<reason phrase>"}`.
   */
  body?: string | object;
  /** Extra headers, e.g. `{"retry-after": "2"}`; they override the defaults. */
  headers?: Record<string, string>;
}

/**
 * The usage limit: answered with the backend's `usage_limit_reached` body,
 * and then to every valid request of the same account (`chatgpt-account-id`)
 * until the reset time passes.
 */
export interface FakeUsageLimitBehaviour {
  /** Selects this behaviour. */
  kind: "usage_limit";
  /** HTTP status (default 429; the real backend sometimes uses 404). */
  status?: 429 | 404;
  /** Seconds until the limit resets (default 3600). */
  resetsInSeconds?: number;
  /** `plan_type` of the body (default: the token's plan claim, else `plus`). */
  planType?: string;
}

/**
 * The usage limit reported inside a 200 stream, after `response.created` and
 * `response.in_progress`, as the real backend also does:
 *
 * - `as: "error"`: an `error` event
 *   `{"type":"error","error":{"type":"usage_limit_reached","message","plan_type","resets_at","eligible_promo":null,"resets_in_seconds"},"status_code":429,"headers":{"X-Codex-Plan-Type",…}}`
 *   (the `error` object of the 429 body, and the account's `x-codex-*`
 *   headers in title case, as public reports of the real event show);
 * - `as: "failed"`: `response.failed` whose `response.error` is
 *   `{"code":"usage_limit_reached","message"}`, plus `resets_at` and
 *   `resets_in_seconds` only when `resetsInSeconds` is given (whether the real
 *   backend puts them there is unconfirmed).
 *
 * Either way the account is then limited as after `usage_limit` (429 with
 * the usage-limit body to every valid request of the account until the reset).
 */
export interface FakeUsageLimitInStreamBehaviour {
  /** Selects this behaviour. */
  kind: "usage_limit_in_stream";
  /** Which event carries the limit. */
  as: "error" | "failed";
  /** Seconds until the limit resets (default 3600). */
  resetsInSeconds?: number;
  /** `plan_type` of the error event (default: the token's plan claim, else `plus`). */
  planType?: string;
}

/** The plan has no Codex access: 403 with error type `usage_not_included`. */
export interface FakeUsageNotIncludedBehaviour {
  /** Selects this behaviour. */
  kind: "usage_not_included";
}

/**
 * An account error of the backend, answered to every request of the account
 * once set with `endAccount`:
 *
 * - `token_invalidated`: 401 `{"error":{"message":"Your authentication token has been invalidated. Please try signing in again.","type":"invalid_request_error","code":"token_invalidated","param":null}}`;
 * - `token_revoked`: 401, the same shape with `code: "token_revoked"`;
 * - `deactivated_workspace`: 402 `{"detail":{"code":"deactivated_workspace"}}`;
 * - `account_deactivated`: 403, the `error` shape with `code: "account_deactivated"`;
 * - `phone_verification_required`: 403, the same with that code (another 403 account problem);
 * - `usage_not_included`: 429 with the usage-limit body's shape and `type: "usage_not_included"`;
 * - `cloudflare`: 403 HTML challenge page with `cf-mitigated: challenge` (not the account: the edge).
 */
export type FakeAccountError =
  | "token_invalidated"
  | "token_revoked"
  | "deactivated_workspace"
  | "account_deactivated"
  | "phone_verification_required"
  | "usage_not_included"
  | "cloudflare";

/** A `response.failed` event inside a 200 stream. */
export interface FakeFailedBehaviour {
  /** Selects this behaviour. */
  kind: "failed";
  /** `response.error.code`, e.g. `context_length_exceeded`, `server_is_overloaded`. */
  code: string;
  /** `response.error.message` (default: a message for the code). */
  message?: string;
  /** Events of the text answer sent before the failure (default 2: created, in_progress). */
  afterEvents?: number;
}

/** A full text answer ending with `response.incomplete`. */
export interface FakeIncompleteBehaviour {
  /** Selects this behaviour. */
  kind: "incomplete";
  /** `incomplete_details.reason` (default `max_output_tokens`). */
  reason?: string;
}

/** An `error` event after `response.created` and `response.in_progress`. */
export interface FakeErrorEventBehaviour {
  /** Selects this behaviour. */
  kind: "error_event";
  /** The event's `code`. */
  code: string;
  /** The event's `message` (default: a message for the code). */
  message?: string;
}

/** The stream ends cleanly after the text deltas, with no terminal event. */
export interface FakeNoTerminalBehaviour {
  /** Selects this behaviour. */
  kind: "no_terminal";
}

/** The stream ends cleanly in the middle of an SSE frame (after the first delta). */
export interface FakeTruncatedBehaviour {
  /** Selects this behaviour. */
  kind: "truncated";
}

/** The stream sends some events, then nothing until the client aborts or `close()`. */
export interface FakeStallBehaviour {
  /** Selects this behaviour. */
  kind: "stall";
  /** Events sent before the silence (default: through the first text delta). */
  afterEvents?: number;
}

/** The request is read but no status line or header is ever sent. */
export interface FakeHeadersNeverBehaviour {
  /** Selects this behaviour. */
  kind: "headers_never";
}

/** The socket is destroyed before any byte of the answer. */
export interface FakeResetBeforeHeadersBehaviour {
  /** Selects this behaviour. */
  kind: "reset_before_headers";
}

/** The socket is destroyed in the middle of a 200 stream. */
export interface FakeResetMidStreamBehaviour {
  /** Selects this behaviour. */
  kind: "reset_mid_stream";
  /** Events sent before the reset (default: through the first text delta). */
  afterEvents?: number;
}

/** A long text answer, for benchmarks. */
export interface FakeLargeBehaviour {
  /** Selects this behaviour. */
  kind: "large";
  /** Number of `response.output_text.delta` events, e.g. 5000. */
  deltas: number;
  /**
   * ASCII characters of text per delta (default 8, about two tokens). Each
   * delta frame carries about 200 bytes of SSE framing besides its text, as
   * the real backend's do: 5,000 deltas make about 1.2 MB of SSE.
   */
  deltaBytes?: number;
}

/**
 * One scripted answer, consumed by the next `POST /codex/responses` that
 * passes authentication and body validation (and is not held by an active
 * usage limit).
 */
export type FakeBehaviour =
  | FakeTextBehaviour
  | FakeFunctionCallBehaviour
  | FakeStatusBehaviour
  | FakeUsageLimitBehaviour
  | FakeUsageLimitInStreamBehaviour
  | FakeUsageNotIncludedBehaviour
  | FakeFailedBehaviour
  | FakeIncompleteBehaviour
  | FakeErrorEventBehaviour
  | FakeNoTerminalBehaviour
  | FakeTruncatedBehaviour
  | FakeStallBehaviour
  | FakeHeadersNeverBehaviour
  | FakeResetBeforeHeadersBehaviour
  | FakeResetMidStreamBehaviour
  | FakeLargeBehaviour;

/** A running simulated Codex backend. */
export interface FakeCodexBackend {
  /** Base URL, e.g. `http://127.0.0.1:PORT/backend-api`; use it as `OPENAI_RESPONSES_BASE_URL`. */
  readonly baseUrl: string;
  /** `baseUrl + "/codex/responses"`. */
  readonly responsesUrl: string;
  /** Every request received, rejected ones included, in arrival order. */
  readonly requests: RecordedRequest[];
  /** `POST /codex/responses` exchanges open now (from arrival until the answer ends or the socket closes). */
  readonly inFlight: number;
  /** Highest `inFlight` seen since start (or since `reset()`). */
  readonly maxInFlight: number;
  /** Queues scripted answers, first in first out; with an empty queue the default behaviour answers. */
  enqueue(...behaviours: FakeBehaviour[]): void;
  /** Replaces the default behaviour: a fixed one, or a function of the request body. */
  setDefault(
    behaviour:
      | FakeBehaviour
      | ((body: Record<string, unknown>) => FakeBehaviour),
  ): void;
  /** Resumes every stream paused by `pauseAfterEvents`. */
  release(): void;
  /**
   * Puts an account at its usage limit from now on, for `resetsInSeconds`
   * (default 3600): every request of it is answered with the usage-limit
   * body (`status`, default 429) until then.
   */
  limitAccount(
    accountId: string,
    options?: { resetsInSeconds?: number; status?: 429 | 404 },
  ): void;
  /**
   * Ends an account as the backend does (spec: "Account errors that only a
   * new login or the seller can fix"): from now on every request of it
   * (`chatgpt-account-id`), to the responses and the usage endpoints, gets
   * the error of `code` (see {@linkcode FakeAccountError}) until
   * `restoreAccount`. `undefined` restores it.
   */
  endAccount(accountId: string, code: FakeAccountError | undefined): void;
  /**
   * Sets what the usage endpoint answers: for the account `accountId`
   * (`chatgpt-account-id`), or for every account without an answer of its
   * own when `accountId` is omitted. `undefined` goes back to the default.
   */
  setAccountUsage(
    usage: FakeAccountUsage | FakeUsageFailure | undefined,
    accountId?: string,
  ): void;
  /**
   * Sets the banked rate-limit resets of the account `accountId`
   * (`undefined`: none, `available_count` 0).
   */
  setAccountResetCredits(
    credits: FakeResetCredits | undefined,
    accountId: string,
  ): void;
  /**
   * Sets the models the catalog of the account `accountId` marks
   * responses-lite (`undefined`: the backend's `responsesLiteModels`).
   */
  setAccountResponsesLite(
    accountId: string,
    models: readonly string[] | undefined,
  ): void;
  /** Every spend of a reset received since the last `reset()`, in order. */
  readonly redemptions: readonly FakeResetRedemption[];
  /** Clears the queue, the recorded requests, the usage-limit state of every account, the answers of `setAccountUsage`, `setAccountResetCredits` and `setAccountResponsesLite`, the redemptions and `maxInFlight` (to the current `inFlight`). Keeps the default behaviour and `accountUsage`. */
  reset(): void;
  /** Ends every open exchange (stalled, paused, headers never sent), clears every timer and closes the server. */
  close(): Promise<void>;
}
