/**
 * The Codex CLI's browser login (authorization code + PKCE), done by the
 * provider itself: a callback server on 127.0.0.1 (port 1455, else 1457),
 * the authorize URL for the seller's browser, the check of the callback's
 * `state`, and the exchange of the code for the login's tokens.
 *
 * The server answers only `GET /auth/callback`. A callback whose `state` is
 * not this login's is answered 400 `State mismatch` and changes nothing (it
 * may come from a tab of an older attempt or from another web page); the
 * login keeps waiting. The first callback with the right state decides: an
 * `error` fails the login (`login_denied`), a `code` is exchanged. The
 * browser gets a small HTML page saying how it went, never a token. The
 * server is closed on every path (success, failure, timeout, cancel) before
 * the login's promise settles.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { LoginError, systemErrorCode } from "../errors.ts";
import { describeDuration } from "./_duration.ts";
import { cleanIssuerText } from "./_issuer_http.ts";
import { openInBrowser } from "./open_browser.ts";
import {
  buildAuthorizeUrl,
  CALLBACK_PATH,
  DEFAULT_CALLBACK_PORTS,
  exchangeAuthorizationCode,
  type IssuerOptions,
  loginRedirectUri,
  type LoginTokens,
  parseIssuer,
} from "./oauth.ts";
import { createPkce, createState } from "./pkce.ts";

/** Default bound of a browser login, in milliseconds (10 minutes). */
export const DEFAULT_BROWSER_LOGIN_TIMEOUT_MS = 10 * 60_000;

/** Options of {@linkcode startBrowserLogin}. */
export interface BrowserLoginOptions extends IssuerOptions {
  /**
   * Ports to try for the callback server on 127.0.0.1, in order; a port in
   * use is skipped (default `[1455, 1457]`, the only ones the real issuer
   * accepts). `0` takes any free port (tests). The redirect URI names the
   * port bound.
   */
  ports?: readonly number[];
  /** How long to wait for the browser to come back, in milliseconds (default 10 minutes). */
  timeoutMs?: number;
  /** `originator` of the authorize request (default `codex_cli_rs`). */
  originator?: string;
  /**
   * Called once with the authorize URL when the server listens. Best effort:
   * what it throws or rejects with is ignored. Default
   * {@linkcode openInBrowser}; pass `() => {}` to open nothing (tests,
   * headless machines).
   */
  openBrowser?: (url: string) => unknown;
}

/** A browser login in progress. */
export interface BrowserLogin {
  /** The URL the seller opens to sign in (holds no secret but the login's state). */
  readonly authorizeUrl: string;
  /** `http://localhost:<port>/auth/callback`. */
  readonly redirectUri: string;
  /** The port of the callback server on 127.0.0.1. */
  readonly port: number;
  /**
   * The login's tokens once the browser came back and the code was
   * exchanged. Rejects with a `LoginError`: `login_denied` (the issuer
   * answered an error, e.g. `missing_codex_entitlement`, in `reason`),
   * `login_code_missing`, `login_exchange_failed`, `login_timeout`,
   * `login_state_mismatch` (timed out, and only callbacks with another state
   * came), `login_cancelled`.
   */
  readonly tokens: Promise<LoginTokens>;
  /** Gives up: closes the server; `tokens` rejects with `login_cancelled`. */
  cancel(): void;
}

type Outcome =
  | { ok: true; tokens: LoginTokens }
  | { ok: false; error: LoginError };

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

