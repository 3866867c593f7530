// Separate OS processes (children of this test's own runtime: Deno or Node)
// share one auth.json whose access token has expired and all refresh at the
// same moment. The refresh lock next to auth.json must make exactly one of
// them call the token endpoint; the others read the file under the lock and
// adopt its tokens.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import {
  type Child,
  epochIn,
  spawnFixture,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

async function refreshTogether(processes: number): Promise<void> {
  const dir = await tempDir("auth-multi-");
  // A short delay widens the window in which the others must wait.
  const endpoint = await startFakeTokenEndpoint({
    refreshTokens: ["rt_shared"],
    delayMs: 100,
  });
  const children: Child[] = [];
  try {
    const authFile = dir.file("auth.json");
    await writeAuth(authFile, { exp: epochIn(-60), refreshToken: "rt_shared" });
    for (let i = 0; i < processes; i++) {
      children.push(
        spawnFixture("auth_refresh_child", [authFile, endpoint.url]),
      );
    }
    await Promise.all(
      children.map((child) =>
        child.waitForLine((line) => line === "ready", 30_000)
      ),
    );
    for (const child of children) child.process.stdin!.write("go\n");
    const answers = await Promise.all(
      children.map(async (child) =>
        JSON.parse(
          await child.waitForLine((line) => line.startsWith("{"), 30_000),
        )
      ),
    );
    const exits = await Promise.all(children.map((child) => child.exited));

    assert.equal(endpoint.calls, 1, "exactly one token-endpoint call");
    for (const [index, answer] of answers.entries()) {
      assert.equal(
        answer.ok,
        true,
        `process ${index}: ${JSON.stringify(answer)}`,
      );
      assert.equal(answer.accessToken, endpoint.latestAccessToken);
    }
    for (const exit of exits) assert.equal(exit.code, 0);
    const document = JSON.parse(await readFile(authFile, "utf8"));
    assert.equal(document.tokens.refresh_token, endpoint.latestRefreshToken);
    assert.equal(endpoint.accepts(document.tokens.refresh_token), true);
    assert.deepEqual(
      await readdir(dir.path),
      ["auth.json"],
      "no lock or temp file left",
    );
  } finally {
    for (const child of children) {
      if (
        child.process.exitCode === null && child.process.signalCode === null
      ) {
        child.process.kill("SIGKILL");
      }
    }
    await Promise.all(children.map((child) => child.exited));
    await endpoint.close();
    await dir.cleanup();
  }
}

describe("refresh across processes", { timeout: 60_000 }, () => {
  it("two processes refreshing at once make exactly one token-endpoint call", async () => {
    await refreshTogether(2);
  });

  it("eight processes refreshing at once make exactly one token-endpoint call", async () => {
    await refreshTogether(8);
  });
});
