// `demo` as a child process on the current runtime: no setup, streamed text,
// usage, exit 0, and nothing left behind in the temp folder.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliProcess } from "./fixtures/cli_process.ts";
import type { CliIo } from "../src/cli/io.ts";
import { failureOf, runDemo } from "../src/cli/demo.ts";
import { serveWithNodeHttp } from "../src/serve/node.ts";

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

describe("demo: a stream that fails", () => {
  function memoryIo() {
    let out = "";
    let err = "";
    const io: CliIo = {
      env: {},
      stdout: (text) => void (out += text),
      stderr: (text) => void (err += text),
      listen: serveWithNodeHttp,
      onShutdownSignal: () => () => {},
      homeDir: "/nonexistent",
    };
    return { io, out: () => out, err: () => err };
  }

  it("reports the message of response.failed (under response.error) and exits 1", async () => {
    const { io, err } = memoryIo();
    const code = await runDemo(io, {
      answer: {
        kind: "failed",
        code: "server_is_overloaded",
        message: "The simulated backend is overloaded right now",
      },
    });
    assert.equal(code, 1);
    assert.match(
      err(),
      /expected a completed stream, found The simulated backend is overloaded right now/,
    );
  });

  it("reads the failure of response.failed and of an error event where OpenAI puts them", () => {
    assert.equal(
      failureOf({
        type: "response.failed",
        response: { error: { code: "x", message: "From the response" } },
      }),
      "From the response",
    );
    assert.equal(
      failureOf({ type: "error", error: { message: "From the error" } }),
      "From the error",
    );
    assert.equal(
      failureOf({ type: "error", message: "Flat message" }),
      "Flat message",
    );
    assert.equal(failureOf({ type: "response.failed" }), "response.failed");
  });
});
