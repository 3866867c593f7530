/**
 * The refresh-token grant of the fake OAuth servers (`fake_token_endpoint.ts`
 * and `fake_issuer.ts`), faithful to the real one: refresh tokens rotate and
 * are single-use, a reused one answers exactly the real
 * `refresh_token_reused` body, an unknown one `invalid_grant`. Each refresh
 * token belongs to one login (account id, plan, email), and the tokens
 * issued for it carry the same identity. Private to `src/testing/`.
 *
 * @module
 */

import { makeAccessToken, makeIdToken } from "./jwt.ts";

/** The exact body the real endpoint answers (with 401) to a reused refresh token. */
export const REFRESH_TOKEN_REUSED_BODY = {
  error: {
    message:
      "Your refresh token has already been used to generate a new access token. Please try signing in again.",
    type: "invalid_request_error",
    param: null,
    code: "refresh_token_reused",
  },
} as const;

/** Where a permanent failure puts its error code in the body. */
export type ErrorCodePlacement = "error.code" | "error" | "code";

/** A scripted failure of the fake endpoint. */
export type FakeTokenFailure =
  | {
    /** Answer every refresh with a permanent error. */
    kind: "permanent";
    /** Error code (default `refresh_token_expired`). */
    code?: string;
    /** HTTP status (default 401). */
    status?: number;
    /** Where the code sits in the body (default `error.code`). */
    placement?: ErrorCodePlacement;
  }
  | {
    /** Answer with a transient server error. */
    kind: "transient";
    /** HTTP status (default 500). */
    status?: number;
    /** How many calls fail before the endpoint works again (default: all). */
    times?: number;
  }
  | {
    /** Be unreachable: every connection is destroyed before any answer. */
    kind: "down";
  };

/** Whose login a token belongs to: the claims its tokens carry. */
export interface TokenIdentity {
  /** ChatGPT account id (default `acct_test`). */
  accountId?: string;
  /** Plan type (default `plus`). */
  plan?: string;
  /** Email of the id token (default `seller@example.com`). */
  email?: string;
}

/** A status and a JSON body to answer. */
export interface GrantAnswer {
  status: number;
  body: unknown;
}

/** Options of {@linkcode createRefreshGrant}. */
export interface RefreshGrantOptions {
  /** OAuth client id required in requests. */
  clientId: string;
  /** Refresh tokens accepted from the start, of the default identity. */
  refreshTokens?: string[];
  /** Identity of tokens registered without one. */
  identity?: TokenIdentity;
  /** Lifetime of issued access tokens, in seconds (default 3600). */
  accessTokenLifetimeSeconds?: number;
  /** Fields left out of successful refresh answers. */
  omit?: Array<"access_token" | "refresh_token" | "id_token">;
  /** A failure active from the start. */
  failure?: FakeTokenFailure;
}

