import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import {
  FAKE_CODEX_CLIENT_ID,
  REFRESH_TOKEN_REUSED_BODY,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { AUTH_CLAIM } from "../src/testing/jwt.ts";

function post(
  url: string,
  fields: Record<string, string>,
  form = false,
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": form
        ? "application/x-www-form-urlencoded"
        : "application/json",
    },
    body: form
      ? new URLSearchParams(fields).toString()
      : JSON.stringify(fields),
  });
}

function refreshFields(refreshToken: string): Record<string, string> {
  return {
    client_id: FAKE_CODEX_CLIENT_ID,
    grant_type: "refresh_token",
    refresh_token: refreshToken,
  };
}

describe("fake token endpoint", () => {
  it("exchanges a registered refresh token for new tokens", async () => {
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_0"],
      accountId: "acct_9",
      accessTokenLifetimeSeconds: 120,
    });
    try {
      const answer = await post(endpoint.url, refreshFields("rt_0"));
      assert.equal(answer.status, 200);
      const body = await answer.json();
      assert.equal(typeof body.refresh_token, "string");
      assert.notEqual(body.refresh_token, "rt_0");
      assert.equal(body.token_type, "Bearer");
      const claims = decodeJwt(body.access_token);
      assert.deepEqual(
        (claims[AUTH_CLAIM] as Record<string, unknown>).chatgpt_account_id,
        "acct_9",
      );
      const lifetime = (claims.exp as number) - Date.now() / 1000;
      assert.ok(lifetime > 100 && lifetime <= 121, `lifetime ${lifetime}`);
      assert.equal(typeof body.id_token, "string");
      assert.equal(endpoint.calls, 1);
      assert.equal(endpoint.successes, 1);
      assert.equal(endpoint.latestRefreshToken, body.refresh_token);
      assert.equal(endpoint.latestAccessToken, body.access_token);
      assert.equal(endpoint.successorOf("rt_0"), body.refresh_token);
    } finally {
      await endpoint.close();
    }
  });

  it("answers a reused refresh token with the exact refresh_token_reused body", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      await (await post(endpoint.url, refreshFields("rt_0"))).body?.cancel();
      const again = await post(endpoint.url, refreshFields("rt_0"));
      assert.equal(again.status, 401);
      assert.deepEqual(await again.json(), REFRESH_TOKEN_REUSED_BODY);
      assert.equal(endpoint.isSpent("rt_0"), true);
      assert.equal(endpoint.accepts("rt_0"), false);
    } finally {
      await endpoint.close();
    }
  });

  it("rotates: the issued refresh token works once", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      const first = await (await post(endpoint.url, refreshFields("rt_0")))
        .json();
      assert.equal(endpoint.accepts(first.refresh_token), true);
      const second = await post(
        endpoint.url,
        refreshFields(first.refresh_token),
      );
      assert.equal(second.status, 200);
      await second.body?.cancel();
      assert.equal(endpoint.accepts(first.refresh_token), false);
    } finally {
      await endpoint.close();
    }
  });

  it("answers an unknown refresh token with 401 invalid_grant", async () => {
    const endpoint = await startFakeTokenEndpoint();
    try {
      const answer = await post(endpoint.url, refreshFields("rt_unknown"));
      assert.equal(answer.status, 401);
      assert.equal((await answer.json()).error, "invalid_grant");
    } finally {
      await endpoint.close();
    }
  });

  it("accepts form-encoded bodies", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      const answer = await post(endpoint.url, refreshFields("rt_0"), true);
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
      assert.equal(
        endpoint.requests[0].contentType,
        "application/x-www-form-urlencoded",
      );
      assert.equal(endpoint.requests[0].fields.refresh_token, "rt_0");
    } finally {
      await endpoint.close();
    }
  });

  it("requires the client id", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      const answer = await post(endpoint.url, {
        grant_type: "refresh_token",
        refresh_token: "rt_0",
      });
      assert.equal(answer.status, 401);
      assert.equal((await answer.json()).error, "invalid_client");
      assert.equal(endpoint.accepts("rt_0"), true);
    } finally {
      await endpoint.close();
    }
  });

  it("requires grant_type refresh_token", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      const answer = await post(endpoint.url, {
        ...refreshFields("rt_0"),
        grant_type: "authorization_code",
      });
      assert.equal(answer.status, 400);
      assert.equal((await answer.json()).error, "unsupported_grant_type");
    } finally {
      await endpoint.close();
    }
  });

  it("fails permanently with the code where asked", async () => {
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_0"],
      failure: {
        kind: "permanent",
        code: "refresh_token_invalidated",
        placement: "code",
      },
    });
    try {
      const answer = await post(endpoint.url, refreshFields("rt_0"));
      assert.equal(answer.status, 401);
      assert.equal((await answer.json()).code, "refresh_token_invalidated");
      assert.equal(endpoint.accepts("rt_0"), true, "a failure spends nothing");
    } finally {
      await endpoint.close();
    }
  });

  it("fails transiently the given number of times", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      endpoint.setFailure({ kind: "transient", status: 502, times: 2 });
      for (const expected of [502, 502, 200]) {
        const answer = await post(endpoint.url, refreshFields("rt_0"));
        assert.equal(answer.status, expected);
        await answer.body?.cancel();
      }
      assert.equal(endpoint.calls, 3);
    } finally {
      await endpoint.close();
    }
  });

  it("drops connections while down", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      endpoint.setFailure({ kind: "down" });
      await assert.rejects(post(endpoint.url, refreshFields("rt_0")));
      endpoint.setFailure(undefined);
      const answer = await post(endpoint.url, refreshFields("rt_0"));
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
    } finally {
      await endpoint.close();
    }
  });

  it("delays answers", async () => {
    const endpoint = await startFakeTokenEndpoint({ refreshTokens: ["rt_0"] });
    try {
      endpoint.setDelay(150);
      const started = Date.now();
      const answer = await post(endpoint.url, refreshFields("rt_0"));
      await answer.body?.cancel();
      assert.ok(Date.now() - started >= 140);
    } finally {
      await endpoint.close();
    }
  });

  it("leaves out the fields it is told to omit", async () => {
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_0"],
      omit: ["id_token", "refresh_token"],
    });
    try {
      const body = await (await post(endpoint.url, refreshFields("rt_0")))
        .json();
      assert.equal(typeof body.access_token, "string");
      assert.equal("id_token" in body, false);
      assert.equal("refresh_token" in body, false);
    } finally {
      await endpoint.close();
    }
  });

  it("closes while an answer is delayed", async () => {
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_0"],
      delayMs: 10_000,
    });
    const pending = post(endpoint.url, refreshFields("rt_0")).then(
      (answer) => answer.body?.cancel(),
      () => "rejected",
    );
    while (endpoint.calls === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await endpoint.close();
    assert.equal(await pending, "rejected");
  });
});
