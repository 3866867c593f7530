/**
 * A local fake of the OAuth token endpoint that refreshes Codex logins, for
 * offline tests of anything that refreshes tokens (this module's own tests,
 * and sellers' tests). It listens on 127.0.0.1 on a free port and behaves
 * like the real one where it matters:
 *
 * - refresh tokens ROTATE and are SINGLE-USE: each accepted refresh token is
 *   spent and a new one is issued with a new access token and id token;
 * - reusing a spent refresh token answers 401 with exactly the
 *   `refresh_token_reused` body of the real endpoint;
 * - an unknown refresh token answers 401 `{"error":"invalid_grant",...}`;
 * - JSON and form-encoded bodies are accepted; `client_id` and
 *   `grant_type=refresh_token` are required.
 *
 * Tests can register the refresh tokens it accepts, make it fail
 * permanently or transiently, slow it down or take it down, and count calls.
 *
 * @example
 * ```ts
 * import { startFakeTokenEndpoint } from "./fake_token_endpoint.ts";
 *
 * const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
 * try {
 *   const answer = await fetch(endpoint.url, {
 *     method: "POST",
 *     headers: { "content-type": "application/json" },
 *     body: JSON.stringify({
 *       client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
 *       grant_type: "refresh_token",
 *       refresh_token: "rt_0",
 *     }),
 *   });
 *   console.log(answer.status, endpoint.calls); // 200 1
 * } finally {
 *   await endpoint.close();
 * }
 * ```
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { parseFields, readBody } from "./_fake_http.ts";
import {
  createRefreshGrant,
  type FakeTokenFailure,
} from "./_fake_refresh_grant.ts";

export {
  type ErrorCodePlacement,
  type FakeTokenFailure,
  REFRESH_TOKEN_REUSED_BODY,
} from "./_fake_refresh_grant.ts";

/** The OAuth client id the Codex CLI uses; the default the fake requires. */
export const FAKE_CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

/** Options of {@linkcode startFakeTokenEndpoint}. */
export interface FakeTokenEndpointOptions {
  /** Refresh tokens accepted from the start (more with `addRefreshToken`). */
  refreshTokens?: string[];
  /** Account id put in issued tokens (default `acct_test`). */
  accountId?: string;
  /** Plan type put in issued tokens (default `plus`). */
  plan?: string;
  /** Email put in issued id tokens (default `seller@example.com`). */
  email?: string;
  /** Lifetime of issued access tokens, in seconds (default 3600). */
  accessTokenLifetimeSeconds?: number;
  /** OAuth client id required in requests (default: the Codex CLI's). */
  clientId?: string;
  /** Fields left out of successful answers, to test clients that keep old values. */
  omit?: Array<"access_token" | "refresh_token" | "id_token">;
  /** Delay before each answer, in milliseconds (default 0). */
  delayMs?: number;
  /** A failure active from the start. */
  failure?: FakeTokenFailure;
}

/** One request the fake received. Holds test tokens only. */
export interface RecordedTokenRequest {
  /** `application/json` or `application/x-www-form-urlencoded` (as sent). */
  contentType: string;
  /** The fields of the body. */
  fields: Record<string, string>;
  /** HTTP status answered (0 when the connection was dropped). */
  status: number;
}

/** A running fake token endpoint. */
export interface FakeTokenEndpoint {
  /** URL to POST refreshes to, e.g. `http://127.0.0.1:PORT/oauth/token`. */
  readonly url: string;
  /** Number of requests received on the token URL, whatever their outcome. */
  readonly calls: number;
  /** Number of refreshes that succeeded. */
  readonly successes: number;
  /** Every request received on the token URL, in order. */
  readonly requests: readonly RecordedTokenRequest[];
  /** The refresh token issued last (or the last one registered), if any. */
  readonly latestRefreshToken: string | undefined;
  /** The access token issued last, if any. */
  readonly latestAccessToken: string | undefined;
  /** Accepts `refreshToken` from now on (as after a `codex login`). */
  addRefreshToken(refreshToken: string): void;
  /** Whether `refreshToken` would be accepted now. */
  accepts(refreshToken: string): boolean;
  /** Whether `refreshToken` was accepted once and is spent. */
  isSpent(refreshToken: string): boolean;
  /** The refresh token issued in exchange for `refreshToken`, if it was spent. */
  successorOf(refreshToken: string): string | undefined;
  /** Sets or clears (`undefined`) the scripted failure. */
  setFailure(failure: FakeTokenFailure | undefined): void;
  /** Sets the delay before each answer, in milliseconds. */
  setDelay(ms: number): void;
  /** Stops the server, drops open connections and clears pending timers. */
  close(): Promise<void>;
}

/**
 * Starts a fake token endpoint on 127.0.0.1 (a free port).
 *
 * @example
 * ```ts
 * import { startFakeTokenEndpoint } from "./fake_token_endpoint.ts";
 *
 * const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
 * endpoint.setFailure({ kind: "transient", status: 503, times: 1 });
 * // ... point the code under test at endpoint.url ...
 * await endpoint.close();
 * ```
 */
export async function startFakeTokenEndpoint(
  options: FakeTokenEndpointOptions = {},
): Promise<FakeTokenEndpoint> {
  const grant = createRefreshGrant({
    clientId: options.clientId ?? FAKE_CODEX_CLIENT_ID,
    refreshTokens: options.refreshTokens,
    identity: {
      accountId: options.accountId,
      plan: options.plan,
      email: options.email,
    },
    accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds,
    omit: options.omit,
    failure: options.failure,
  });
  const requests: RecordedTokenRequest[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let delayMs = options.delayMs ?? 0;
  let calls = 0;

  function isDown(): boolean {
    return grant.failure?.kind === "down";
  }

  function wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });
  }

  async function handle(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    if (path !== "/oauth/token") {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "not_found" }));
      return;
    }
    if (request.method !== "POST") {
      response.writeHead(405, { allow: "POST" });
      response.end();
      return;
    }
    calls++;
    const contentType = String(request.headers["content-type"] ?? "");
    const text = await readBody(request);
    const fields = parseFields(contentType, text);
    const record: RecordedTokenRequest = {
      contentType,
      fields: fields ?? {},
      status: 0,
    };
    requests.push(record);
    if (isDown()) {
      request.socket.destroy();
      return;
    }
    await wait(delayMs);
    // The failure may have been set while the answer was delayed.
    if (isDown()) {
      request.socket.destroy();
      return;
    }
    const outcome = grant.decide(fields);
    record.status = outcome.status;
    response.writeHead(outcome.status, { "content-type": "application/json" });
    response.end(JSON.stringify(outcome.body));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) {
        response.writeHead(500);
        response.end();
      } else {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    get calls() {
      return calls;
    },
    get successes() {
      return grant.successes;
    },
    get requests() {
      return requests;
    },
    get latestRefreshToken() {
      return grant.latestRefreshToken;
    },
    get latestAccessToken() {
      return grant.latestAccessToken;
    },
    addRefreshToken(refreshToken: string): void {
      grant.add(refreshToken);
    },
    accepts(refreshToken: string): boolean {
      return grant.accepts(refreshToken);
    },
    isSpent(refreshToken: string): boolean {
      return grant.isSpent(refreshToken);
    },
    successorOf(refreshToken: string): string | undefined {
      return grant.successorOf(refreshToken);
    },
    setFailure(next: FakeTokenFailure | undefined): void {
      grant.failure = next;
    },
    setDelay(ms: number): void {
      delayMs = ms;
    },
    close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
