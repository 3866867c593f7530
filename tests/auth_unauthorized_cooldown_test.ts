// A backend that keeps answering 401: after the token a forced refresh
// produced is refused too before it served an answer, no refresh follows a
// 401 until a cooldown has passed or auth.json holds other tokens.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createProvider } from "../src/provider/provider.ts";
import { createTokenSource } from "../src/auth/token_source.ts";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { epochIn, tempDir, writeAuth } from "./fixtures/auth_helpers.ts";

describe("backend that always answers 401", () => {
  it("costs at most one token-endpoint call for 10 requests, each answered 503 upstream_auth_failed", async () => {
    const backend = await startFakeCodexBackend({ acceptToken: () => false });
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_401_0"],
    });
    const dir = await tempDir("auth-cooldown-");
    try {
      const authFile = dir.file("auth.json");
      writeFileSync(
        authFile,
        JSON.stringify(
          makeAuthJson({ exp: epochIn(3600), refreshToken: "rt_401_0" }),
        ),
        { mode: 0o600 },
      );
      const provider = createProvider({
        OPENAI_RESPONSES_AUTH_FILE: authFile,
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, { random: () => 0 });
      await provider.init();
      for (let i = 0; i < 10; i++) {
        const result = await callProvider(provider, {
          body: { model: "gpt-5.4", input: "hi" },
        });
        assert.equal(result.status, 503, `request ${i + 1}: ${result.text}`);
        assert.equal(
          JSON.parse(result.text).error.code,
          "upstream_auth_failed",
          `request ${i + 1}`,
        );
      }
      assert.ok(
        endpoint.calls <= 1,
        `expected at most 1 token-endpoint call, found ${endpoint.calls}`,
      );
      assert.equal(provider.getCapacity().current, 0);
    } finally {
      await backend.close();
      await endpoint.close();
      await dir.cleanup();
    }
  });
});

describe("token source: cooldown after a refused refreshed token", () => {
  async function setup(options: { cooldownMs: number }) {
    const dir = await tempDir("auth-cooldown-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_cool_0", "rt_new_login"],
    });
    const authFile = dir.file("auth.json");
    await writeAuth(authFile, {
      exp: epochIn(3600),
      refreshToken: "rt_cool_0",
    });
    const clock = { offset: 0 };
    const warnings: string[] = [];
    const source = createTokenSource(authFile, {
      tokenUrl: endpoint.url,
      statIntervalMs: 0,
      unauthorizedCooldownMs: options.cooldownMs,
      now: () => Date.now() + clock.offset,
      onWarning: (message) => warnings.push(message),
    });
    return {
      authFile,
      endpoint,
      source,
      clock,
      warnings,
      async close() {
        await endpoint.close();
        await dir.cleanup();
      },
    };
  }

  it("refreshes again once the cooldown has passed, and waits twice as long the next time", async () => {
    const s = await setup({ cooldownMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const second = await s.source.handleUnauthorized(first);
      assert.ok(second);
      assert.equal(s.endpoint.calls, 1);
      // The refreshed token is refused too: the cooldown starts.
      assert.equal(await s.source.handleUnauthorized(second), undefined);
      assert.equal(await s.source.handleUnauthorized(second), undefined);
      assert.equal(s.endpoint.calls, 1);
      assert.equal(s.warnings.length, 1);
      assert.match(s.warnings[0], /upstream_auth_failed/);
      s.clock.offset = 59_000;
      assert.equal(await s.source.handleUnauthorized(second), undefined);
      assert.equal(s.endpoint.calls, 1);
      s.clock.offset = 61_000;
      const third = await s.source.handleUnauthorized(second);
      assert.ok(third);
      assert.equal(s.endpoint.calls, 2);
      // Refused again: twice as long this time.
      assert.equal(await s.source.handleUnauthorized(third), undefined);
      s.clock.offset = 61_000 + 119_000;
      assert.equal(await s.source.handleUnauthorized(third), undefined);
      assert.equal(s.endpoint.calls, 2);
      s.clock.offset = 61_000 + 121_000;
      assert.ok(await s.source.handleUnauthorized(third));
      assert.equal(s.endpoint.calls, 3);
    } finally {
      await s.close();
    }
  });

  it("refreshes a refreshed token that worked for a while before its 401, with no cooldown", async () => {
    const s = await setup({ cooldownMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const second = await s.source.handleUnauthorized(first);
      assert.ok(second);
      assert.equal(s.endpoint.calls, 1);
      // Used for six minutes, then refused (revoked, say): a refresh may
      // help, and nothing says the backend refuses every token.
      s.clock.offset = 6 * 60_000;
      const third = await s.source.handleUnauthorized(second);
      assert.ok(third);
      assert.notEqual(third.accessToken, second.accessToken);
      assert.equal(s.endpoint.calls, 2);
      assert.equal(s.warnings.length, 0);
    } finally {
      await s.close();
    }
  });

  it("refreshes a refreshed token that has served an answer, even right after its refresh, with no cooldown", async () => {
    const s = await setup({ cooldownMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const second = await s.source.handleUnauthorized(first);
      assert.ok(second);
      // The backend took it once: a 401 afterwards is a new event.
      s.source.handleAccepted?.(second);
      const third = await s.source.handleUnauthorized(second);
      assert.ok(third, "a forced refresh, not the cooldown");
      assert.notEqual(third.accessToken, second.accessToken);
      assert.equal(s.endpoint.calls, 2);
      assert.equal(s.warnings.length, 0);
      // The token that refresh just produced, refused before serving
      // anything: now the cooldown starts.
      assert.equal(await s.source.handleUnauthorized(third), undefined);
      assert.equal(s.endpoint.calls, 2);
      assert.equal(s.warnings.length, 1);
    } finally {
      await s.close();
    }
  });

  it("ignores an answer served by another token than the refreshed one", async () => {
    const s = await setup({ cooldownMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const second = await s.source.handleUnauthorized(first);
      assert.ok(second);
      s.source.handleAccepted?.(first);
      assert.equal(await s.source.handleUnauthorized(second), undefined);
      assert.equal(s.endpoint.calls, 1);
      assert.equal(s.warnings.length, 1);
    } finally {
      await s.close();
    }
  });

  it("ends the cooldown when auth.json holds a new login", async () => {
    const s = await setup({ cooldownMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const second = await s.source.handleUnauthorized(first);
      assert.ok(second);
      assert.equal(await s.source.handleUnauthorized(second), undefined);
      assert.equal(s.endpoint.calls, 1);
      const login = await writeAuth(s.authFile, {
        exp: epochIn(3600),
        refreshToken: "rt_new_login",
        extra: { login: "new" },
      });
      const fresh = await s.source.handleUnauthorized(second);
      assert.equal(
        fresh?.accessToken,
        (login.tokens as Record<string, string>).access_token,
      );
      // The new login's token had no forced refresh yet: it gets one.
      const next = await s.source.handleUnauthorized(fresh!);
      assert.ok(next);
      assert.equal(s.endpoint.calls, 2);
      assert.equal(s.endpoint.requests[1].fields.refresh_token, "rt_new_login");
    } finally {
      await s.close();
    }
  });
});
