/**
 * What the Codex CLI's two login flows share: the issuer and its URLs, the
 * authorize URL of the browser flow, and the exchange of an authorization
 * code (with its PKCE verifier) for the tokens of a ChatGPT login.
 *
 * The tokens, the code and the verifier are secrets: no error message holds
 * one, and text the issuer sends back is cleaned of them before it is shown.
 *
 * @module
 */

import { isLoopbackHost } from "../config.ts";
import { LoginError } from "../errors.ts";
import { isRecord, nonEmptyString } from "../json.ts";
import {
  describeRefusal,
  issuerReason,
  IssuerUnreachable,
  postToIssuer,
} from "./_issuer_http.ts";
import { PKCE_METHOD } from "./pkce.ts";
import { CODEX_CLIENT_ID } from "./refresh.ts";

/** The OAuth issuer of ChatGPT logins. */
export const DEFAULT_ISSUER = "https://auth.openai.com";

/** `originator` of the authorize request, as the Codex CLI sends it. */
export const DEFAULT_ORIGINATOR = "codex_cli_rs";

/** Scopes of the Codex CLI's login. */
export const LOGIN_SCOPE = "openid profile email offline_access";

/** Path of the browser flow's callback on the local server. */
export const CALLBACK_PATH = "/auth/callback";

/**
 * Ports of the redirects the issuer has registered for the Codex CLI:
 * 1455, then 1457 as fallback.
 */
export const DEFAULT_CALLBACK_PORTS: readonly number[] = [1455, 1457];

/** Default bound of one call to the issuer, in milliseconds. */
export const DEFAULT_ISSUER_TIMEOUT_MS = 30_000;

/** The tokens of a fresh ChatGPT login. Secrets: never log them. */
export interface LoginTokens {
  /** Id token (carries the email and the ChatGPT account id). */
  idToken: string;
  /** Access token for the backend. */
  accessToken: string;
  /** Single-use refresh token. */
  refreshToken: string;
}

/** Options shared by every call to the issuer. */
export interface IssuerOptions {
  /** Issuer base URL (default `https://auth.openai.com`); plain http only for loopback hosts. */
  issuer?: string;
  /** OAuth client id (default: the Codex CLI's). */
  clientId?: string;
  /** `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** Aborts the call; the login then fails with `login_cancelled`. */
  signal?: AbortSignal;
  /** Bound of each call to the issuer, in milliseconds (default 30000). */
  requestTimeoutMs?: number;
}

function invalidIssuer(found: string): LoginError {
  return new LoginError(
    "login_issuer_invalid",
    `Invalid OAuth issuer: expected an https URL without query or credentials (plain http only for 127.0.0.1, localhost or ::1), found ${found}`,
  );
}

/**
 * Validates an issuer base URL and returns it without a trailing slash:
 * https, or plain http for a loopback host; no credentials, query or
 * fragment. `undefined` or an empty string gives the default issuer.
 *
 * Throws `LoginError` (`login_issuer_invalid`).
 *
 * @example
 * ```ts
 * import { parseIssuer } from "./oauth.ts";
 * console.log(parseIssuer(undefined)); // "https://auth.openai.com"
 * console.log(parseIssuer("http://127.0.0.1:8080/")); // "http://127.0.0.1:8080"
 * ```
 */
