// The provider's own login flows (browser with PKCE, device code) and the
// revoke, end to end against the simulated issuer; the test plays the
// browser. A saved login then serves a request through the provider.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn as nodeSpawn } from "node:child_process";
import { readFile, stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";
import {
  accountAuthFile,
  listAccounts,
  removeAccount,
  saveNewAccount,
} from "../src/auth/accounts.ts";
import { readCredentials } from "../src/auth/auth_file.ts";
import {
  type BrowserLogin,
  type BrowserLoginOptions,
  startBrowserLogin,
} from "../src/auth/login_browser.ts";
import {
  type DeviceCodePrompt,
  type DeviceLoginOptions,
  loginWithDeviceCode,
} from "../src/auth/login_device.ts";
import {
  buildAuthorizeUrl,
  exchangeAuthorizationCode,
  loginRedirectUri,
  parseIssuer,
} from "../src/auth/oauth.ts";
import {
  browserCommand,
  openInBrowser,
  type SpawnFunction,
} from "../src/auth/open_browser.ts";
import { createPkce, createState, pkceChallenge } from "../src/auth/pkce.ts";
import { revokeRefreshToken } from "../src/auth/revoke.ts";
import { LoginError } from "../src/errors.ts";
import { createProvider } from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeIssuer,
  type FakeIssuerOptions,
  startFakeIssuer,
} from "../src/testing/fake_issuer.ts";
import { FAKE_CODEX_CLIENT_ID } from "../src/testing/fake_token_endpoint.ts";
import { callProvider } from "./fakes/seller_node.ts";
import {
  assertNoSecrets,
  type TempDir,
  tempDir,
} from "./fixtures/auth_helpers.ts";

const EMAIL = "seller.login@example.com";
const ACCOUNT = "acct_login_1";

let dir: TempDir;
before(async () => {
  dir = await tempDir("auth-oauth-");
});
after(async () => {
  await dir.cleanup();
});

async function withIssuer(
  test: (issuer: FakeIssuer) => Promise<void>,
  options: FakeIssuerOptions = {},
): Promise<void> {
  const issuer = await startFakeIssuer({
    accountId: ACCOUNT,
    plan: "pro",
    email: EMAIL,
    ...options,
  });
  try {
    await test(issuer);
  } finally {
    await issuer.close();
  }
}

/** Every secret the issuer saw or handed out, and the login's email. */
function secretsOf(issuer: FakeIssuer, login?: BrowserLogin): string[] {
  const secrets = new Set<string>([EMAIL]);
  for (const request of issuer.requests) {
    for (
      const key of [
        "code",
        "code_verifier",
        "refresh_token",
        "token",
        "device_auth_id",
        "user_code",
      ]
    ) {
      const value = request.fields[key];
      if (value) secrets.add(value);
    }
  }
  if (issuer.latestRefreshToken) secrets.add(issuer.latestRefreshToken);
  if (login) {
    secrets.add(new URL(login.authorizeUrl).searchParams.get("state")!);
  }
  return [...secrets];
}

/** The codes the issuer redirected the browser with, collected by playBrowser. */
const redirectedCodes: string[] = [];

interface BrowserVisit {
  status: number;
  text: string;
  contentType: string;
}

/**
 * Plays the browser: GETs the authorize URL without following redirects,
 * then GETs the Location (the callback), after `tamper` changed it.
 */
async function playBrowser(
  authorizeUrl: string,
  tamper: (callback: URL) => void = () => {},
): Promise<BrowserVisit> {
  const answer = await fetch(authorizeUrl, { redirect: "manual" });
  await answer.body?.cancel();
  assert.equal(answer.status, 302, "the issuer redirects the browser");
  const callback = new URL(answer.headers.get("location")!);
  const code = callback.searchParams.get("code");
  if (code) redirectedCodes.push(code);
  tamper(callback);
  const visit = await fetch(callback.href);
  return {
    status: visit.status,
    text: await visit.text(),
    contentType: visit.headers.get("content-type") ?? "",
  };
}

function noBrowser(): void {}

