/**
 * Error classes. Every error a seller or a buyer can see carries a stable
 * `code`, so callers branch on codes, never on message text. Messages never
 * contain a token, a refresh token or a secret.
 *
 * @module
 */

/** Base class of every error this module throws. */
export class OpenAIResponsesError extends Error {
  /** Stable, machine-readable error code. */
  readonly code: string;

  /**
   * Creates the error.
   *
   * @param code stable error code
   * @param message human-readable message (sentence case, no trailing period)
   * @param options standard error options (`cause`)
   */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OpenAIResponsesError";
    this.code = code;
  }
}

/** A configuration value is missing, malformed or out of range. Code: `invalid_config`. */
export class ConfigError extends OpenAIResponsesError {
  /** The configuration key at fault. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key the configuration key at fault
   * @param message what was expected and what was found
   */
  constructor(key: string, message: string) {
    super("invalid_config", message);
    this.name = "ConfigError";
    this.key = key;
  }
}

/** Stable codes of {@linkcode CredentialsError}. */
export type CredentialsErrorCode =
  | "auth_file_missing"
  | "auth_file_unreadable"
  | "auth_file_invalid"
  | "auth_api_key_only"
  | "auth_token_missing"
  | "auth_account_id_missing"
  | "auth_file_unwritable"
  | "auth_lock_unavailable";

/**
 * The Codex credentials file cannot be used as it is. The message says how to
 * fix it (usually `codex login`).
 */
export class CredentialsError extends OpenAIResponsesError {
  /**
   * Creates the error.
   *
   * @param code which problem was found
   * @param message what was found and how to fix it
   * @param options standard error options (`cause`)
   */
  constructor(
    code: CredentialsErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.name = "CredentialsError";
  }
}

/**
 * The refresh token can no longer be used (expired, revoked or already
 * spent); only a new `codex login` helps. Code: `login_required`.
 */
export class LoginRequiredError extends OpenAIResponsesError {
  /** What the token endpoint said, e.g. `refresh_token_reused`, `invalid_grant`, `http_401`. */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param reason the token endpoint's error code
   * @param message what happened and how to fix it
   */
  constructor(reason: string, message: string) {
    super("login_required", message);
    this.name = "LoginRequiredError";
    this.reason = reason;
  }
}

/**
 * A token refresh failed for a reason that may pass (network error, timeout,
 * 5xx). Code: `token_refresh_failed`.
 */
export class TokenRefreshError extends OpenAIResponsesError {
  /**
   * Creates the error.
   *
   * @param message what happened
   * @param options standard error options (`cause`)
   */
  constructor(message: string, options?: ErrorOptions) {
    super("token_refresh_failed", message, options);
    this.name = "TokenRefreshError";
  }
}

/** Options of {@linkcode RelayError}. */
export interface RelayErrorOptions extends ErrorOptions {
  /** OpenAI error `type` (default from the status: `invalid_request_error`, `rate_limit_error` or `server_error`). */
  type?: string;
  /** Extra response headers for the buyer, e.g. `retry-after`. */
  headers?: Record<string, string>;
  /** Extra fields of the OpenAI error object, e.g. `resets_at` of a usage limit. */
  details?: Record<string, unknown>;
}

/**
 * An error answered to a buyer as an OpenAI-shaped JSON body
 * `{"error":{"message","type","code"}}` with an HTTP status.
 */
export class RelayError extends OpenAIResponsesError {
  /** HTTP status for the buyer. */
  readonly status: number;
  /** OpenAI error `type`. */
  readonly type: string;
  /** Extra response headers for the buyer. */
  readonly headers: Record<string, string>;
  /** Extra fields of the OpenAI error object. */
  readonly details: Record<string, unknown>;

  /**
   * Creates the error.
   *
   * @param status HTTP status for the buyer
   * @param code stable error code, e.g. `invalid_json`
   * @param message message for the buyer; never a secret
   * @param options type, headers and extra fields
   */
  constructor(
    status: number,
    code: string,
    message: string,
    options: RelayErrorOptions = {},
  ) {
    super(code, message, options);
    this.name = "RelayError";
    this.status = status;
    this.type = options.type ??
      (status === 429
        ? "rate_limit_error"
        : status >= 500
        ? "server_error"
        : "invalid_request_error");
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }

  /** The OpenAI-shaped body object: `{ error: { message, type, code, ... } }`. */
  toJSON(): { error: Record<string, unknown> } {
    return {
      error: {
        message: this.message,
        type: this.type,
        code: this.code,
        ...this.details,
      },
    };
  }
}

/**
 * The `code` of a system error (`ENOENT`, `EBUSY`, ...), as `node:fs`,
 * `node:net` and `node:http` set it, or `undefined`.
 *
 * @example
 * ```ts
 * import { systemErrorCode } from "./errors.ts";
 * console.log(systemErrorCode(Object.assign(new Error("x"), { code: "ENOENT" }))); // "ENOENT"
 * ```
 */
export function systemErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Stable codes of {@linkcode LoginError}. */
export type LoginErrorCode =
  | "login_issuer_invalid"
  | "login_port_unavailable"
  | "login_state_mismatch"
  | "login_denied"
  | "login_code_missing"
  | "login_exchange_failed"
  | "login_timeout"
  | "login_cancelled"
  | "device_login_unavailable"
  | "device_login_failed"
  | "device_code_expired";

/** Options of {@linkcode LoginError}. */
export interface LoginErrorOptions extends ErrorOptions {
  /** What the issuer said, when it said something, e.g. `missing_codex_entitlement` or `invalid_grant`. */
  reason?: string;
  /** HTTP status of the issuer's answer, when there was one. */
  status?: number;
}

/**
 * A login with the provider's own OAuth flows (browser or device code)
 * failed. The message never holds a token, an authorization code, a PKCE
 * verifier or an email.
 */
export class LoginError extends OpenAIResponsesError {
  /** What the issuer said, when it said something, e.g. `missing_codex_entitlement`. */
  readonly reason?: string;
  /** HTTP status of the issuer's answer, when there was one. */
  readonly status?: number;

  /**
   * Creates the error.
   *
   * @param code which step failed
   * @param message what was expected, what was found, what to do
   * @param options the issuer's reason and status, `cause`
   */
  constructor(
    code: LoginErrorCode,
    message: string,
    options: LoginErrorOptions = {},
  ) {
    super(code, message, options);
    this.name = "LoginError";
    if (options.reason !== undefined) this.reason = options.reason;
    if (options.status !== undefined) this.status = options.status;
  }
}

/** Stable codes of {@linkcode AccountError}. */
export type AccountErrorCode =
  | "invalid_account_name"
  | "account_exists"
  | "account_duplicate"
  | "account_id_missing"
  | "account_not_found"
  | "accounts_unreadable"
  | "account_unwritable";

/**
 * An account of the provider's own login store (`<home>/accounts/<name>/`)
 * cannot be created, read or removed as asked.
 */
export class AccountError extends OpenAIResponsesError {
  /**
   * The account that already holds the same ChatGPT account id (code
   * `account_duplicate` only).
   */
  readonly existing?: string;

  /**
   * Creates the error.
   *
   * @param code which problem was found
   * @param message what was expected, what was found, what to do
   * @param options `existing` (the other account's name), `cause`
   */
  constructor(
    code: AccountErrorCode,
    message: string,
    options: ErrorOptions & { existing?: string } = {},
  ) {
    super(code, message, options);
    this.name = "AccountError";
    if (options.existing !== undefined) this.existing = options.existing;
  }
}
