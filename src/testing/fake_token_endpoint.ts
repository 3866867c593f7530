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
import { makeAccessToken, makeIdToken } from "./jwt.ts";

/** The OAuth client id the Codex CLI uses; the default the fake requires. */
export const FAKE_CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";

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

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => {
      let length = 0;
      for (const chunk of chunks) length += chunk.byteLength;
      const all = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      resolve(new TextDecoder().decode(all));
    });
    request.on("error", reject);
  });
}

function parseFields(
  contentType: string,
  text: string,
): Record<string, string> | undefined {
  if (contentType.includes("application/json")) {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null) return undefined;
      const fields: Record<string, string> = {};
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === "string") fields[key] = value;
      }
      return fields;
    } catch {
      return undefined;
    }
  }
  if (contentType.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return undefined;
}

function errorBody(
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
  /** Live refresh tokens. */
  const live = new Set<string>(options.refreshTokens ?? []);
  /** Spent refresh token -> the one issued for it. */
  const spent = new Map<string, string>();
  const requests: RecordedTokenRequest[] = [];
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const clientId = options.clientId ?? FAKE_CODEX_CLIENT_ID;
  const omit = new Set(options.omit ?? []);
  let failure = options.failure;
  let delayMs = options.delayMs ?? 0;
  let calls = 0;
  let successes = 0;
  let serial = 0;
  let latestRefreshToken = options.refreshTokens?.at(-1);
  let latestAccessToken: string | undefined;

  function isDown(): boolean {
    return failure?.kind === "down";
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

  function issue(): Record<string, unknown> {
    serial++;
    const exp = Math.floor(Date.now() / 1000) +
      (options.accessTokenLifetimeSeconds ?? 3600);
    const claims = {
      accountId: options.accountId,
      plan: options.plan,
      email: options.email,
      exp,
      extra: { jti: `${serial}_${randomHex(4)}` },
    };
    const refreshToken = `rt_fake_${serial}_${randomHex(12)}`;
    const accessToken = makeAccessToken(claims);
    const answer: Record<string, unknown> = {
      token_type: "Bearer",
      expires_in: options.accessTokenLifetimeSeconds ?? 3600,
      scope: "openid profile email offline_access",
    };
    if (!omit.has("access_token")) {
      answer.access_token = accessToken;
      latestAccessToken = accessToken;
    }
    if (!omit.has("refresh_token")) {
      answer.refresh_token = refreshToken;
      live.add(refreshToken);
    }
    if (!omit.has("id_token")) answer.id_token = makeIdToken(claims);
    return answer;
  }

  function answer(
    status: number,
    body: unknown,
  ): { status: number; body: unknown } {
    return { status, body };
  }

  function decide(fields: Record<string, string> | undefined) {
    if (fields === undefined) {
      return answer(400, {
        error: "invalid_request",
        error_description:
          "Expected a JSON or form-encoded body with client_id, grant_type and refresh_token",
      });
    }
    if (fields.client_id !== clientId) {
      return answer(401, {
        error: "invalid_client",
        error_description: "Unknown or missing client_id",
      });
    }
    if (fields.grant_type !== "refresh_token") {
      return answer(400, {
        error: "unsupported_grant_type",
        error_description: "Expected grant_type refresh_token",
      });
    }
    const token = fields.refresh_token;
    if (typeof token !== "string" || token === "") {
      return answer(400, {
        error: "invalid_request",
        error_description: "Missing refresh_token",
      });
    }
    if (failure?.kind === "permanent") {
      return answer(
        failure.status ?? 401,
        errorBody(
          failure.code ?? "refresh_token_expired",
          failure.placement ?? "error.code",
        ),
      );
    }
    if (failure?.kind === "transient") {
      const status = failure.status ?? 500;
      if (failure.times !== undefined) {
        failure = failure.times > 1
          ? { ...failure, times: failure.times - 1 }
          : undefined;
      }
      return answer(status, {
        error: { message: "Internal server error", code: "server_error" },
      });
    }
    if (spent.has(token)) return answer(401, REFRESH_TOKEN_REUSED_BODY);
    if (!live.has(token)) {
      return answer(401, errorBody("invalid_grant", "error"));
    }
    live.delete(token);
    const issued = issue();
    spent.set(token, String(issued.refresh_token ?? ""));
    if (typeof issued.refresh_token === "string") {
      latestRefreshToken = issued.refresh_token;
    }
    successes++;
    return answer(200, issued);
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
    const outcome = decide(fields);
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
      return successes;
    },
    get requests() {
      return requests;
    },
    get latestRefreshToken() {
      return latestRefreshToken;
    },
    get latestAccessToken() {
      return latestAccessToken;
    },
    addRefreshToken(refreshToken: string): void {
      live.add(refreshToken);
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
    setFailure(next: FakeTokenFailure | undefined): void {
      failure = next;
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