export function parseIssuer(value: string | undefined): string {
  const text = value?.trim() ?? "";
  if (text === "") return DEFAULT_ISSUER;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidIssuer("a value that is not a URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalidIssuer(`a ${url.protocol} URL`);
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw invalidIssuer(`plain http to ${url.hostname}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw invalidIssuer("a URL with a user name or password");
  }
  if (url.search !== "" || url.hash !== "") {
    throw invalidIssuer("a URL with a query or fragment");
  }
  return url.href.replace(/\/+$/, "");
}

/**
 * The redirect URI of the browser flow for a callback server on `port`:
 * `http://localhost:<port>/auth/callback` (the issuer registers `localhost`,
 * not `127.0.0.1`).
 *
 * @example
 * ```ts
 * import { loginRedirectUri } from "./oauth.ts";
 * console.log(loginRedirectUri(1455)); // "http://localhost:1455/auth/callback"
 * ```
 */
export function loginRedirectUri(port: number): string {
  return `http://localhost:${port}${CALLBACK_PATH}`;
}

/** Parameters of {@linkcode buildAuthorizeUrl}. */
export interface AuthorizeUrlParams {
  /** Issuer base URL (default `https://auth.openai.com`). */
  issuer?: string;
  /** OAuth client id (default: the Codex CLI's). */
  clientId?: string;
  /** Where the issuer sends the browser back, see {@linkcode loginRedirectUri}. */
  redirectUri: string;
  /** S256 PKCE challenge. */
  codeChallenge: string;
  /** The login's `state`. */
  state: string;
  /** `originator` (default `codex_cli_rs`). */
  originator?: string;
  /** Space-separated scopes (default `openid profile email offline_access`). */
  scope?: string;
}

/**
 * The authorize URL of the browser flow, with the Codex CLI's parameters in
 * its order; values are percent-encoded (spaces as `%20`, never `+`).
 *
 * @example
 * ```ts
 * import { buildAuthorizeUrl } from "./oauth.ts";
 * const url = buildAuthorizeUrl({
 *   redirectUri: "http://localhost:1455/auth/callback",
 *   codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
 *   state: "xyz",
 * });
 * console.log(url.startsWith("https://auth.openai.com/oauth/authorize?response_type=code&")); // true
 * ```
 */
export function buildAuthorizeUrl(params: AuthorizeUrlParams): string {
  const query: Array<[string, string]> = [
    ["response_type", "code"],
    ["client_id", params.clientId ?? CODEX_CLIENT_ID],
    ["redirect_uri", params.redirectUri],
    ["scope", params.scope ?? LOGIN_SCOPE],
    ["code_challenge", params.codeChallenge],
    ["code_challenge_method", PKCE_METHOD],
    ["id_token_add_organizations", "true"],
    ["codex_cli_simplified_flow", "true"],
    ["state", params.state],
    ["originator", params.originator ?? DEFAULT_ORIGINATOR],
  ];
  const encoded = query.map(([key, value]) =>
    `${key}=${encodeURIComponent(value)}`
  ).join("&");
  return `${parseIssuer(params.issuer)}/oauth/authorize?${encoded}`;
}

/** An authorization code to exchange, with what must go along with it. */
export interface CodeExchange {
  /** The authorization code. */
  code: string;
  /** The redirect URI of the authorize request (or the device flow's). */
  redirectUri: string;
  /** The PKCE verifier whose challenge the issuer holds. */
  codeVerifier: string;
}

function missingTokens(body: Record<string, unknown>): string[] {
  return ["id_token", "access_token", "refresh_token"].filter((name) =>
    nonEmptyString(body[name]) === undefined
  );
}

/**
 * Exchanges an authorization code: POST `<issuer>/oauth/token`,
 * form-encoded `grant_type=authorization_code`, `code`, `redirect_uri`,
 * `client_id`, `code_verifier`; returns the three tokens.
 *
 * Throws `LoginError`: `login_exchange_failed` (a refusal, with the issuer's
 * `error_description`, else `error.message`, else `error`, and its code in
 * `reason`; no answer; an answer without the three tokens),
 * `login_cancelled` (the signal aborted), `login_issuer_invalid`.
 *
 * @example
 * ```ts
 * import { exchangeAuthorizationCode } from "./oauth.ts";
 * const tokens = await exchangeAuthorizationCode({
 *   code: "ac_...",
 *   redirectUri: "http://localhost:1455/auth/callback",
 *   codeVerifier: "...",
 * });
 * console.log(tokens.refreshToken !== "");
 * ```
 */
export async function exchangeAuthorizationCode(
  exchange: CodeExchange,
  options: IssuerOptions = {},
): Promise<LoginTokens> {
  const issuer = parseIssuer(options.issuer);
  const tokenUrl = `${issuer}/oauth/token`;
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_ISSUER_TIMEOUT_MS;
  const secrets = [exchange.code, exchange.codeVerifier];
  let answer;
  try {
    answer = await postToIssuer(
      tokenUrl,
      new URLSearchParams({
        grant_type: "authorization_code",
        code: exchange.code,
        redirect_uri: exchange.redirectUri,
        client_id: options.clientId ?? CODEX_CLIENT_ID,
        code_verifier: exchange.codeVerifier,
      }),
      { timeoutMs, signal: options.signal, fetch: options.fetch },
    );
  } catch (error) {
    if (!(error instanceof IssuerUnreachable)) throw error;
    if (error.kind === "aborted") {
      throw new LoginError(
        "login_cancelled",
        "Login cancelled while the authorization code was being exchanged",
      );
    }
    throw new LoginError(
      "login_exchange_failed",
      `Login failed: expected an answer from ${tokenUrl} to the code exchange${
        error.kind === "timeout" ? ` within ${timeoutMs} ms` : ""
      }, found ${
        error.kind === "timeout" ? "none" : "a network error"
      }. Check the connection and log in again`,
      { cause: error.cause },
    );
  }
  if (answer.status < 200 || answer.status > 299) {
    throw new LoginError(
      "login_exchange_failed",
      `Login failed: the issuer refused the authorization code, ${
        describeRefusal(answer, secrets)
      }. Log in again`,
      { reason: issuerReason(answer.body), status: answer.status },
    );
  }
  const body = answer.body;
  if (!isRecord(body)) {
    throw new LoginError(
      "login_exchange_failed",
      `Login failed: expected a JSON object from ${tokenUrl}, found ${
        body === undefined ? "text that is not JSON" : "another JSON value"
      }`,
      { status: answer.status },
    );
  }
  const missing = missingTokens(body);
  if (missing.length > 0) {
    throw new LoginError(
      "login_exchange_failed",
      `Login failed: expected id_token, access_token and refresh_token from ${tokenUrl}, found no ${
        missing.join(", no ")
      }`,
      { status: answer.status },
    );
  }
  return {
    idToken: body.id_token as string,
    accessToken: body.access_token as string,
    refreshToken: body.refresh_token as string,
  };
}
