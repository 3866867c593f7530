/**
 * A simulated OAuth issuer (`auth.openai.com`) for offline tests of the
 * Codex CLI's login flows, on 127.0.0.1 on a free port. It checks what the
 * real issuer checks and answers what it answers (see the spec's "Logging
 * in without the Codex CLI"):
 *
 * - `GET /oauth/authorize`: the client id, `response_type=code`, a
 *   registered redirect URI (`http://localhost:<port>/auth/callback`, ports
 *   1455 and 1457 and those a test registers), an S256 `code_challenge`, a
 *   `state`, the `openid` and `offline_access` scopes. A bad client or
 *   redirect URI is answered 400 (never redirected to); any other fault is
 *   redirected as `error=invalid_request`. Otherwise a 302 to the redirect
 *   URI with `code` and `state`, or with the scripted
 *   `error`/`error_description` (e.g. `missing_codex_entitlement`).
 * - `POST /oauth/token` `grant_type=authorization_code` (form or JSON): the
 *   code is single-use (a second try is `invalid_grant`), the
 *   `redirect_uri` must equal the authorize request's, and
 *   SHA-256(`code_verifier`) must equal the challenge, else 400
 *   `{"error":"invalid_grant","error_description":...}`. The answer:
 *   `{id_token, access_token, refresh_token, token_type, expires_in, scope}`,
 *   JWTs carrying the configured account id, plan and email.
 * - `POST /oauth/token` `grant_type=refresh_token`: rotation like
 *   `startFakeTokenEndpoint` (same code): single use, reuse answers 401
 *   `refresh_token_reused`; each login keeps its own identity.
 * - `POST /api/accounts/deviceauth/usercode` (404 when device login is
 *   disabled) and `POST /api/accounts/deviceauth/token`: 403 for the first
 *   `pendingPolls` polls, then the authorization code with the PKCE pair the
 *   issuer made (to be exchanged with `redirect_uri=<issuer>/deviceauth/callback`);
 *   or 403 for ever (`outcome: "expire"`), or a scripted status.
 * - `POST /oauth/revoke` (JSON `{token, token_type_hint, client_id}`): the
 *   refresh token is recorded and stops working; `setRevokeDown(true)` drops
 *   every revoke connection instead.
 *
 * Every request is recorded (method, path, query, body fields, status).
 *
 * @example
 * ```ts
 * import { startFakeIssuer } from "./fake_issuer.ts";
 *
 * const issuer = await startFakeIssuer({ accountId: "acct_1", email: "a@example.com" });
 * try {
 *   issuer.registerCallbackPort(40000);
 *   // ... run a login against issuer.url, play the browser with
 *   // fetch(authorizeUrl, { redirect: "manual" }) and follow the Location ...
 *   console.log(issuer.requests.map((request) => request.path));
 * } finally {
 *   await issuer.close();
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
  type GrantAnswer,
  type TokenIdentity,
} from "./_fake_refresh_grant.ts";
import { FAKE_CODEX_CLIENT_ID } from "./fake_token_endpoint.ts";

export type {
  ErrorCodePlacement,
  FakeTokenFailure,
  TokenIdentity,
} from "./_fake_refresh_grant.ts";

/** How the device login of the fake issuer behaves. */
export interface FakeDeviceLogin {
  /** Whether device login is enabled (default `true`; `false` answers 404 to the code request). */
  enabled?: boolean;
  /** The `interval` answered, a string of seconds (default `"5"`). */
  interval?: string;
  /** Polls answered 403 ("pending") before the outcome (default 0). */
  pendingPolls?: number;
  /**
   * What comes after the pending polls (default `"approve"`): the login;
   * `"expire"`: the code is never entered, every poll is answered 403; a
   * status: that status with an error body.
   */
  outcome?: "approve" | "expire" | { status: number };
  /** Name of the code field answered (default `user_code`; older issuers: `usercode`). */
  userCodeField?: "user_code" | "usercode";
}

/** A scripted refusal of the authorize step, redirected to the client. */
export interface FakeAuthorizeError {
  /** `error` parameter, e.g. `missing_codex_entitlement` or `access_denied`. */
  error: string;
  /** `error_description` parameter. */
  description?: string;
}

