// Crash safety of the write-back. A child process of this test's runtime
// refreshes auth.json in a loop (lock, token endpoint, atomic write-back)
// and is killed with SIGKILL at a random moment; then the next child starts
// on whatever the dead one left, and so on, until 100 children have been
// killed and at least 200 write-backs have completed. Each child is killed
// 0-40 ms after its first write-back (the first refresh of a fresh process
// is slow on Node, so kills timed from start-up would rarely land in the
// write-back loop).
//
// After every kill the file must parse, keep its unknown fields and mode 0600,
// and hold either the refresh token from before the interrupted refresh or
// the one issued by it. Three outcomes are counted:
// - live: the file's refresh token is one the endpoint accepts;
// - recovered: the kill landed between the complete temp file and the
//   rename; the temp file holds the live token, and the next child, taking
//   the lock, finishes the write-back (recoverInterruptedWrite) and goes on
//   refreshing with it (if it did not, its refresh would fail with
//   `refresh_token_reused` and the test with it);
// - lost in flight: the kill landed after the endpoint had rotated the token
//   and before the temp file was written, the one case no client can avoid
//   (the only copy of the new token was in the dead process). The test
//   recognises it exactly (the file's token is spent and its successor was
//   issued but never used) and logs in again before going on.
// The children refresh back to back, so these windows are a large share of
// their time; in normal use a refresh happens about once an hour and the
// windows last milliseconds. The test prints the counts of every run.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import {
  type Child,
  epochIn,
  spawnFixture,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const MIN_WRITE_BACKS = 200;
const MIN_KILLS = 100;
/** Bounds the run if children stop completing write-backs. */
const MAX_KILLS = 300;
const MAX_LIFE_AFTER_FIRST_WRITE_MS = 40;
const EXTRA = { future_field: { kept: true } };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Outcome {
  live: number;
  recovered: number;
  lostInFlight: number;
}

/** The refresh tokens of the complete temp files next to `authFile`. */
async function tempRefreshTokens(dir: string): Promise<string[]> {
  const tokens: string[] = [];
  for (const name of await readdir(dir)) {
    if (!/^\.auth\.json\.[0-9a-f]{16}\.tmp$/.test(name)) continue;
    try {
      const document = JSON.parse(await readFile(join(dir, name), "utf8"));
      tokens.push(document.tokens.refresh_token);
    } catch {
      // Cut off by the kill: not recoverable, and not adopted.
    }
  }
  return tokens;
}

async function checkFile(
  dir: string,
  authFile: string,
  endpoint: FakeTokenEndpoint,
  outcome: Outcome,
  kill: number,
): Promise<void> {
  const text = await readFile(authFile, "utf8");
  let document;
  try {
    document = JSON.parse(text);
  } catch {
    assert.fail(
      `after kill ${kill} the file does not parse (${text.length} bytes)`,
    );
  }
  assert.deepEqual(document.future_field, EXTRA.future_field);
  assert.equal(document.auth_mode, "chatgpt");
  assert.equal(typeof document.tokens.access_token, "string");
  assert.equal((await stat(authFile)).mode & 0o777, 0o600);
  const refreshToken = document.tokens.refresh_token;
  assert.equal(typeof refreshToken, "string");
  if (endpoint.accepts(refreshToken)) {
    outcome.live++;
    return;
  }
  const successor = endpoint.successorOf(refreshToken);
  assert.ok(
    successor !== undefined && endpoint.accepts(successor) &&
      successor === endpoint.latestRefreshToken,
    `after kill ${kill} the file holds a refresh token that is neither live nor the one just rotated`,
  );
  if ((await tempRefreshTokens(dir)).includes(successor)) {
    outcome.recovered++;
  } else {
    outcome.lostInFlight++;
  }
}

describe("crash safety of the write-back", { timeout: 120_000 }, () => {
  it("leaves a complete auth.json with a usable refresh token after every SIGKILL", async () => {
    const dir = await tempDir("auth-crash-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_crash_0"],
    });
    const authFile = dir.file("auth.json");
    await writeAuth(authFile, {
      exp: epochIn(-60),
      refreshToken: "rt_crash_0",
    }, EXTRA);
    const outcome: Outcome = { live: 0, recovered: 0, lostInFlight: 0 };
    let writeBacks = 0;
    let kills = 0;
    let relogins = 0;
    let child: Child | undefined;
    const started = Date.now();
    try {
      while (
        (writeBacks < MIN_WRITE_BACKS || kills < MIN_KILLS) &&
        kills < MAX_KILLS
      ) {
        child = spawnFixture("auth_writer_loop", [authFile, endpoint.url]);
        await child.waitForLine((line) => line === "w 1", 30_000);
        await sleep(Math.random() * MAX_LIFE_AFTER_FIRST_WRITE_MS);
        const alive = child.process.exitCode === null &&
          child.process.signalCode === null;
        assert.ok(alive, `writer exited by itself: ${child.stderr()}`);
        child.process.kill("SIGKILL");
        const exit = await child.exited;
        assert.equal(exit.signal, "SIGKILL");
        kills++;
        writeBacks += child.lines.filter((line) => line.startsWith("w "))
          .length;
        child = undefined;
        await checkFile(dir.path, authFile, endpoint, outcome, kills);
        if (outcome.lostInFlight > relogins) {
          // What the seller would do: `codex login` writes a new token.
          relogins++;
          const fresh = `rt_relogin_${relogins}`;
          endpoint.addRefreshToken(fresh);
          await writeAuth(authFile, {
            exp: epochIn(-60),
            refreshToken: fresh,
          }, EXTRA);
        }
      }
      console.log(
        `crash test: ${kills} kills, ${writeBacks} completed write-backs, ` +
          `${endpoint.successes} refreshes, ${outcome.live} files with a live token, ` +
          `${outcome.recovered} recovered from the temp file by the next process, ` +
          `${outcome.lostInFlight} killed between rotation and the temp file, ` +
          `${Date.now() - started} ms`,
      );
      assert.ok(writeBacks >= MIN_WRITE_BACKS, `${writeBacks} write-backs`);
      assert.ok(kills >= MIN_KILLS);
      // The seller's login is sacred: no refresh token was ever presented
      // after it was spent (a recovered temp file was finished, not ignored),
      // and every rotation is accounted for: a completed write-back, or at
      // most one refresh in flight per kill.
      const refused = endpoint.requests.filter((request) =>
        request.status !== 200 && request.status !== 0
      );
      assert.deepEqual(
        refused.map((request) => request.status),
        [],
        "refreshes the endpoint refused",
      );
      assert.ok(
        endpoint.successes >= writeBacks &&
          endpoint.successes <= writeBacks + kills,
        `${endpoint.successes} refreshes for ${writeBacks} write-backs and ${kills} kills`,
      );
      const leftovers = (await readdir(dir.path)).filter((name) =>
        name !== "auth.json"
      );
      for (const name of leftovers) {
        assert.match(
          name,
          /^(\.auth\.json\.[0-9a-f]{16}\.tmp|auth\.json\.lock(\.break)?)$/,
          "only temp and lock files of killed writers are left",
        );
      }
    } finally {
      if (child) {
        child.process.kill("SIGKILL");
        await child.exited;
      }
      await endpoint.close();
      await dir.cleanup();
    }
  });
});
