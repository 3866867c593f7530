// When the token source calls the token endpoint, and when it must not:
// tokens that are short-lived from the start, and a write-back that a killed
// process left half done.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, utimes, writeFile } from "node:fs/promises";
import { requestTokenRefresh } from "../src/auth/refresh.ts";
import { createTokenSource } from "../src/auth/token_source.ts";
import { mergeRefreshedTokens } from "../src/auth/write.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import { epochIn, tempDir, writeAuth } from "./fixtures/auth_helpers.ts";

describe("token source: tokens that are short-lived from the start", () => {
  it("refreshes once, not on every request, when the new token expires within 5 minutes", async () => {
    const dir = await tempDir("auth-short-");
    // The endpoint issues tokens that live 2 minutes: inside the 5-minute
    // refresh margin as soon as they are issued.
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_short_0"],
      accessTokenLifetimeSeconds: 120,
    });
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, {
        exp: epochIn(-60),
        refreshToken: "rt_short_0",
      });
      const source = createTokenSource(authFile, {
        tokenUrl: endpoint.url,
        onWarning: () => {},
      });
      const handed = new Set<string>();
      for (let i = 0; i < 10; i++) {
        handed.add((await source.getToken()).accessToken);
      }
      const together = await Promise.all(
        Array.from({ length: 10 }, () => source.getToken()),
      );
      for (const token of together) handed.add(token.accessToken);
      assert.equal(endpoint.calls, 1);
      assert.deepEqual([...handed], [endpoint.latestAccessToken]);
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });
});

describe("token source: a write-back left half done", () => {
  it("finishes a killed writer's write-back under the lock and uses its tokens", async () => {
    const dir = await tempDir("auth-recover-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_spent"],
    });
    try {
      const authFile = dir.file("auth.json");
      const document = await writeAuth(authFile, {
        exp: epochIn(-60),
        refreshToken: "rt_spent",
      });
      // What a writer killed between its temp file and its rename leaves:
      // the endpoint rotated rt_spent, and the only copy of its successor is
      // in a complete temp file, newer than auth.json.
      const refreshed = await requestTokenRefresh(endpoint.url, "rt_spent");
      const tempPath = dir.file(".auth.json.0123456789abcdef.tmp");
      await writeFile(
        tempPath,
        JSON.stringify(mergeRefreshedTokens(document, refreshed)),
        { mode: 0o600 },
      );
      const later = new Date(Date.now() + 1000);
      await utimes(tempPath, later, later);

      const source = createTokenSource(authFile, {
        tokenUrl: endpoint.url,
        reusedGraceMs: 100,
        onWarning: () => {},
      });
      const token = await source.getToken();
      assert.equal(token.accessToken, refreshed.accessToken);
      // No second call: rt_spent was not presented again.
      assert.equal(endpoint.calls, 1);
      const written = JSON.parse(await readFile(authFile, "utf8"));
      assert.equal(written.tokens.refresh_token, refreshed.refreshToken);
      assert.deepEqual(await readdir(dir.path), ["auth.json"]);
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });
});