function page(title: string, text: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${
    escapeHtml(title)
  }</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto">
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(text)}</p>
</body></html>
`;
}

const SUCCESS_PAGE = page(
  "Signed in",
  "The provider has your ChatGPT login. You can close this tab and go back to the terminal.",
);

function failurePage(error: LoginError): string {
  return page("Sign-in failed", `${error.message}.`);
}

function deniedError(error: string, description: string | null): LoginError {
  const reason = /^[A-Za-z0-9_.:-]{1,80}$/.test(error) ? error : "unknown";
  const said = description === null || description.trim() === ""
    ? ""
    : `: ${cleanIssuerText(description)}`;
  if (reason === "missing_codex_entitlement") {
    return new LoginError(
      "login_denied",
      `Login refused by the issuer (missing_codex_entitlement${said}): Codex is not enabled for this ChatGPT workspace. ` +
        `Ask the workspace admin to enable Codex, or sign in with another account`,
      { reason },
    );
  }
  return new LoginError(
    "login_denied",
    `Login refused by the issuer (${reason}${said}). Log in again`,
    { reason },
  );
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => reject(error);
    server.once("error", onError);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Starts a browser login: binds the callback server, builds the authorize
 * URL (fresh PKCE pair and state), hands it to `openBrowser`, and returns
 * at once; await `tokens` for the outcome.
 *
 * Throws `LoginError` (`login_port_unavailable` when no port could be
 * bound, `login_issuer_invalid`).
 *
 * @example
 * ```ts
 * import { startBrowserLogin } from "./login_browser.ts";
 *
 * const login = await startBrowserLogin();
 * console.log(`Sign in at ${login.authorizeUrl}`);
 * const tokens = await login.tokens;
 * ```
 */
export async function startBrowserLogin(
  options: BrowserLoginOptions = {},
): Promise<BrowserLogin> {
  const issuer = parseIssuer(options.issuer);
  const timeoutMs = options.timeoutMs ?? DEFAULT_BROWSER_LOGIN_TIMEOUT_MS;
  const pkce = await createPkce();
  const state = createState();
  let redirectUri = "";
  let stage: "waiting" | "exchanging" | "done" = "waiting";
  let mismatches = 0;
  let settle: (outcome: Outcome) => void = () => {};
  const outcome = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  const exchange = new AbortController();

  async function onCallback(
    url: URL,
  ): Promise<{ status: number; body: string; html: boolean; then?: Outcome }> {
    if (url.searchParams.get("state") !== state) {
      mismatches++;
      return { status: 400, body: "State mismatch", html: false };
    }
    if (stage !== "waiting") {
      return {
        status: 409,
        html: true,
        body: page(
          "Sign-in already handled",
          "This login has already received its answer. Go back to the terminal.",
        ),
      };
    }
    const error = url.searchParams.get("error");
    if (error !== null) {
      const failure = deniedError(
        error,
        url.searchParams.get("error_description"),
      );
      return {
        status: 403,
        html: true,
        body: failurePage(failure),
        then: { ok: false, error: failure },
      };
    }
    const code = url.searchParams.get("code");
    if (code === null || code === "") {
      const failure = new LoginError(
        "login_code_missing",
        `Login failed: expected the browser to come back with an authorization code, found none. Log in again`,
      );
      return {
        status: 400,
        html: true,
        body: failurePage(failure),
        then: { ok: false, error: failure },
      };
    }
    stage = "exchanging";
    try {
      const tokens = await exchangeAuthorizationCode({
        code,
        redirectUri,
        codeVerifier: pkce.verifier,
      }, {
        issuer,
        clientId: options.clientId,
        fetch: options.fetch,
        requestTimeoutMs: options.requestTimeoutMs,
        signal: exchange.signal,
      });
      return {
        status: 200,
        html: true,
        body: SUCCESS_PAGE,
        then: { ok: true, tokens },
      };
    } catch (error) {
      const failure = error instanceof LoginError ? error : new LoginError(
        "login_exchange_failed",
        "Login failed: the authorization code could not be exchanged",
        { cause: error },
      );
      return {
        status: 502,
        html: true,
        body: failurePage(failure),
        then: { ok: false, error: failure },
      };
    }
  }

  function answer(
    response: ServerResponse,
    reply: { status: number; body: string; html: boolean; then?: Outcome },
  ): void {
    const then = reply.then;
    if (then !== undefined) stage = "done";
    response.writeHead(reply.status, {
      "content-type": reply.html
        ? "text/html; charset=utf-8"
        : "text/plain; charset=utf-8",
      "cache-control": "no-store",
      connection: "close",
    });
    if (then === undefined) {
      response.end(reply.body);
      return;
    }
    // Settle once the browser has its page, or at once when it is gone (the
    // tab was closed during the exchange): the outcome must not wait for it.
    const done = () => settle(then);
    if (response.destroyed || !response.socket || response.socket.destroyed) {
      done();
      return;
    }
    response.once("close", done);
    response.end(reply.body, done);
  }

  async function handle(
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> {
    const url = new URL(request.url ?? "/", "http://localhost");
    if (url.pathname !== CALLBACK_PATH) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("Not found");
      return;
    }
    if (request.method !== "GET") {
      response.writeHead(405, { allow: "GET" });
      response.end();
      return;
    }
    request.resume();
    answer(response, await onCallback(url));
  }

  function makeServer(): Server {
    return createServer((request, response) => {
      handle(request, response).catch(() => {
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
  }

  const ports = options.ports ?? DEFAULT_CALLBACK_PORTS;
  let server: Server | undefined;
  let port = 0;
  const busy: string[] = [];
  for (const candidate of ports) {
    const attempt = makeServer();
    try {
      port = await listen(attempt, candidate);
      server = attempt;
      break;
    } catch (error) {
      busy.push(`${candidate} (${systemErrorCode(error) ?? "error"})`);
    }
  }
  if (server === undefined) {
    throw new LoginError(
      "login_port_unavailable",
      `Cannot start the login callback server: expected a free port on 127.0.0.1 among ${
        ports.join(", ")
      }, found ${busy.join(", ")}. ` +
        `Finish or stop the other login (another "codex login"?), or use the device login`,
    );
  }
  const boundServer = server;
  redirectUri = loginRedirectUri(port);
  const authorizeUrl = buildAuthorizeUrl({
    issuer,
    clientId: options.clientId,
    redirectUri,
    codeChallenge: pkce.challenge,
    state,
    originator: options.originator,
  });

  const timer = setTimeout(() => {
    const error = mismatches > 0
      ? new LoginError(
        "login_state_mismatch",
        `Login did not complete within ${
          describeDuration(timeoutMs)
        }: expected the browser to come back to ${redirectUri} with this login's state, found only callbacks with another state (a tab of an older login?). ` +
          `Log in again and use the newest link`,
      )
      : new LoginError(
        "login_timeout",
        `Login did not complete within ${
          describeDuration(timeoutMs)
        }: expected the browser to come back to ${redirectUri}, found no callback. ` +
          `Log in again, or use the device login on a machine without a browser`,
      );
    settle({ ok: false, error });
  }, timeoutMs);
  function cancel(): void {
    settle({
      ok: false,
      error: new LoginError("login_cancelled", "Login cancelled"),
    });
  }
  const signal = options.signal;
  if (signal?.aborted) cancel();
  else signal?.addEventListener("abort", cancel, { once: true });

  const tokens = outcome.then(async (result) => {
    stage = "done";
    clearTimeout(timer);
    signal?.removeEventListener("abort", cancel);
    exchange.abort();
    await closeServer(boundServer);
    if (!result.ok) throw result.error;
    return result.tokens;
  });
  // The caller may give up without awaiting; that is not an unhandled error.
  tokens.catch(() => {});

  const opener = options.openBrowser ?? openInBrowser;
  Promise.resolve().then(() => opener(authorizeUrl)).catch(() => {});

  return { authorizeUrl, redirectUri, port, tokens, cancel };
}
