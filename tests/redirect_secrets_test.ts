// No request that carries a login's secret follows a redirect. On a 307 or
// 308, both runtimes' fetch send a POST's body again to wherever the answer
// points, another host included (the `authorization` header is dropped
// across hosts, the body and the other headers are not): a token endpoint
// that redirected would hand the refresh token, or a code and its verifier,
// to that host. Every call to the issuer and to the backend's side endpoints
// now takes a redirect as its answer (an HTTP status like any other).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { requestTokenRefresh } from "../src/auth/refresh.ts";
import { exchangeAuthorizationCode } from "../src/auth/oauth.ts";
import { revokeRefreshToken } from "../src/auth/revoke.ts";
import { postToIssuer } from "../src/auth/_issuer_http.ts";
import { readModelCatalog } from "../src/codex/catalog.ts";
import { readUsage } from "../src/codex/usage.ts";
import {
  readResetCredits,
  redeemResetCredit,
} from "../src/codex/reset_credits.ts";
import { readBackendCatalog } from "../src/serve/models.ts";
import { RelayError, TokenRefreshError } from "../src/errors.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const REFRESH_TOKEN = "rt_redirect_secret";
const ACCESS_TOKEN = "at_redirect_secret";
const ACCOUNT = "acct_redirect";
const TOKEN = { accessToken: ACCESS_TOKEN, accountId: ACCOUNT };
const IDENTITY = { originator: "codex_cli_rs", userAgent: "codex_cli_rs/1" };
/** The redirects a GET follows. */
const GET_REDIRECTS = [301, 302, 303, 307, 308];

/** What reached the host a redirect pointed to. */
interface Arrival {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  return (server.address() as AddressInfo).port;
}

describe("a redirect from the issuer or the backend", () => {
  let moved: Server;
  let elsewhere: Server;
  /** The redirecting host, by IP; the target is another host (by name). */
  let movedUrl = "";
  const arrivals: Arrival[] = [];
  let asked = 0;
  let status = 307;
  /** The redirect's own body (JSON): what it says must not count. */
  let body = "{}";

  before(async () => {
    elsewhere = createServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => body += chunk);
      request.on("end", () => {
        arrivals.push({
          method: request.method ?? "",
          url: request.url ?? "",
          headers: request.headers,
          body,
        });
        response.writeHead(200, { "content-type": "application/json" });
        response.end("{}");
      });
    });
    const elsewherePort = await listen(elsewhere);
    moved = createServer((request, response) => {
      request.resume();
      asked++;
      response.writeHead(status, {
        location: `http://localhost:${elsewherePort}${request.url}`,
        "content-type": "application/json",
      });
      response.end(body);
    });
    movedUrl = `http://127.0.0.1:${await listen(moved)}`;
  });

  after(async () => {
    await new Promise((resolve) => moved.close(resolve));
    await new Promise((resolve) => elsewhere.close(resolve));
  });

  /**
   * Runs `call` against each redirect (a POST's body goes on with a 307 or
   * 308; a GET's headers with any); asserts it asked once each and nothing
   * went on.
   */
  async function eachRedirect(
    call: () => Promise<void>,
    codes = [307, 308],
  ): Promise<void> {
    for (const code of codes) {
      status = code;
      asked = 0;
      arrivals.length = 0;
      await call();
      assert.equal(asked, 1, `HTTP ${code}: asked the redirecting host once`);
      assert.deepEqual(
        arrivals,
        [],
        `HTTP ${code}: nothing reached the host it pointed to`,
      );
    }
  }

  it("keeps the refresh token: the refresh fails for now, naming the status", async () => {
    // A redirect is no verdict on the token, whatever its body says: the
    // login is kept (a permanent code would take it out of rotation).
    body = '{"error":"invalid_grant"}';
    await eachRedirect(async () => {
      await assert.rejects(
        requestTokenRefresh(`${movedUrl}/oauth/token`, REFRESH_TOKEN),
        (error: unknown) =>
          error instanceof TokenRefreshError &&
          new RegExp(`found HTTP ${status}: a redirect, not followed`).test(
            error.message,
          ) &&
          !error.message.includes(REFRESH_TOKEN),
      );
    });
  });

  it("keeps the code and its verifier: the login's code exchange fails", async () => {
    await eachRedirect(async () => {
      await assert.rejects(
        exchangeAuthorizationCode({
          code: "ac_redirect_secret",
          redirectUri: "http://localhost:1455/auth/callback",
          codeVerifier: "verifier_redirect_secret",
        }, { issuer: movedUrl }),
      );
    });
  });

  it("keeps the token to revoke: the revoke says it failed", async () => {
    await eachRedirect(async () => {
      const result = await revokeRefreshToken(REFRESH_TOKEN, {
        issuer: movedUrl,
      });
      assert.equal(result.revoked, false);
    });
  });

  it("answers every issuer POST with its status (the device flow's too)", async () => {
    await eachRedirect(async () => {
      const answer = await postToIssuer(
        `${movedUrl}/api/accounts/deviceauth/token`,
        { device_auth_id: "device_secret", user_code: "CODE-1234" },
        { timeoutMs: 5_000 },
      );
      assert.equal(answer.status, status);
    });
  });

  it("keeps the login of the model catalog's read", async () => {
    await eachRedirect(async () => {
      await assert.rejects(
        readModelCatalog(`${movedUrl}/codex/models`, TOKEN, IDENTITY, {
          clientVersion: "0.1.0",
        }),
      );
    }, GET_REDIRECTS);
  });

  it("keeps the login of the usage read, which says nothing of the account", async () => {
    // The body of an ended login: a redirect's body does not end it.
    body =
      '{"error":{"code":"token_invalidated","message":"Your authentication token has been invalidated."}}';
    await eachRedirect(async () => {
      await assert.rejects(
        readUsage(movedUrl, TOKEN),
        (error: unknown) =>
          error instanceof RelayError &&
          error.message.includes(`HTTP ${status} (a redirect, not followed)`),
      );
    }, GET_REDIRECTS);
  });

  it("keeps the login of the reset credits' read and redemption", async () => {
    await eachRedirect(async () => {
      await assert.rejects(readResetCredits(movedUrl, TOKEN));
    }, GET_REDIRECTS);
    await eachRedirect(async () => {
      await assert.rejects(
        redeemResetCredit(movedUrl, TOKEN, {
          redeemRequestId: "redeem-1",
          maxAttempts: 1,
        }),
      );
    });
  });

  it("keeps the login of serve's model list", async () => {
    await eachRedirect(async () => {
      // A source of its own per call: a read is cached by its source.
      await assert.rejects(readBackendCatalog({
        settings: {
          modelsUrl: `${movedUrl}/codex/models`,
          clientVersion: "0.1.0",
          originator: "codex_cli_rs",
        },
        tokens: fixedTokens(ACCOUNT, ACCESS_TOKEN),
      }));
    }, GET_REDIRECTS);
  });
});