/** Options of {@linkcode startFakeIssuer}. */
export interface FakeIssuerOptions {
  /** Account id put in issued tokens (default `acct_test`). */
  accountId?: string;
  /** Plan type put in issued tokens (default `plus`). */
  plan?: string;
  /** Email put in issued id tokens (default `seller@example.com`). */
  email?: string;
  /** OAuth client id required (default: the Codex CLI's). */
  clientId?: string;
  /** Ports of the registered redirect URIs (default `[1455, 1457]`). */
  callbackPorts?: number[];
  /** Lifetime of issued access tokens, in seconds (default 3600). */
  accessTokenLifetimeSeconds?: number;
  /** Device login behaviour. */
  device?: FakeDeviceLogin;
  /** A refusal of the authorize step active from the start. */
  authorizeError?: FakeAuthorizeError;
}

/** One request the fake issuer received. Holds test secrets only. */
export interface RecordedIssuerRequest {
  /** HTTP method. */
  method: string;
  /** URL path, e.g. `/oauth/token`. */
  path: string;
  /** Query parameters. */
  query: Record<string, string>;
  /** `content-type` header as sent (empty when none). */
  contentType: string;
  /** String fields of a JSON or form-encoded body. */
  fields: Record<string, string>;
  /** HTTP status answered (0 when the connection was dropped). */
  status: number;
}

/** A running fake issuer. */
export interface FakeIssuer {
  /** Issuer base URL, `http://127.0.0.1:<port>` (no trailing slash). */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: readonly RecordedIssuerRequest[];
  /** Refresh tokens received by `/oauth/revoke` (while up), in order. */
  readonly revokedTokens: readonly string[];
  /** The refresh token issued last, if any. */
  readonly latestRefreshToken: string | undefined;
  /** Accepts `http://localhost:<port>/auth/callback` as a redirect URI from now on. */
  registerCallbackPort(port: number): void;
  /** Sets the identity of the logins issued from now on. */
  setIdentity(identity: TokenIdentity): void;
  /** Sets or clears the scripted refusal of the authorize step. */
  setAuthorizeError(error: FakeAuthorizeError | undefined): void;
  /** Changes the device login behaviour (fields given replace the current ones; new codes only). */
  setDevice(device: FakeDeviceLogin): void;
  /** Makes `/oauth/revoke` drop every connection (`true`) or work again. */
  setRevokeDown(down: boolean): void;
  /** Sets or clears a scripted failure of refresh-token grants. */
  setRefreshFailure(failure: FakeTokenFailure | undefined): void;
  /** Whether `refreshToken` would be accepted by a refresh now. */
  accepts(refreshToken: string): boolean;
  /** Whether `refreshToken` was spent by a refresh. */
  isSpent(refreshToken: string): boolean;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

interface PendingCode {
  redirectUri: string;
  challenge: string;
  identity: TokenIdentity;
}

interface DeviceCode {
  userCode: string;
  identity: TokenIdentity;
  pendingPolls: number;
  outcome: "approve" | "expire" | { status: number };
  polls: number;
  done: boolean;
}

function randomToken(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  let binary = "";
  for (const byte of buffer) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

// Computed here rather than with src/auth/pkce.ts, so that a bug there cannot
// hide behind the fake.
async function s256(verifier: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
  );
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

function userCode(): string {
  const letters = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const chars = Array.from(bytes, (byte) => letters[byte % letters.length]);
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`;
}

function invalidGrant(description: string): GrantAnswer {
  return {
    status: 400,
    body: { error: "invalid_grant", error_description: description },
  };
}

/**
 * Starts a fake OAuth issuer on 127.0.0.1 (a free port).
 *
 * @example
 * ```ts
 * import { startFakeIssuer } from "./fake_issuer.ts";
 *
 * const issuer = await startFakeIssuer({ device: { pendingPolls: 2, interval: "0" } });
 * // ... loginWithDeviceCode({ issuer: issuer.url, onCode: () => {} }) ...
 * await issuer.close();
 * ```
 */
export async function startFakeIssuer(
  options: FakeIssuerOptions = {},
): Promise<FakeIssuer> {
  const clientId = options.clientId ?? FAKE_CODEX_CLIENT_ID;
  let identity: TokenIdentity = {
    accountId: options.accountId,
    plan: options.plan,
    email: options.email,
  };
  const grant = createRefreshGrant({
    clientId,
    identity,
    accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds,
  });
  const callbackPorts = new Set(options.callbackPorts ?? [1455, 1457]);
  const requests: RecordedIssuerRequest[] = [];
  const revokedTokens: string[] = [];
  const codes = new Map<string, PendingCode>();
  const devices = new Map<string, DeviceCode>();
  let authorizeError = options.authorizeError;
  let device: FakeDeviceLogin = { ...options.device };
  let revokeDown = false;
  let base = "";

  function registeredRedirect(uri: string | null): boolean {
    if (uri === null) return false;
    for (const port of callbackPorts) {
      if (uri === `http://localhost:${port}/auth/callback`) return true;
    }
    return false;
  }

