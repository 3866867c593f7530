/**
 * PKCE (RFC 7636) and the OAuth `state` of the Codex CLI's browser login, on
 * Web Crypto: a verifier of 64 random bytes, its S256 challenge, a state of 32
 * random bytes, all base64url without padding.
 *
 * The verifier and the state are secrets of one login: never log them.
 *
 * @module
 */

/** The one PKCE method the issuer is asked for. */
export const PKCE_METHOD = "S256";

/** A PKCE pair for one authorization request. */
export interface PkceCodes {
  /** The secret sent with the code exchange (base64url, 86 characters). */
  verifier: string;
  /** base64url(SHA-256(verifier)), sent with the authorize request. */
  challenge: string;
  /** Always `S256`. */
  method: typeof PKCE_METHOD;
}

/**
 * Encodes bytes as base64url without padding (RFC 4648 §5).
 *
 * @example
 * ```ts
 * import { base64url } from "./pkce.ts";
 * console.log(base64url(new Uint8Array([251, 255]))); // "-_8"
 * ```
 */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function randomBase64url(length: number): string {
  return base64url(crypto.getRandomValues(new Uint8Array(length)));
}

/**
 * The S256 challenge of a verifier: base64url(SHA-256(ASCII(verifier))).
 *
 * @example
 * ```ts
 * import { pkceChallenge } from "./pkce.ts";
 * // The example of RFC 7636, appendix B.
 * console.log(await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
 * // "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
 * ```
 */
export async function pkceChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(verifier),
  );
  return base64url(new Uint8Array(digest));
}

/**
 * A fresh PKCE pair: a verifier of 64 random bytes and its S256 challenge.
 *
 * @example
 * ```ts
 * import { createPkce } from "./pkce.ts";
 * const pkce = await createPkce();
 * console.log(pkce.method, pkce.verifier.length); // "S256" 86
 * ```
 */
export async function createPkce(): Promise<PkceCodes> {
  const verifier = randomBase64url(64);
  return {
    verifier,
    challenge: await pkceChallenge(verifier),
    method: PKCE_METHOD,
  };
}

/**
 * A fresh OAuth `state`: 32 random bytes, base64url.
 *
 * @example
 * ```ts
 * import { createState } from "./pkce.ts";
 * console.log(createState().length); // 43
 * ```
 */
export function createState(): string {
  return randomBase64url(32);
}
