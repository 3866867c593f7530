import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LoginRequiredError, TokenRefreshError } from "../src/errors.ts";
import {
  CODEX_CLIENT_ID,
  refreshErrorCode,
  requestTokenRefresh,
} from "../src/auth/refresh.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { assertNoSecrets } from "./fixtures/auth_helpers.ts";

let endpoint: FakeTokenEndpoint;
before(async () => {
  endpoint = await startFakeTokenEndpoint();
});
after(async () => {
  await endpoint.close();
});

async function failure(
  refreshToken: string,
  url = endpoint.url,
  timeoutMs?: number,
): Promise<Error> {
  try {
    await requestTokenRefresh(url, refreshToken, { timeoutMs });
  } catch (error) {
    assert.ok(error instanceof Error);
    assertNoSecrets(error, [refreshToken]);
    return error;
  }
  assert.fail("expected the refresh to fail");
}

/** A server answering every request with `status` and `body`; records requests. */
async function scripted(
  status: number,
  body: string,
): Promise<
  {
    url: string;
    seen: Array<{ headers: Record<string, unknown>; body: string }>;
    close(): Promise<void>;
  }
> {
  const seen: Array<{ headers: Record<string, unknown>; body: string }> = [];
  const server: Server = createServer((request, response) => {
    let text = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => (text += chunk));
    request.on("end", () => {
      seen.push({ headers: request.headers, body: text });
      response.writeHead(status, { "content-type": "application/json" });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe("requestTokenRefresh", () => {
  it("posts the Codex client id, grant type and refresh token as JSON", async () => {
    const server = await scripted(200, JSON.stringify({ access_token: "a" }));
    try {
      await requestTokenRefresh(server.url, "rt_shape");
      assert.equal(server.seen.length, 1);
      assert.equal(server.seen[0].headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(server.seen[0].body), {
        client_id: CODEX_CLIENT_ID,
        grant_type: "refresh_token",
        refresh_token: "rt_shape",
      });
    } finally {
      await server.close();
    }
  });

  it("returns the three tokens of a successful answer", async () => {
    endpoint.addRefreshToken("rt_ok");
    const tokens = await requestTokenRefresh(endpoint.url, "rt_ok");
    assert.equal(tokens.refreshToken, endpoint.latestRefreshToken);
    assert.equal(tokens.accessToken, endpoint.latestAccessToken);
    assert.equal(typeof tokens.idToken, "string");
  });

  it("leaves absent tokens out of the result", async () => {
    const server = await scripted(
      200,
      JSON.stringify({ access_token: "a_only", token_type: "Bearer" }),
    );
    try {
      const tokens = await requestTokenRefresh(server.url, "rt_partial");
      assert.deepEqual(tokens, { accessToken: "a_only" });
    } finally {
      await server.close();
    }
  });

  it("turns refresh_token_reused into login_required", async () => {
    endpoint.addRefreshToken("rt_reuse");
    await requestTokenRefresh(endpoint.url, "rt_reuse");
    const error = await failure("rt_reuse");
    assert.ok(error instanceof LoginRequiredError);
    assert.equal(error.code, "login_required");
    assert.equal(error.reason, "refresh_token_reused");
    assert.match(error.message, /codex login/);
    assert.doesNotMatch(error.message, /\.$/);
  });

  it("turns any 401 into login_required", async () => {
    const error = await failure("rt_unknown_to_endpoint");
    assert.ok(error instanceof LoginRequiredError);
    assert.equal(error.reason, "invalid_grant");
  });

  it("finds permanent codes at error.code, error and code, whatever the status", async () => {
    for (
      const body of [
        { error: { code: "refresh_token_expired" } },
        { error: "refresh_token_invalidated" },
        { code: "invalid_grant" },
      ]
    ) {
      const server = await scripted(400, JSON.stringify(body));
      try {
        const error = await failure("rt_code", server.url);
        assert.ok(error instanceof LoginRequiredError, JSON.stringify(body));
        assert.equal(error.reason, refreshErrorCode(body));
      } finally {
        await server.close();
      }
    }
  });

  it("treats other error statuses as transient", async () => {
    endpoint.setFailure({ kind: "transient", status: 503, times: 1 });
    endpoint.addRefreshToken("rt_transient");
    const error = await failure("rt_transient");
    assert.ok(error instanceof TokenRefreshError);
    assert.equal(error.code, "token_refresh_failed");
    assert.match(error.message, /HTTP 503/);
    assert.equal(endpoint.accepts("rt_transient"), true);
  });

  it("treats an unreachable endpoint as transient", async () => {
    endpoint.setFailure({ kind: "down" });
    try {
      const error = await failure("rt_down");
      assert.ok(error instanceof TokenRefreshError);
      assert.match(error.message, /network error/);
    } finally {
      endpoint.setFailure(undefined);
    }
  });

  it("gives up after the timeout", async () => {
    endpoint.setDelay(2000);
    try {
      const started = Date.now();
      const error = await failure("rt_slow", endpoint.url, 100);
      assert.ok(error instanceof TokenRefreshError);
      assert.match(error.message, /within 100 ms/);
      assert.ok(Date.now() - started < 1500);
    } finally {
      endpoint.setDelay(0);
    }
  });

  it("treats a success that is not JSON as transient", async () => {
    const server = await scripted(200, "<html>oops</html>");
    try {
      const error = await failure("rt_html", server.url);
      assert.ok(error instanceof TokenRefreshError);
    } finally {
      await server.close();
    }
  });
});
