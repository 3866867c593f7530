/**
 * A token source over fixed tokens, for tests of the relay that are not about
 * credentials: no file, no refresh.
 *
 * @module
 */

import type { AccessToken, TokenSource } from "../../src/auth/types.ts";

/** A {@linkcode TokenSource} that counts the 401s it was told about. */
export interface FixedTokenSource extends TokenSource {
  /** Calls of `handleUnauthorized`. */
  unauthorizedCalls: number;
}

/**
 * Hands out `first`; after a 401 on it, hands out `next` when given (once),
 * else nothing newer.
 */
export function fixedTokens(
  accountId: string,
  first: string,
  next?: string,
): FixedTokenSource {
  let current = first;
  const info = () =>
    Promise.resolve({ authFile: "/home/seller/.codex/auth.json", accountId });
  const source: FixedTokenSource = {
    unauthorizedCalls: 0,
    init: info,
    info,
    forceRefresh: info,
    getToken: (): Promise<AccessToken> =>
      Promise.resolve({ accessToken: current, accountId }),
    handleUnauthorized: (failed: AccessToken) => {
      source.unauthorizedCalls++;
      if (next && failed.accessToken !== next) {
        current = next;
        return Promise.resolve({ accessToken: next, accountId });
      }
      return Promise.resolve(undefined);
    },
  };
  return source;
}