  function redirect(
    response: ServerResponse,
    target: string,
    params: Record<string, string>,
  ): number {
    const url = new URL(target);
    for (const [key, value] of Object.entries(params)) {
      url.searchParams.set(key, value);
    }
    response.writeHead(302, { location: url.href });
    response.end();
    return 302;
  }

  function json(response: ServerResponse, answer: GrantAnswer): number {
    response.writeHead(answer.status, { "content-type": "application/json" });
    response.end(JSON.stringify(answer.body));
    return answer.status;
  }

  function authorize(query: URLSearchParams, response: ServerResponse): number {
    if (query.get("client_id") !== clientId) {
      return json(response, {
        status: 400,
        body: {
          error: "invalid_client",
          error_description: "Unknown client_id",
        },
      });
    }
    const redirectUri = query.get("redirect_uri");
    if (!registeredRedirect(redirectUri)) {
      return json(response, {
        status: 400,
        body: {
          error: "invalid_request",
          error_description: "redirect_uri is not registered for this client",
        },
      });
    }
    const state = query.get("state");
    if (state === null || state === "") {
      return json(response, {
        status: 400,
        body: { error: "invalid_request", error_description: "Missing state" },
      });
    }
    const scopes = (query.get("scope") ?? "").split(" ");
    const fault = query.get("response_type") !== "code"
      ? "response_type must be code"
      : !/^[A-Za-z0-9_-]{43}$/.test(query.get("code_challenge") ?? "")
      ? "code_challenge must be a base64url SHA-256"
      : query.get("code_challenge_method") !== "S256"
      ? "code_challenge_method must be S256"
      : !scopes.includes("openid") || !scopes.includes("offline_access")
      ? "scope must include openid and offline_access"
      : undefined;
    if (fault !== undefined) {
      return redirect(response, redirectUri!, {
        error: "invalid_request",
        error_description: fault,
        state,
      });
    }
    if (authorizeError !== undefined) {
      const params: Record<string, string> = {
        error: authorizeError.error,
        state,
      };
      if (authorizeError.description !== undefined) {
        params.error_description = authorizeError.description;
      }
      return redirect(response, redirectUri!, params);
    }
    const code = `ac_${randomToken(24)}`;
    codes.set(code, {
      redirectUri: redirectUri!,
      challenge: query.get("code_challenge")!,
      identity: { ...identity },
    });
    return redirect(response, redirectUri!, { code, state });
  }

  async function exchange(
    fields: Record<string, string>,
  ): Promise<GrantAnswer> {
    if (fields.client_id !== clientId) {
      return {
        status: 401,
        body: {
          error: "invalid_client",
          error_description: "Unknown or missing client_id",
        },
      };
    }
    const code = fields.code ?? "";
    const pending = codes.get(code);
    if (pending === undefined) {
      return invalidGrant(
        "The authorization code is invalid, expired or already used",
      );
    }
    // Single use: the first attempt spends the code, whatever its outcome.
    codes.delete(code);
    if (fields.redirect_uri !== pending.redirectUri) {
      return invalidGrant(
        "redirect_uri does not match the one of the authorization request",
      );
    }
    const verifier = fields.code_verifier;
    if (verifier === undefined || verifier === "") {
      return {
        status: 400,
        body: {
          error: "invalid_request",
          error_description: "Missing code_verifier",
        },
      };
    }
    if (await s256(verifier) !== pending.challenge) {
      return invalidGrant(
        "PKCE verification failed: the code_verifier does not match the code_challenge",
      );
    }
    return { status: 200, body: grant.issue(pending.identity) };
  }

  function deviceCode(fields: Record<string, string> | undefined): GrantAnswer {
    if (device.enabled === false) {
      return { status: 404, body: { detail: "Not Found" } };
    }
    if (fields?.client_id !== clientId) {
      return {
        status: 400,
        body: { error: "invalid_client", error_description: "Unknown client" },
      };
    }
    const id = `deviceauth_${randomToken(12)}`;
    const code = userCode();
    devices.set(id, {
      userCode: code,
      identity: { ...identity },
      pendingPolls: device.pendingPolls ?? 0,
      outcome: device.outcome ?? "approve",
      polls: 0,
      done: false,
    });
    return {
      status: 200,
      body: {
        device_auth_id: id,
        [device.userCodeField ?? "user_code"]: code,
        interval: device.interval ?? "5",
      },
    };
  }

