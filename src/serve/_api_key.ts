/**
 * The optional API key of the local server (`OPENAI_RESPONSES_SERVE_API_KEY`),
 * compared in constant time. Private to the server.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

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
 * Checks an `authorization` header against the expected key. Resolves
 * `undefined` when it matches, else the 401 `invalid_api_key` error to
 * answer. The error never quotes the key sent or expected.
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
  const match = /^\s*bearer\s+(.+?)\s*$/i.exec(authorization ?? "");
  const sent = match?.[1];
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
