/**
 * Test credentials: unsigned JWTs shaped like the ones `codex login` stores,
 * and auth.json documents built from them. For simulated backends and tests
 * only; nothing here is a real credential.
 *
 * @module
 */

/** The claim object the Codex backend reads from an access or id token. */
export const AUTH_CLAIM = "https://api.openai.com/auth";

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/**
 * Builds an unsigned JWT (`alg: none`) carrying the given claims.
 *
 * @example
 * ```ts
 * import { makeJwt } from "./jwt.ts";
 * const token = makeJwt({ exp: 2_000_000_000 });
 * console.log(token.split(".").length); // 3
 * ```
 */
export function makeJwt(claims: Record<string, unknown>): string {
  return `${base64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
    base64url(JSON.stringify(claims))
  }.${base64url("unsigned")}`;
}

/** Options of {@linkcode makeAccessToken}. */
export interface TestTokenOptions {
  /** ChatGPT account id put in the auth claim (default `acct_test`). */
  accountId?: string;
  /** Expiry, unix seconds (default: one hour from now). */
  exp?: number;
  /** Plan type (default `plus`). */
  plan?: string;
  /** Email claim of the id token (default `seller@example.com`). */
  email?: string;
  /** Extra claims, for example a serial number that makes each token unique. */
  extra?: Record<string, unknown>;
}

/**
 * Builds an access token shaped like a Codex one.
 *
 * @example
 * ```ts
 * import { makeAccessToken } from "./jwt.ts";
 * const token = makeAccessToken({ accountId: "acct_1" });
 * ```
 */
export function makeAccessToken(options: TestTokenOptions = {}): string {
  return makeJwt({
    exp: options.exp ?? Math.floor(Date.now() / 1000) + 3600,
    [AUTH_CLAIM]: {
      chatgpt_account_id: options.accountId ?? "acct_test",
      chatgpt_plan_type: options.plan ?? "plus",
    },
    ...options.extra,
  });
}

/**
 * Builds an id token shaped like a Codex one.
 *
 * @example
 * ```ts
 * import { makeIdToken } from "./jwt.ts";
 * const token = makeIdToken({ email: "a@example.com" });
 * ```
 */
export function makeIdToken(options: TestTokenOptions = {}): string {
  return makeJwt({
    exp: options.exp ?? Math.floor(Date.now() / 1000) + 3600,
    email: options.email ?? "seller@example.com",
    [AUTH_CLAIM]: {
      chatgpt_account_id: options.accountId ?? "acct_test",
      chatgpt_plan_type: options.plan ?? "plus",
    },
    ...options.extra,
  });
}

/** Options of {@linkcode makeAuthJson}. */
export interface AuthJsonOptions extends TestTokenOptions {
  /** Refresh token (default `rt_test_0`). */
  refreshToken?: string;
  /** Access token to store instead of a generated one. */
  accessToken?: string;
  /** `last_refresh` value (default: now, in the CLI's format). */
  lastRefresh?: string;
}

/**
 * Builds an auth.json document like the one `codex login` writes.
 *
 * @example
 * ```ts
 * import { makeAuthJson } from "./jwt.ts";
 * const text = JSON.stringify(makeAuthJson({ refreshToken: "rt_1" }));
 * ```
 */
export function makeAuthJson(
  options: AuthJsonOptions = {},
): Record<string, unknown> {
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: makeIdToken(options),
      access_token: options.accessToken ?? makeAccessToken(options),
      refresh_token: options.refreshToken ?? "rt_test_0",
      account_id: options.accountId ?? "acct_test",
    },
    last_refresh: options.lastRefresh ?? new Date().toISOString(),
  };
}