  async function devicePoll(
    fields: Record<string, string> | undefined,
  ): Promise<GrantAnswer> {
    const record = devices.get(fields?.device_auth_id ?? "");
    if (
      record === undefined || record.done ||
      record.userCode !== fields?.user_code
    ) {
      return {
        status: 404,
        body: { error: { message: "Device authorization not found" } },
      };
    }
    record.polls++;
    const pending = {
      status: 403,
      body: {
        error: {
          message: "Device authorization is pending",
          code: "deviceauth_authorization_pending",
        },
      },
    };
    if (record.outcome === "expire" || record.polls <= record.pendingPolls) {
      return pending;
    }
    record.done = true;
    if (typeof record.outcome === "object") {
      return {
        status: record.outcome.status,
        body: {
          error: {
            message: "Device authorization failed",
            code: "deviceauth_failed",
          },
        },
      };
    }
    const verifier = randomToken(64);
    const challenge = await s256(verifier);
    const code = `ac_${randomToken(24)}`;
    codes.set(code, {
      redirectUri: `${base}/deviceauth/callback`,
      challenge,
      identity: record.identity,
    });
    return {
      status: 200,
      body: {
        authorization_code: code,
        code_challenge: challenge,
        code_verifier: verifier,
      },
    };
  }

  function revoke(fields: Record<string, string> | undefined): GrantAnswer {
    if (fields === undefined) {
      return {
        status: 400,
        body: {
          error: "invalid_request",
          error_description: "Expected a JSON body",
        },
      };
    }
    if (fields.client_id !== clientId) {
      return {
        status: 401,
        body: { error: "invalid_client", error_description: "Unknown client" },
      };
    }
    const token = fields.token;
    if (token === undefined || token === "") {
      return {
        status: 400,
        body: { error: "invalid_request", error_description: "Missing token" },
      };
    }
    revokedTokens.push(token);
    grant.revoke(token);
    // RFC 7009: unknown tokens are answered 200 too.
    return { status: 200, body: {} };
  }

  async function handle(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    const contentType = String(request.headers["content-type"] ?? "");
    const text = await readBody(request);
    const fields = parseFields(contentType, text);
    const record: RecordedIssuerRequest = {
      method: request.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType,
      fields: fields ?? {},
      status: 0,
    };
    requests.push(record);
    const route = `${record.method} ${url.pathname}`;
    if (route === "GET /oauth/authorize") {
      record.status = authorize(url.searchParams, response);
    } else if (route === "POST /oauth/token") {
      if (grant.failure?.kind === "down") {
        request.socket.destroy();
        return;
      }
      record.status = json(
        response,
        fields?.grant_type === "authorization_code"
          ? await exchange(fields)
          : grant.decide(fields),
      );
    } else if (route === "POST /api/accounts/deviceauth/usercode") {
      record.status = json(response, deviceCode(fields));
    } else if (route === "POST /api/accounts/deviceauth/token") {
      record.status = json(response, await devicePoll(fields));
    } else if (route === "POST /oauth/revoke") {
      if (revokeDown) {
        request.socket.destroy();
        return;
      }
      record.status = json(response, revoke(fields));
    } else {
      record.status = json(response, {
        status: 404,
        body: { detail: "Not Found" },
      });
    }
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    get requests() {
      return requests;
    },
    get revokedTokens() {
      return revokedTokens;
    },
    get latestRefreshToken() {
      return grant.latestRefreshToken;
    },
    registerCallbackPort(port: number): void {
      callbackPorts.add(port);
    },
    setIdentity(next: TokenIdentity): void {
      identity = { ...next };
    },
    setAuthorizeError(error: FakeAuthorizeError | undefined): void {
      authorizeError = error;
    },
    setDevice(next: FakeDeviceLogin): void {
      device = { ...device, ...next };
    },
    setRevokeDown(down: boolean): void {
      revokeDown = down;
    },
    setRefreshFailure(failure: FakeTokenFailure | undefined): void {
      grant.failure = failure;
    },
    accepts(refreshToken: string): boolean {
      return grant.accepts(refreshToken);
    },
    isSpent(refreshToken: string): boolean {
      return grant.isSpent(refreshToken);
    },
    close(): Promise<void> {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
