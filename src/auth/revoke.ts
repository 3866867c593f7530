/**
 * Logging out at the issuer: the refresh token of a login is revoked, best
 * effort, the way the Codex CLI's logout does it. The caller removes the
 * login's files whatever the outcome.
 *
 * @module
 */

import {
  issuerReason,
  IssuerUnreachable,
  postToIssuer,
} from "./_issuer_http.ts";
import { type IssuerOptions, parseIssuer } from "./oauth.ts";
import { CODEX_CLIENT_ID } from "./refresh.ts";

/** Bound of the revoke call, in milliseconds (the Codex CLI's 10 s). */
export const DEFAULT_REVOKE_TIMEOUT_MS = 10_000;

/** Options of {@linkcode revokeRefreshToken}. */
export interface RevokeOptions extends IssuerOptions {
  /** Bound of the call, in milliseconds (default 10000). */
  timeoutMs?: number;
}

/** How a revoke went. Holds no secret. */
export interface RevokeResult {
  /** Whether the issuer accepted the revocation (a 2xx answer). */
  revoked: boolean;
  /**
   * Why not, when `revoked` is false: `timeout`, `network_error`,
   * `cancelled`, or `http_<status>` (with the issuer's error code after a
   * colon when it sent one, e.g. `http_400:invalid_request`).
   */
  reason?: string;
}

/**
 * Revokes a refresh token: POST `<issuer>/oauth/revoke`, JSON
 * `{token, token_type_hint: "refresh_token", client_id}`, bounded by 10 s.
 * Never throws for a network error, a timeout or a refusal: it resolves with
 * what happened. Only an invalid `issuer` throws (`LoginError`,
 * `login_issuer_invalid`).
 *
 * @example
 * ```ts
 * import { revokeRefreshToken } from "./revoke.ts";
 * const result = await revokeRefreshToken("rt_...");
 * if (!result.revoked) console.log(`Revoke failed (${result.reason}); removing the login anyway`);
 * ```
 */
export async function revokeRefreshToken(
  refreshToken: string,
  options: RevokeOptions = {},
): Promise<RevokeResult> {
  const issuer = parseIssuer(options.issuer);
  try {
    const answer = await postToIssuer(`${issuer}/oauth/revoke`, {
      token: refreshToken,
      token_type_hint: "refresh_token",
      client_id: options.clientId ?? CODEX_CLIENT_ID,
    }, {
      timeoutMs: options.timeoutMs ?? DEFAULT_REVOKE_TIMEOUT_MS,
      signal: options.signal,
      fetch: options.fetch,
    });
    if (answer.status >= 200 && answer.status <= 299) return { revoked: true };
    const code = issuerReason(answer.body);
    return {
      revoked: false,
      reason: `http_${answer.status}${code === undefined ? "" : `:${code}`}`,
    };
  } catch (error) {
    if (!(error instanceof IssuerUnreachable)) {
      return { revoked: false, reason: "network_error" };
    }
    return {
      revoked: false,
      reason: error.kind === "timeout"
        ? "timeout"
        : error.kind === "aborted"
        ? "cancelled"
        : "network_error",
    };
  }
}