async function startLogin(
  issuer: FakeIssuer,
  options: BrowserLoginOptions = {},
): Promise<BrowserLogin> {
  const login = await startBrowserLogin({
    issuer: issuer.url,
    ports: [0],
    openBrowser: noBrowser,
    ...options,
  });
  issuer.registerCallbackPort(login.port);
  return login;
}

/** Resolves with the error `promise` rejects with (fails if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<LoginError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LoginError, `a LoginError, found ${error}`);
    return error;
  }
  assert.fail("expected a rejection");
}

/** Resolves when nothing listens on 127.0.0.1:`port` any more. */
async function assertClosed(port: number): Promise<void> {
  const refused = await new Promise<boolean>((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
  assert.ok(refused, `the callback server on ${port} is closed`);
}

function callbackVisit(login: BrowserLogin, query: Record<string, string>) {
  const url = new URL(login.redirectUri);
  url.hostname = "127.0.0.1";
  for (const [key, value] of Object.entries(query)) {
    url.searchParams.set(key, value);
  }
  return fetch(url);
}

describe("PKCE and state", () => {
  it("computes the S256 challenge of RFC 7636's example", async () => {
    assert.equal(
      await pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes a verifier of 64 random bytes in base64url with its challenge", async () => {
    const pkce = await createPkce();
    assert.match(pkce.verifier, /^[A-Za-z0-9_-]{86}$/);
    assert.equal(pkce.challenge, await pkceChallenge(pkce.verifier));
    assert.equal(pkce.method, "S256");
    assert.notEqual((await createPkce()).verifier, pkce.verifier);
  });

  it("makes a state of 32 random bytes in base64url", () => {
    assert.match(createState(), /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(createState(), createState());
  });
});

describe("authorize URL and issuer", () => {
  it("builds the Codex CLI's authorize URL, spaces as %20", () => {
    const url = buildAuthorizeUrl({
      redirectUri: loginRedirectUri(1455),
      codeChallenge: "CHALLENGE",
      state: "STATE",
    });
    assert.equal(
      url,
      "https://auth.openai.com/oauth/authorize?response_type=code" +
        "&client_id=app_EMoamEEZ73f0CkXaXp7hrann" +
        "&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback" +
        "&scope=openid%20profile%20email%20offline_access" +
        "&code_challenge=CHALLENGE&code_challenge_method=S256" +
        "&id_token_add_organizations=true&codex_cli_simplified_flow=true" +
        "&state=STATE&originator=codex_cli_rs",
    );
    assert.ok(!url.includes("+"));
  });

  it("accepts https issuers and plain http only on loopback", () => {
    assert.equal(parseIssuer(undefined), "https://auth.openai.com");
    assert.equal(parseIssuer(" "), "https://auth.openai.com");
    assert.equal(parseIssuer("https://auth.example/"), "https://auth.example");
    assert.equal(parseIssuer("http://127.0.0.1:9/"), "http://127.0.0.1:9");
    assert.equal(parseIssuer("http://localhost:9"), "http://localhost:9");
    for (
      const bad of [
        "http://auth.example",
        "ftp://auth.example",
        "https://user:pw@auth.example",
        "https://auth.example/?x=1",
        "not a url",
      ]
    ) {
      assert.throws(
        () => parseIssuer(bad),
        (error: unknown) =>
          error instanceof LoginError && error.code === "login_issuer_invalid",
        bad,
      );
    }
  });
});

describe("browser login", () => {
  let backend: FakeCodexBackend;
  before(async () => {
    backend = await startFakeCodexBackend();
  });
  after(async () => {
    await backend.close();
  });

  it("logs in end to end, writes the account in the Codex format, and the provider serves with it", () =>
    withIssuer(async (issuer) => {
      const opened: string[] = [];
      const login = await startLogin(issuer, {
        openBrowser: (url) => opened.push(url),
      });
      assert.equal(
        login.redirectUri,
        `http://localhost:${login.port}/auth/callback`,
      );
      const visit = await playBrowser(login.authorizeUrl);
      assert.equal(visit.status, 200);
      assert.match(visit.contentType, /^text\/html/);
      assert.match(visit.text, /Signed in/);
      const tokens = await login.tokens;
      assert.deepEqual(opened, [login.authorizeUrl]);
      for (const secret of Object.values(tokens)) {
        assert.ok(!visit.text.includes(secret), "no token in the page");
      }

      // What went to the issuer: the authorize query and a form-encoded exchange.
      const authorize = issuer.requests.find((r) =>
        r.path === "/oauth/authorize"
      )!;
      assert.equal(authorize.query.redirect_uri, login.redirectUri);
      assert.equal(authorize.query.originator, "codex_cli_rs");
      const exchange = issuer.requests.find((r) => r.path === "/oauth/token")!;
      assert.equal(exchange.contentType, "application/x-www-form-urlencoded");
      assert.equal(exchange.fields.grant_type, "authorization_code");
      assert.equal(exchange.fields.redirect_uri, login.redirectUri);
      assert.equal(exchange.fields.client_id, FAKE_CODEX_CLIENT_ID);
      assert.equal(
        await pkceChallenge(exchange.fields.code_verifier),
        authorize.query.code_challenge,
      );
      await assertClosed(login.port);

      const home = join(dir.path, "browser-e2e");
      const saved = await saveNewAccount(home, "work", tokens);
      assert.equal(saved.accountId, ACCOUNT);
      const authFile = accountAuthFile(home, "work");
      assert.equal((await stat(authFile)).mode & 0o777, 0o600);
      assert.equal(
        (await stat(join(home, "accounts", "work"))).mode & 0o777,
        0o700,
      );
      const text = await readFile(authFile, "utf8");
      const document = JSON.parse(text);
      assert.equal(text, JSON.stringify(document, null, 2), "pretty JSON");
      assert.deepEqual(Object.keys(document), [
        "auth_mode",
        "OPENAI_API_KEY",
        "tokens",
        "last_refresh",
      ]);
      assert.equal(document.auth_mode, "chatgpt");
      assert.equal(document.OPENAI_API_KEY, null);
      assert.deepEqual(document.tokens, {
        id_token: tokens.idToken,
        access_token: tokens.accessToken,
        refresh_token: tokens.refreshToken,
        account_id: ACCOUNT,
      });
      assert.match(
        document.last_refresh,
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/,
      );

      const provider = createProvider({
        OPENAI_RESPONSES_AUTH_FILE: authFile,
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: `${issuer.url}/oauth/token`,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, { random: () => 0 });
      await provider.init();
      const result = await callProvider(provider, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(result.status, 200, result.text);
      const sent = backend.requests.at(-1)!.headers;
      assert.equal(sent.authorization, `Bearer ${tokens.accessToken}`);
      assert.equal(sent["chatgpt-account-id"], ACCOUNT);

      // The saved login refreshes against the issuer like a codex login.
      await provider.tokens.forceRefresh();
      assert.ok(issuer.isSpent(tokens.refreshToken));
      const after = await readCredentials(authFile);
      assert.equal(after.refreshToken, issuer.latestRefreshToken);
      assert.equal((await stat(authFile)).mode & 0o777, 0o600);
    }));

  it("answers a callback with another state 400 State mismatch and keeps waiting", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer);
      const stray = await playBrowser(login.authorizeUrl, (callback) => {
        callback.searchParams.set("state", "someone-elses-state");
      });
      assert.equal(stray.status, 400);
      assert.equal(stray.text, "State mismatch");
      assert.equal(
        issuer.requests.filter((r) => r.path === "/oauth/token").length,
        0,
        "the code is not exchanged",
      );
      // The right callback still completes the login.
      const visit = await playBrowser(login.authorizeUrl);
      assert.equal(visit.status, 200);
      await login.tokens;
    }));

  it("fails with login_state_mismatch when only wrong-state callbacks came, and nothing is written", () =>
    withIssuer(async (issuer) => {
      const home = join(dir.path, "mismatch");
      const login = await startLogin(issuer, { timeoutMs: 300 });
      const stray = await playBrowser(login.authorizeUrl, (callback) => {
        callback.searchParams.set("state", "older-attempt");
      });
      assert.equal(stray.status, 400);
      const error = await rejection(login.tokens);
      assert.equal(error.code, "login_state_mismatch");
      assert.match(error.message, /another state/);
      assertNoSecrets(error, secretsOf(issuer, login));
      await assertClosed(login.port);
      assert.deepEqual(await listAccounts(home), []);
      await assert.rejects(stat(home));
    }));

  it("reports a code exchanged with the wrong verifier as refused by the issuer", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer);
      // The issuer gets a challenge that does not match the flow's verifier.
      const url = new URL(login.authorizeUrl);
      url.searchParams.set(
        "code_challenge",
        await pkceChallenge("a-different-verifier-".repeat(4)),
      );
      const visit = await playBrowser(url.href);
      assert.equal(visit.status, 502);
      assert.match(visit.text, /Sign-in failed/);
      const error = await rejection(login.tokens);
      assert.equal(error.code, "login_exchange_failed");
      assert.equal(error.reason, "invalid_grant");
      assert.equal(error.status, 400);
      assert.match(error.message, /refused the authorization code/);
      assert.match(error.message, /code_verifier does not match/);
      assertNoSecrets(error, [...secretsOf(issuer, login), ...redirectedCodes]);
      assertNoSecrets(new Error(visit.text), secretsOf(issuer, login));
      await assertClosed(login.port);
    }));

  it("reports missing_codex_entitlement clearly", () =>
    withIssuer(async (issuer) => {
      issuer.setAuthorizeError({
        error: "missing_codex_entitlement",
        description: "Codex is not enabled for your workspace",
      });
      const login = await startLogin(issuer);
      const visit = await playBrowser(login.authorizeUrl);
      assert.equal(visit.status, 403);
      const error = await rejection(login.tokens);
      assert.equal(error.code, "login_denied");
      assert.equal(error.reason, "missing_codex_entitlement");
      assert.match(
        error.message,
        /Codex is not enabled for this ChatGPT workspace/,
      );
      assert.match(visit.text, /Codex is not enabled/);
      assertNoSecrets(error, secretsOf(issuer, login));
      await assertClosed(login.port);
    }));

  it("fails with login_code_missing when the right state comes without a code", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer);
      const state = new URL(login.authorizeUrl).searchParams.get("state")!;
      const visit = await callbackVisit(login, { state });
      assert.equal(visit.status, 400);
      await visit.body?.cancel();
      const error = await rejection(login.tokens);
      assert.equal(error.code, "login_code_missing");
      await assertClosed(login.port);
    }));

  it("times out with a clear message and closes the server", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer, { timeoutMs: 50 });
      const error = await rejection(login.tokens);
      assert.equal(error.code, "login_timeout");
      assert.match(error.message, /did not complete within 50 ms/);
      await assertClosed(login.port);
    }));

  it("is cancelled by cancel() or the signal, and closes the server", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer);
      login.cancel();
      assert.equal((await rejection(login.tokens)).code, "login_cancelled");
      await assertClosed(login.port);
      const controller = new AbortController();
      const second = await startLogin(issuer, { signal: controller.signal });
      controller.abort();
      assert.equal((await rejection(second.tokens)).code, "login_cancelled");
      await assertClosed(second.port);
    }));

  it("answers 404 on other paths and keeps waiting", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer);
      const other = await fetch(`http://127.0.0.1:${login.port}/`);
      assert.equal(other.status, 404);
      await other.body?.cancel();
      assert.equal((await playBrowser(login.authorizeUrl)).status, 200);
      await login.tokens;
    }));

  it("falls back to the next port when the first is taken, and names the bound one in the redirect", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) =>
      blocker.listen(0, "127.0.0.1", resolve)
    );
    const taken = (blocker.address() as AddressInfo).port;
    try {
      await withIssuer(async (issuer) => {
        const login = await startLogin(issuer, { ports: [taken, 0] });
        assert.notEqual(login.port, taken);
        assert.equal(login.redirectUri, loginRedirectUri(login.port));
        assert.equal(
          new URL(login.authorizeUrl).searchParams.get("redirect_uri"),
          login.redirectUri,
        );
        assert.equal((await playBrowser(login.authorizeUrl)).status, 200);
        await login.tokens;
        const error = await rejection(
          startBrowserLogin({
            issuer: issuer.url,
            ports: [taken],
            openBrowser: noBrowser,
          }),
        );
        assert.equal(error.code, "login_port_unavailable");
        assert.match(error.message, new RegExp(`${taken} \\(EADDRINUSE\\)`));
      });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("ignores an opener that throws", () =>
    withIssuer(async (issuer) => {
      const login = await startLogin(issuer, {
        openBrowser: () => {
          throw new Error("no browser here");
        },
      });
      assert.equal((await playBrowser(login.authorizeUrl)).status, 200);
      await login.tokens;
    }));

  it("answers a second callback during and after the code exchange 409, and exchanges the code once", () =>
    withIssuer(async (issuer) => {
      // The first exchange is held at the issuer's door until released.
      let release = () => {};
      const held = new Promise<void>((resolve) => release = resolve);
      let exchanging = () => {};
      const started = new Promise<void>((resolve) => exchanging = resolve);
      let exchanges = 0;
      const login = await startLogin(issuer, {
        fetch: async (input, init) => {
          exchanges++;
          if (exchanges === 1) {
            exchanging();
            await held;
          }
          return await fetch(input, init);
        },
      });
      try {
        const authorize = await fetch(login.authorizeUrl, {
          redirect: "manual",
        });
        await authorize.body?.cancel();
        const callback = new URL(authorize.headers.get("location")!);
        callback.hostname = "127.0.0.1";
        const first = fetch(callback).then(
          async (visit) => ({ status: visit.status, text: await visit.text() }),
          (error) => ({ status: 0, text: String(error) }),
        );
        await started;
        // The same valid callback again (a reload, a second tab, a
        // stranger who saw the URL) while the code is being exchanged.
        const during = await fetch(callback);
        await during.text();
        assert.equal(during.status, 409);
        release();
        assert.equal((await first).status, 200);
        await login.tokens;
        // Afterwards: still no second exchange (409 while the server
        // lingers, or nobody listening any more).
        const later = await fetch(callback).then(
          async (visit) => {
            await visit.text();
            return visit.status;
          },
          () => "closed",
        );
        assert.ok(later === 409 || later === "closed", `found ${later}`);
        assert.equal(exchanges, 1);
        assert.equal(
          issuer.requests.filter((r) => r.path === "/oauth/token").length,
          1,
        );
      } finally {
        release();
        login.cancel();
      }
    }));
});

