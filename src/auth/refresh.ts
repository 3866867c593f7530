/**
 * One call to the OAuth token endpoint that trades a refresh token for new
 * tokens, the way the Codex CLI does it, with its failures sorted into
 * permanent (`LoginRequiredError`: only `codex login` helps) and transient
 * (`TokenRefreshError`: try again later).
 *
 * Errors never quote the token endpoint's body or any token.
 *
 * @module
 */

import { LoginRequiredError, TokenRefreshError } from "../errors.ts";
import { isRecord } from "../json.ts";

/** OAuth client id of the Codex CLI. */
export const CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

/** Default bound of one refresh call, in milliseconds. */
export const DEFAULT_REFRESH_TIMEOUT_MS = 20_000;

/** Token-endpoint error codes that mean the refresh token is dead for good. */
export const PERMANENT_REFRESH_CODES: ReadonlySet<string> = new Set([
  "refresh_token_reused",
  "refresh_token_expired",
  "refresh_token_invalidated",
  "invalid_grant",
]);

/** Options of {@linkcode requestTokenRefresh}. */
export interface RefreshRequestOptions {
  /** OAuth client id (default: the Codex CLI's). */
  clientId?: string;
  /** Bound of the whole call, answer body included, in milliseconds (default 20000). */
  timeoutMs?: number;
  /** `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/** The tokens a successful refresh returned; an absent one keeps its old value. */
export interface RefreshedTokens {
  /** New access token. */
  accessToken?: string;
  /** New refresh token (the old one is spent). */
  refreshToken?: string;
  /** New id token. */
  idToken?: string;
}

function tokenField(
  body: Record<string, unknown>,
  name: string,
): string | undefined {
  const value = body[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Finds the error code in a token-endpoint error body: at `error.code`,
 * `error` (a string) or `code`.
 *
 * @example
 * ```ts
 * import { refreshErrorCode } from "./refresh.ts";
 * console.log(refreshErrorCode({ error: "invalid_grant" })); // "invalid_grant"
 * ```
 */
export function refreshErrorCode(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const error = body.error;
  if (isRecord(error) && typeof error.code === "string" && error.code !== "") {
    return error.code;
  }
  if (typeof error === "string" && error !== "") return error;
  if (typeof body.code === "string" && body.code !== "") return body.code;
  return undefined;
}

function loginRequiredMessage(reason: string, status: number): string {
  const what = reason === "refresh_token_reused"
    ? "the refresh token was already used (by another program sharing this Codex login) and no newer tokens were found"
    : reason === "refresh_token_expired"
    ? "the refresh token has expired"
    : reason === "refresh_token_missing"
    ? "the auth file holds no refresh token"
    : reason === "refresh_token_invalidated"
    ? "the refresh token was revoked (signed out elsewhere or password changed)"
    : `the token endpoint rejected the refresh token (${reason}, HTTP ${status})`;
  return `Codex login is no longer valid: ${what}. Run "codex login" on this machine to sign in again`;
}

/**
 * The permanent error for a dead refresh token.
 *
 * @example
 * ```ts
 * import { loginRequired } from "./refresh.ts";
 * const error = loginRequired("refresh_token_expired", 401);
 * console.log(error.code, error.reason); // "login_required" "refresh_token_expired"
 * ```
 */
export function loginRequired(
  reason: string,
  status: number,
): LoginRequiredError {
  return new LoginRequiredError(reason, loginRequiredMessage(reason, status));
}

function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * POSTs `{client_id, grant_type: "refresh_token", refresh_token}` as JSON to
 * the token endpoint and returns the tokens it answered.
 *
 * Throws `LoginRequiredError` for HTTP 401 or a known permanent code
 * (`refresh_token_reused`, `refresh_token_expired`,
 * `refresh_token_invalidated`, `invalid_grant`), `TokenRefreshError` for
 * anything else (other statuses, network errors, timeout, an unreadable
 * answer).
 *
 * @example
 * ```ts
 * import { requestTokenRefresh } from "./refresh.ts";
 *
 * const tokens = await requestTokenRefresh("https://auth.openai.com/oauth/token", "rt_...");
 * console.log(tokens.accessToken !== undefined);
 * ```
 */
export async function requestTokenRefresh(
  tokenUrl: string,
  refreshToken: string,
  options: RefreshRequestOptions = {},
): Promise<RefreshedTokens> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_REFRESH_TIMEOUT_MS;
  const doFetch = options.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  let status: number;
  let text: string;
  try {
    const response = await doFetch(tokenUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
      },
      body: JSON.stringify({
        client_id: options.clientId ?? CODEX_CLIENT_ID,
        grant_type: "refresh_token",
        refresh_token: refreshToken,
      }),
      signal: controller.signal,
      // Not followed: a 307 or 308 would send the refresh token again, to
      // wherever the answer points (see src/auth/_issuer_http.ts).
      redirect: "manual",
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    if (timedOut) {
      throw new TokenRefreshError(
        `Token refresh failed: expected an answer from the token endpoint within ${timeoutMs} ms, found none`,
      );
    }
    throw new TokenRefreshError(
      "Token refresh failed: expected to reach the token endpoint, found a network error",
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
  }
  // A redirect is not the endpoint's verdict on the token, whatever its body
  // says: the refresh failed for now, the login stays.
  if (status >= 300 && status <= 399) {
    throw new TokenRefreshError(
      `Token refresh failed: expected HTTP 200 from the token endpoint, found HTTP ${status}: a redirect, not followed (the refresh token goes only to the token endpoint)`,
    );
  }
  const body = parseJsonBody(text);
  if (status < 200 || status > 299) {
    const code = refreshErrorCode(body);
    if (code !== undefined && PERMANENT_REFRESH_CODES.has(code)) {
      throw loginRequired(code, status);
    }
    if (status === 401) throw loginRequired(code ?? "http_401", status);
    throw new TokenRefreshError(
      `Token refresh failed: expected HTTP 200 from the token endpoint, found HTTP ${status}${
        code === undefined ? "" : ` (${code})`
      }`,
    );
  }
  if (!isRecord(body)) {
    throw new TokenRefreshError(
      `Token refresh failed: expected a JSON object from the token endpoint, found ${
        body === undefined ? "text that is not JSON" : "another JSON value"
      }`,
    );
  }
  const tokens: RefreshedTokens = {};
  const accessToken = tokenField(body, "access_token");
  const newRefreshToken = tokenField(body, "refresh_token");
  const idToken = tokenField(body, "id_token");
  if (accessToken !== undefined) tokens.accessToken = accessToken;
  if (newRefreshToken !== undefined) tokens.refreshToken = newRefreshToken;
  if (idToken !== undefined) tokens.idToken = idToken;
  return tokens;
}
