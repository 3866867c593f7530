/**
 * The optional API key of the local server (`OPENAI_RESPONSES_SERVE_API_KEY`):
 * the `authorization` header, bounded in length and read in linear time, and
 * the key in it compared in constant time. Private to the server.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

/**
 * Longest `authorization` header read, in UTF-16 code units; a longer one is
 * refused before it is read (431 `authorization_header_too_large`).
 */
export const MAX_AUTHORIZATION_LENGTH = 4096;

const BEARER = "bearer";

/**
 * Longest API key that fits in an `authorization` header of
 * {@linkcode MAX_AUTHORIZATION_LENGTH}: `Bearer <key>`.
 */
export const MAX_API_KEY_LENGTH = MAX_AUTHORIZATION_LENGTH - BEARER.length - 1;

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(text)),
  );
}

/**
 * Compares two strings in time independent of where they differ and of their
 * lengths (both are hashed first).
 *
 * @example
 * ```ts
 * import { constantTimeEqual } from "./_api_key.ts";
 * console.log(await constantTimeEqual("a", "a")); // true
 * ```
 */
export async function constantTimeEqual(
  a: string,
  b: string,
): Promise<boolean> {
  const [left, right] = await Promise.all([digest(a), digest(b)]);
  let difference = 0;
  for (let index = 0; index < left.length; index++) {
    difference |= left[index] ^ right[index];
  }
  return difference === 0;
}

/**
 * The token of a `Bearer <token>` header value (scheme in any case,
 * whitespace around either part), or `undefined` for any other value. Runs
 * in time linear in the value's length, whatever it holds.
 *
 * @example
 * ```ts
 * import { bearerToken } from "./_api_key.ts";
 * console.log(bearerToken("  bearer  abc "), bearerToken("Basic abc")); // "abc" undefined
 * ```
 */
export function bearerToken(value: string): string | undefined {
  const text = value.trim();
  if (text.slice(0, BEARER.length).toLowerCase() !== BEARER) return undefined;
  const rest = text.slice(BEARER.length);
  const token = rest.trimStart();
  // The scheme and the token are separated by whitespace, and the token is
  // not empty.
  if (token === "" || token.length === rest.length) return undefined;
  return token;
}

/**
 * Checks an `authorization` header against the expected key. Resolves
 * `undefined` when it matches, else the error to answer: 431
 * `authorization_header_too_large` for a header longer than
 * {@linkcode MAX_AUTHORIZATION_LENGTH} (refused unread), 401
 * `invalid_api_key` for any other mismatch. The error never quotes the key
 * sent or expected.
 *
 * @example
 * ```ts
 * import { checkApiKey } from "./_api_key.ts";
 * const refusal = await checkApiKey("Bearer secret", "secret");
 * console.log(refusal); // undefined
 * ```
 */
export async function checkApiKey(
  authorization: string | null,
  apiKey: string,
): Promise<RelayError | undefined> {
  if (
    authorization !== null && authorization.length > MAX_AUTHORIZATION_LENGTH
  ) {
    return new RelayError(
      431,
      "authorization_header_too_large",
      `Authorization header too large: expected at most ${MAX_AUTHORIZATION_LENGTH} characters, found ${authorization.length}`,
    );
  }
  const sent = authorization === null ? undefined : bearerToken(authorization);
  if (sent !== undefined && await constantTimeEqual(sent, apiKey)) {
    return undefined;
  }
  const found = authorization === null
    ? "no authorization header"
    : sent === undefined
    ? "an authorization header that is not a bearer token"
    : "a different key";
  return new RelayError(
    401,
    "invalid_api_key",
    `Invalid API key: expected "authorization: Bearer <key>" with the key set in OPENAI_RESPONSES_SERVE_API_KEY, found ${found}`,
    {
      type: "invalid_request_error",
      headers: { "www-authenticate": "Bearer" },
    },
  );
}