describe("code exchange errors", () => {
  it("takes the message from error_description, else error.message, else error", async () => {
    const bodies: Array<[unknown, RegExp]> = [
      [
        { error: "invalid_grant", error_description: "Described" },
        /invalid_grant: Described/,
      ],
      [
        { error: { message: "Nested message", code: "bad_code" } },
        /bad_code: Nested message/,
      ],
      [{ error: "just_a_code" }, /HTTP 400 \(just_a_code\)/],
    ];
    for (const [body, expected] of bodies) {
      const fakeFetch = () =>
        Promise.resolve(new Response(JSON.stringify(body), { status: 400 }));
      const error = await rejection(exchangeAuthorizationCode({
        code: "ac_secret_code",
        redirectUri: loginRedirectUri(1455),
        codeVerifier: "secret_verifier",
      }, { fetch: fakeFetch as typeof fetch }));
      assert.equal(error.code, "login_exchange_failed");
      assert.match(error.message, expected);
    }
  });

  it("never repeats the code or the verifier the issuer echoes", async () => {
    const fakeFetch = () =>
      Promise.resolve(
        new Response(
          JSON.stringify({
            error: "invalid_grant",
            error_description:
              "code ac_secret_code with verifier secret_verifier is bad",
          }),
          { status: 400 },
        ),
      );
    const error = await rejection(exchangeAuthorizationCode({
      code: "ac_secret_code",
      redirectUri: loginRedirectUri(1455),
      codeVerifier: "secret_verifier",
    }, { fetch: fakeFetch as typeof fetch }));
    assertNoSecrets(error, ["ac_secret_code", "secret_verifier"]);
    assert.match(error.message, /\[redacted\]/);
  });

  it("refuses an answer without a refresh token", async () => {
    const fakeFetch = () =>
      Promise.resolve(
        new Response(JSON.stringify({ id_token: "a", access_token: "b" })),
      );
    const error = await rejection(exchangeAuthorizationCode({
      code: "c",
      redirectUri: loginRedirectUri(1455),
      codeVerifier: "v",
    }, { fetch: fakeFetch as typeof fetch }));
    assert.equal(error.code, "login_exchange_failed");
    assert.match(error.message, /found no refresh_token/);
  });

  it("reports an unreachable issuer", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) =>
      closed.listen(0, "127.0.0.1", resolve)
    );
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejection(exchangeAuthorizationCode({
      code: "c",
      redirectUri: loginRedirectUri(1455),
      codeVerifier: "v",
    }, { issuer: `http://127.0.0.1:${port}` }));
    assert.equal(error.code, "login_exchange_failed");
    assert.match(error.message, /found a network error/);
  });
});

