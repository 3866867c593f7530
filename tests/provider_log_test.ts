// The plugin's log inside a seller node: errors and state changes only by
// default, one line per finished request with OPENAI_RESPONSES_LOG=requests;
// never a secret or prompt text.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import { Observability } from "../src/provider/observability.ts";
import { parseConfig } from "../src/config.ts";
import { homedir } from "node:os";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const TOKEN = makeAccessToken({ accountId: "acct_log" });
let backend: FakeCodexBackend;

function provider(config: Record<string, string>, lines: string[]) {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    ...config,
  }, {
    tokenSource: fixedTokens("acct_log", TOKEN),
    onLog: (line) => lines.push(line),
  });
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

describe("the plugin's log", () => {
  it("prints no line per request by default", async () => {
    const lines: string[] = [];
    await callProvider(provider({}, lines), {
      body: { model: "gpt-5.4", input: "A private prompt" },
    });
    assert.deepEqual(lines, []);
  });

  it("prints one line per finished request with OPENAI_RESPONSES_LOG=requests, with no prompt text or secret", async () => {
    const lines: string[] = [];
    const p = provider({ OPENAI_RESPONSES_LOG: "requests" }, lines);
    await callProvider(p, {
      body: { model: "gpt-5.4", input: "A private prompt" },
    });
    await callProvider(p, { path: "/v1/nothing", body: {} }, {
      skipRouting: true,
    });
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(
      lines[0],
      /^request POST \/v1\/responses gpt-5\.4 200 \d+ms tokens in=\d+ out=\d+$/,
    );
    assert.match(lines[1], / 404 not_found /);
    for (const line of lines) {
      assert.ok(!line.includes("private prompt") && !line.includes(TOKEN));
    }
  });

  it("tells of a usage limit reached, and of its end", async () => {
    const lines: string[] = [];
    const p = provider({}, lines);
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 1 });
    await callProvider(p, { body: { model: "gpt-5.4", input: "Hi" } });
    assert.equal(lines.length, 1);
    assert.match(
      lines[0],
      /^login default: usage limit reached; it resets at /,
    );
    await new Promise((resolve) => setTimeout(resolve, 1100));
    p.getCapacity();
    assert.match(lines.at(-1)!, /^login default: usage limit ended$/);
  });
});

describe("the provider's lines and warnings", () => {
  it("show the seller's home folder as ~ (a warning may quote a file's path)", () => {
    const lines: string[] = [];
    const warnings: string[] = [];
    const seen = new Observability(parseConfig({}), {
      homeDir: "/home/seller",
      onLog: (line) => lines.push(line),
      onWarning: (message) => warnings.push(message),
    });
    seen.warn(
      "Codex tokens were refreshed but could not be saved (cannot write /home/seller/.codex/auth.json)",
    );
    seen.log("login default: /home/seller/.codex/auth.json");
    assert.deepEqual(warnings, [
      "Codex tokens were refreshed but could not be saved (cannot write ~/.codex/auth.json)",
    ]);
    assert.deepEqual(lines, ["login default: ~/.codex/auth.json"]);
  });

  it("take the process's home folder by default", () => {
    const home = homedir();
    if (home.length < 2) return;
    const warnings: string[] = [];
    const seen = new Observability(parseConfig({}), {
      onWarning: (message) => warnings.push(message),
    });
    seen.warn(`cannot write ${home}/.codex/auth.json`);
    assert.deepEqual(warnings, ["cannot write ~/.codex/auth.json"]);
  });
});
