/**
 * Reads the claims the Codex backend cares about from the access and id
 * tokens of a Codex login. The tokens are only decoded, never verified: the
 * provider is not their audience, the backend is.
 *
 * @module
 */

import type { JWTPayload } from "jose";
import { nonEmptyString } from "../json.ts";

type DecodeJwt = (token: string) => JWTPayload;

/**
 * jose is imported when the first token is read, not when the module is:
 * loading it takes about as long as the rest of the plugin (Node 20), and a
 * process that imports the plugin reads no token before `init()`.
 */
let decoder: Promise<DecodeJwt> | undefined;

function loadDecoder(): Promise<DecodeJwt> {
  decoder ??= import("jose/jwt/decode").then((module) => module.decodeJwt);
  return decoder;
}

/** The claim object that carries the ChatGPT account of a Codex token. */
export const OPENAI_AUTH_CLAIM = "https://api.openai.com/auth";

/** What the tokens of a Codex login say, when they say it. */
export interface TokenClaims {
  /** ChatGPT account id (`chatgpt_account_id`), access token first, then id token. */
  accountId?: string;
  /** Plan type (`chatgpt_plan_type`), e.g. `plus` or `pro`. */
  plan?: string;
  /** Email of the login (id-token claim `email`). */
  email?: string;
  /** Access-token expiry (`exp`), milliseconds since the epoch. */
  expiresAt?: number;
}

function decode(
  decodeJwt: DecodeJwt,
  token: string | undefined,
): JWTPayload | undefined {
  if (typeof token !== "string" || token === "") return undefined;
  try {
    return decodeJwt(token);
  } catch {
    // An opaque or malformed token simply has no readable claims.
    return undefined;
  }
}

function authClaim(
  payload: JWTPayload | undefined,
): Record<string, unknown> | undefined {
  const claim = payload?.[OPENAI_AUTH_CLAIM];
  return typeof claim === "object" && claim !== null && !Array.isArray(claim)
    ? claim as Record<string, unknown>
    : undefined;
}

/**
 * Reads account id, plan, email and expiry from an access token and an
 * optional id token. Unreadable tokens yield no claims instead of an error.
 *
 * @example
 * ```ts
 * import { readTokenClaims } from "./claims.ts";
 * import { makeAccessToken } from "../testing/jwt.ts";
 *
 * const claims = await readTokenClaims(makeAccessToken({ accountId: "acct_1" }));
 * console.log(claims.accountId); // "acct_1"
 * ```
 */
export async function readTokenClaims(
  accessToken: string,
  idToken?: string,
): Promise<TokenClaims> {
  const decodeJwt = await loadDecoder();
  const access = decode(decodeJwt, accessToken);
  const id = decode(decodeJwt, idToken);
  const accessAuth = authClaim(access);
  const idAuth = authClaim(id);
  const claims: TokenClaims = {};
  const accountId = nonEmptyString(accessAuth?.chatgpt_account_id) ??
    nonEmptyString(idAuth?.chatgpt_account_id);
  if (accountId !== undefined) claims.accountId = accountId;
  const plan = nonEmptyString(accessAuth?.chatgpt_plan_type) ??
    nonEmptyString(idAuth?.chatgpt_plan_type);
  if (plan !== undefined) claims.plan = plan;
  const email = nonEmptyString(id?.email) ?? nonEmptyString(access?.email);
  if (email !== undefined) claims.email = email;
  if (typeof access?.exp === "number" && Number.isFinite(access.exp)) {
    claims.expiresAt = access.exp * 1000;
  }
  return claims;
}