describe("device login", () => {
  function deviceLogin(
    issuer: FakeIssuer,
    options: Partial<DeviceLoginOptions> = {},
  ) {
    const prompts: DeviceCodePrompt[] = [];
    const tokens = loginWithDeviceCode({
      issuer: issuer.url,
      intervalMs: 5,
      onCode: (prompt) => prompts.push(prompt),
      ...options,
    });
    return { prompts, tokens };
  }

  it("logs in after two pending polls and saves the account", () =>
    withIssuer(async (issuer) => {
      const { prompts, tokens } = deviceLogin(issuer);
      const login = await tokens;
      assert.equal(prompts.length, 1);
      assert.equal(prompts[0].verificationUrl, `${issuer.url}/codex/device`);
      const started = issuer.requests.find((r) =>
        r.path === "/api/accounts/deviceauth/usercode"
      )!;
      assert.equal(started.fields.client_id, FAKE_CODEX_CLIENT_ID);
      const polls = issuer.requests.filter((r) =>
        r.path === "/api/accounts/deviceauth/token"
      );
      assert.deepEqual(polls.map((r) => r.status), [403, 403, 200]);
      assert.equal(polls[0].fields.user_code, prompts[0].userCode);
      assert.equal(polls[0].contentType, "application/json");
      const exchange = issuer.requests.find((r) => r.path === "/oauth/token")!;
      assert.equal(
        exchange.fields.redirect_uri,
        `${issuer.url}/deviceauth/callback`,
      );
      assert.equal(exchange.contentType, "application/x-www-form-urlencoded");
      const home = join(dir.path, "device-e2e");
      const saved = await saveNewAccount(home, "headless", login);
      assert.equal(saved.accountId, ACCOUNT);
      assert.equal(
        (await readCredentials(saved.authFile)).refreshToken,
        login.refreshToken,
      );
    }, { device: { pendingPolls: 2, interval: "0" } }));

  it("reads the code from usercode when the issuer names it so", () =>
    withIssuer(async (issuer) => {
      const { prompts, tokens } = deviceLogin(issuer);
      await tokens;
      assert.match(prompts[0].userCode, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    }, { device: { userCodeField: "usercode" } }));

  it("gives up with device_code_expired when the code is never entered, and exchanges nothing", () =>
    withIssuer(async (issuer) => {
      const { tokens } = deviceLogin(issuer, { timeoutMs: 80 });
      const error = await rejection(tokens);
      assert.equal(error.code, "device_code_expired");
      assert.match(error.message, /did not complete within 80 ms/);
      assert.match(error.message, /has expired/);
      assert.ok(
        issuer.requests.filter((r) =>
          r.path === "/api/accounts/deviceauth/token"
        ).length >= 2,
      );
      assert.equal(
        issuer.requests.filter((r) => r.path === "/oauth/token").length,
        0,
      );
      assertNoSecrets(error, secretsOf(issuer));
    }, { device: { outcome: "expire" } }));

  it("says device login is not enabled when the issuer answers 404", () =>
    withIssuer(async (issuer) => {
      const error = await rejection(deviceLogin(issuer).tokens);
      assert.equal(error.code, "device_login_unavailable");
      assert.match(error.message, /Device login is not enabled/);
    }, { device: { enabled: false } }));

  it("fails at once on a poll status other than 403 and 404", () =>
    withIssuer(async (issuer) => {
      const error = await rejection(deviceLogin(issuer).tokens);
      assert.equal(error.code, "device_login_failed");
      assert.equal(error.status, 500);
      assertNoSecrets(error, secretsOf(issuer));
    }, { device: { pendingPolls: 1, outcome: { status: 500 } } }));

  it("polls at the interval the issuer names, in seconds", () =>
    withIssuer(async (issuer) => {
      const error = await rejection(loginWithDeviceCode({
        issuer: issuer.url,
        timeoutMs: 1_200,
        onCode: () => {},
      }));
      assert.equal(error.code, "device_code_expired");
      const polls = issuer.requests.filter((r) =>
        r.path === "/api/accounts/deviceauth/token"
      ).length;
      // At 0 s, 1 s and the deadline at most (fewer on a slow machine).
      assert.ok(
        polls >= 1 && polls <= 3,
        `expected at most 3 polls in 1.2 s at an interval of "1" (second), found ${polls}`,
      );
    }, { device: { interval: "1", outcome: "expire" } }));

  it("stops polling when the signal aborts", () =>
    withIssuer(async (issuer) => {
      const controller = new AbortController();
      const { tokens } = deviceLogin(issuer, {
        signal: controller.signal,
        intervalMs: 60_000,
      });
      while (
        !issuer.requests.some((r) =>
          r.path === "/api/accounts/deviceauth/token"
        )
      ) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const started = Date.now();
      controller.abort();
      assert.equal((await rejection(tokens)).code, "login_cancelled");
      assert.ok(Date.now() - started < 1000, "the poll sleep is cut short");
    }, { device: { outcome: "expire" } }));
});

describe("revoke", () => {
  async function loggedIn(issuer: FakeIssuer, home: string, name: string) {
    const login = await loginWithDeviceCode({
      issuer: issuer.url,
      intervalMs: 1,
      onCode: () => {},
    });
    await saveNewAccount(home, name, login);
    return login;
  }

  it("revokes the refresh token at the issuer, then the folder is removed", () =>
    withIssuer(async (issuer) => {
      const home = join(dir.path, "revoke-ok");
      const login = await loggedIn(issuer, home, "work");
      const stored = await readCredentials(accountAuthFile(home, "work"));
      const result = await revokeRefreshToken(stored.refreshToken!, {
        issuer: issuer.url,
      });
      assert.deepEqual(result, { revoked: true });
      assert.deepEqual(issuer.revokedTokens, [login.refreshToken]);
      const request = issuer.requests.find((r) => r.path === "/oauth/revoke")!;
      assert.equal(request.contentType, "application/json");
      assert.deepEqual(request.fields, {
        token: login.refreshToken,
        token_type_hint: "refresh_token",
        client_id: FAKE_CODEX_CLIENT_ID,
      });
      assert.equal(issuer.accepts(login.refreshToken), false);
      await removeAccount(home, "work");
      assert.deepEqual(await listAccounts(home), []);
    }));

  it("says the revoke failed when the issuer is down, and the folder can still be removed", () =>
    withIssuer(async (issuer) => {
      const home = join(dir.path, "revoke-down");
      const login = await loggedIn(issuer, home, "work");
      issuer.setRevokeDown(true);
      const result = await revokeRefreshToken(login.refreshToken, {
        issuer: issuer.url,
      });
      assert.deepEqual(result, { revoked: false, reason: "network_error" });
      assert.deepEqual(issuer.revokedTokens, []);
      await removeAccount(home, "work");
      await assert.rejects(stat(join(home, "accounts", "work")));
    }));

  it("gives up after its timeout", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) =>
      silent.listen(0, "127.0.0.1", resolve)
    );
    try {
      const started = Date.now();
      const result = await revokeRefreshToken("rt_x", {
        issuer: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        timeoutMs: 50,
      });
      assert.deepEqual(result, { revoked: false, reason: "timeout" });
      assert.ok(Date.now() - started < 2000);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("reports a refusal with its status and code", async () => {
    const fakeFetch = () =>
      Promise.resolve(
        new Response(JSON.stringify({ error: "invalid_client" }), {
          status: 401,
        }),
      );
    const result = await revokeRefreshToken("rt_x", {
      fetch: fakeFetch as typeof fetch,
    });
    assert.deepEqual(result, {
      revoked: false,
      reason: "http_401:invalid_client",
    });
  });
});

describe("opening the browser", () => {
  function fakeSpawn(outcome: "spawn" | "error" | "throw") {
    const calls: Array<{ command: string; args: string[] }> = [];
    const spawn: SpawnFunction = (command, args) => {
      calls.push({ command, args });
      if (outcome === "throw") throw new Error("ENOENT");
      return {
        once(event, listener) {
          if (event === outcome) queueMicrotask(() => listener());
        },
        unref() {},
      };
    };
    return { calls, spawn };
  }

  it("picks open, rundll32 or xdg-open by platform", () => {
    const url = "https://auth.example/a?b=1&c=2";
    assert.deepEqual(browserCommand(url, "darwin"), {
      command: "open",
      args: [url],
    });
    assert.deepEqual(browserCommand(url, "win32"), {
      command: "rundll32",
      args: ["url.dll,FileProtocolHandler", url],
    });
    assert.deepEqual(browserCommand(url, "linux"), {
      command: "xdg-open",
      args: [url],
    });
  });

  it("resolves true when the opener starts", async () => {
    const { calls, spawn } = fakeSpawn("spawn");
    assert.equal(
      await openInBrowser("https://auth.example/", {
        platform: "linux",
        spawn,
      }),
      true,
    );
    assert.deepEqual(calls, [{
      command: "xdg-open",
      args: ["https://auth.example/"],
    }]);
  });

  it("resolves false, never throws, when the opener is missing", async () => {
    for (const outcome of ["error", "throw"] as const) {
      const { spawn } = fakeSpawn(outcome);
      assert.equal(
        await openInBrowser("https://auth.example/", {
          platform: "linux",
          spawn,
        }),
        false,
      );
    }
  });

  it("with the real spawn: true when the program starts, false when it is missing", async () => {
    function realSpawn(program: string): SpawnFunction {
      return (_command, _args, options) =>
        nodeSpawn(program, [], options) as unknown as ReturnType<
          SpawnFunction
        >;
    }
    assert.equal(
      await openInBrowser("https://auth.example/", {
        platform: "linux",
        spawn: realSpawn("true"),
      }),
      true,
    );
    assert.equal(
      await openInBrowser("https://auth.example/", {
        platform: "linux",
        spawn: realSpawn("no-such-opener-program-here"),
      }),
      false,
    );
  });

  it("opens nothing on any platform when BROWSER is none", async () => {
    const { calls, spawn } = fakeSpawn("spawn");
    for (const platform of ["linux", "darwin", "win32"]) {
      assert.equal(
        await openInBrowser("https://auth.example/", {
          platform,
          env: { BROWSER: "none", DISPLAY: ":0" },
          spawn,
        }),
        false,
      );
    }
    assert.deepEqual(calls, []);
  });

  it("opens nothing on a headless Linux or for a URL that is not http(s)", async () => {
    const { calls, spawn } = fakeSpawn("spawn");
    assert.equal(
      await openInBrowser("https://auth.example/", {
        platform: "linux",
        env: { HOME: "/home/me" },
        spawn,
      }),
      false,
    );
    assert.equal(
      await openInBrowser("file:///etc/passwd", { platform: "darwin", spawn }),
      false,
    );
    assert.deepEqual(calls, []);
    assert.equal(
      await openInBrowser("https://auth.example/", {
        platform: "linux",
        env: { WAYLAND_DISPLAY: "wayland-0" },
        spawn,
      }),
      true,
    );
  });
});
