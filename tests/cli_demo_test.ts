// `demo` as a child process on the current runtime: no setup, streamed text,
// usage, exit 0, and nothing left behind in the temp folder.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliProcess } from "./fixtures/cli_process.ts";

describe("demo", () => {
  it("streams an answer, prints the usage, cleans up and exits 0", async () => {
    const scratch = await mkdtemp(join(tmpdir(), "cli-demo-test-"));
    try {
      const result = await runCliProcess(["demo"], {
        TMPDIR: scratch,
        TMP: scratch,
        TEMP: scratch,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        /Hello! This text comes from the simulated Codex backend, streamed through the provider/,
      );
      assert.match(
        result.stdout,
        /usage: \d+ input tokens, \d+ output tokens, \d+ total/,
      );
      assert.match(result.stdout, /refreshed through the token endpoint/);
      assert.deepEqual(await readdir(scratch), [], "temp files left behind");
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it("sends the prompt given with --prompt", async () => {
    const result = await runCliProcess(["demo", "--prompt", "Bonjour"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /"input":"Bonjour"/);
  });
});