/** The state of the grant and its decisions. */
export interface RefreshGrant {
  /** Answers a token request whose body had these fields (`undefined`: unreadable body). */
  decide(fields: Record<string, string> | undefined): GrantAnswer;
  /**
   * A token answer for a fresh login of `identity` (`id_token`,
   * `access_token`, `refresh_token`, `token_type`, `expires_in`, `scope`);
   * its refresh token is accepted from now on.
   */
  issue(identity: TokenIdentity): Record<string, unknown>;
  /** Accepts `refreshToken` from now on, for `identity` (default: the grant's). */
  add(refreshToken: string, identity?: TokenIdentity): void;
  /** Whether `refreshToken` would be accepted now. */
  accepts(refreshToken: string): boolean;
  /** Whether `refreshToken` was accepted once and is spent. */
  isSpent(refreshToken: string): boolean;
  /** The refresh token issued in exchange for `refreshToken`, if it was spent. */
  successorOf(refreshToken: string): string | undefined;
  /** Stops accepting a live refresh token (a logout); later use answers `refresh_token_invalidated`. */
  revoke(refreshToken: string): boolean;
  /** The scripted failure, if any. */
  failure: FakeTokenFailure | undefined;
  /** Refreshes that succeeded. */
  readonly successes: number;
  /** The refresh token issued (or registered) last. */
  readonly latestRefreshToken: string | undefined;
  /** The access token issued last. */
  readonly latestAccessToken: string | undefined;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/** The error body of a permanent refusal, with its code where `placement` says. */
export function refreshErrorBody(
  code: string,
  placement: ErrorCodePlacement,
): Record<string, unknown> {
  const message =
    "Could not validate your refresh token. Please try signing in again.";
  if (placement === "error") {
    return { error: code, error_description: message };
  }
  if (placement === "code") return { code, message };
  return {
    error: { message, type: "invalid_request_error", param: null, code },
  };
}

/** Creates the state of a refresh-token grant. */
export function createRefreshGrant(options: RefreshGrantOptions): RefreshGrant {
  const defaultIdentity = options.identity ?? {};
  const lifetime = options.accessTokenLifetimeSeconds ?? 3600;
  /** Live refresh token -> whose login it is. */
  const live = new Map<string, TokenIdentity>();
  /** Spent refresh token -> the one issued for it. */
  const spent = new Map<string, string>();
  const revoked = new Set<string>();
  const omit = new Set(options.omit ?? []);
  let successes = 0;
  let serial = 0;
  let latestRefreshToken = options.refreshTokens?.at(-1);
  let latestAccessToken: string | undefined;
  for (const token of options.refreshTokens ?? []) {
    live.set(token, defaultIdentity);
  }

  function tokens(
    identity: TokenIdentity,
    left: ReadonlySet<string>,
  ): Record<string, unknown> {
    serial++;
    const exp = Math.floor(Date.now() / 1000) + lifetime;
    const claims = {
      accountId: identity.accountId,
      plan: identity.plan,
      email: identity.email,
      exp,
      extra: { jti: `${serial}_${randomHex(4)}` },
    };
    const refreshToken = `rt_fake_${serial}_${randomHex(12)}`;
    const accessToken = makeAccessToken(claims);
    const answer: Record<string, unknown> = {
      token_type: "Bearer",
      expires_in: lifetime,
      scope: "openid profile email offline_access",
    };
    if (!left.has("access_token")) {
      answer.access_token = accessToken;
      latestAccessToken = accessToken;
    }
    if (!left.has("refresh_token")) {
      answer.refresh_token = refreshToken;
      live.set(refreshToken, identity);
    }
    if (!left.has("id_token")) answer.id_token = makeIdToken(claims);
    return answer;
  }

  const grant: RefreshGrant = {
    failure: options.failure,
    get successes() {
      return successes;
    },
    get latestRefreshToken() {
      return latestRefreshToken;
    },
    get latestAccessToken() {
      return latestAccessToken;
    },
    issue(identity: TokenIdentity): Record<string, unknown> {
      const answer = tokens(identity, new Set());
      latestRefreshToken = answer.refresh_token as string;
      return answer;
    },
    add(refreshToken: string, identity?: TokenIdentity): void {
      live.set(refreshToken, identity ?? defaultIdentity);
      latestRefreshToken = refreshToken;
    },
    accepts(refreshToken: string): boolean {
      return live.has(refreshToken);
    },
    isSpent(refreshToken: string): boolean {
      return spent.has(refreshToken);
    },
    successorOf(refreshToken: string): string | undefined {
      return spent.get(refreshToken);
    },
    revoke(refreshToken: string): boolean {
      if (!live.delete(refreshToken)) return false;
      revoked.add(refreshToken);
      return true;
    },
    decide(fields: Record<string, string> | undefined): GrantAnswer {
      if (fields === undefined) {
        return {
          status: 400,
          body: {
            error: "invalid_request",
            error_description:
              "Expected a JSON or form-encoded body with client_id, grant_type and refresh_token",
          },
        };
      }
      if (fields.client_id !== options.clientId) {
        return {
          status: 401,
          body: {
            error: "invalid_client",
            error_description: "Unknown or missing client_id",
          },
        };
      }
      if (fields.grant_type !== "refresh_token") {
        return {
          status: 400,
          body: {
            error: "unsupported_grant_type",
            error_description: "Expected grant_type refresh_token",
          },
        };
      }
      const token = fields.refresh_token;
      if (typeof token !== "string" || token === "") {
        return {
          status: 400,
          body: {
            error: "invalid_request",
            error_description: "Missing refresh_token",
          },
        };
      }
      const failure = grant.failure;
      if (failure?.kind === "permanent") {
        return {
          status: failure.status ?? 401,
          body: refreshErrorBody(
            failure.code ?? "refresh_token_expired",
            failure.placement ?? "error.code",
          ),
        };
      }
      if (failure?.kind === "transient") {
        const status = failure.status ?? 500;
        if (failure.times !== undefined) {
          grant.failure = failure.times > 1
            ? { ...failure, times: failure.times - 1 }
            : undefined;
        }
        return {
          status,
          body: {
            error: { message: "Internal server error", code: "server_error" },
          },
        };
      }
      if (spent.has(token)) {
        return { status: 401, body: REFRESH_TOKEN_REUSED_BODY };
      }
      if (revoked.has(token)) {
        return {
          status: 401,
          body: refreshErrorBody("refresh_token_invalidated", "error.code"),
        };
      }
      const identity = live.get(token);
      if (identity === undefined) {
        return {
          status: 401,
          body: refreshErrorBody("invalid_grant", "error"),
        };
      }
      live.delete(token);
      const issued = tokens(identity, omit);
      spent.set(token, String(issued.refresh_token ?? ""));
      if (typeof issued.refresh_token === "string") {
        latestRefreshToken = issued.refresh_token;
      }
      successes++;
      return { status: 200, body: issued };
    },
  };
  return grant;
}
