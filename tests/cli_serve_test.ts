// `serve` as a child process (Deno: cli.ts, Node: dist/cli.js) driven with
// the official `openai` package against the simulated backend, which runs in
// the test process.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import OpenAI from "openai";
import {
  DEFAULT_FAKE_GATED_MODELS,
  DEFAULT_FAKE_MODELS,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import type { CliIo } from "../src/cli/io.ts";
import { runServe } from "../src/cli/serve.ts";
import { serveWithNodeHttp } from "../src/serve/node.ts";
import {
  type CliProcess,
  runCliProcess,
  startCli,
} from "./fixtures/cli_process.ts";

const MODEL = "gpt-5.4";

let folder: string;
let backend: FakeCodexBackend;
let tokens: FakeTokenEndpoint;
let serve: CliProcess;
let baseUrl: string;
let client: OpenAI;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), "cli-serve-test-"));
  backend = await startFakeCodexBackend();
  tokens = await startFakeTokenEndpoint();
  const authFile = join(folder, "auth.json");
  await writeFile(authFile, JSON.stringify(makeAuthJson()), { mode: 0o600 });
  serve = startCli(["serve", "--port", "0"], {
    OPENAI_RESPONSES_AUTH_FILE: authFile,
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: tokens.url,
    ANTSEED_MAX_CONCURRENCY: "2",
  });
  const match = await serve.waitForOutput(
    /listening on http:\/\/127\.0\.0\.1:(\d+)\n/,
  );
  baseUrl = `http://127.0.0.1:${match[1]}`;
  client = new OpenAI({
    baseURL: `${baseUrl}/v1`,
    apiKey: "any-key",
    maxRetries: 0,
    timeout: 10_000,
  });
});

after(async () => {
  await serve?.kill();
  await backend?.close();
  await tokens?.close();
  await rm(folder, { recursive: true, force: true });
});

describe("serve with the openai SDK", () => {
  it("answers a non-streaming request with text and usage", async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: "Hello there",
    });
    assert.equal(response.status, "completed");
    assert.equal(response.output_text, "Echo: Hello there");
    assert.ok((response.usage?.input_tokens ?? 0) > 0);
    assert.ok((response.usage?.output_tokens ?? 0) > 0);
  });

  it("streams deltas whose concatenation is the final text", async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: "Stream this please",
      stream: true,
    });
    let deltas = "";
    let deltaCount = 0;
    let doneText: string | undefined;
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") {
        deltas += event.delta;
        deltaCount++;
      } else if (event.type === "response.output_text.done") {
        doneText = event.text;
      } else if (event.type === "response.completed") {
        completed = event.response;
      }
    }
    assert.ok(deltaCount > 1, "expected several deltas");
    assert.equal(deltas, "Echo: Stream this please");
    assert.equal(doneText, deltas);
    assert.ok(completed, "no response.completed event");
    assert.ok((completed.usage?.output_tokens ?? 0) > 0);
  });

  it("round-trips a function call", async () => {
    const tools: OpenAI.Responses.Tool[] = [{
      type: "function",
      name: "get_weather",
      description: "Weather of a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
      },
      strict: false,
    }];
    backend.enqueue({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
      callId: "call_weather_1",
    });
    const first = await client.responses.create({
      model: MODEL,
      input: "What is the weather in Paris?",
      tools,
    });
    const call = first.output.find((item) => item.type === "function_call");
    assert.ok(call && call.type === "function_call", "no function_call");
    assert.equal(call.name, "get_weather");
    assert.equal(call.call_id, "call_weather_1");
    assert.deepEqual(JSON.parse(call.arguments), { city: "Paris" });

    const second = await client.responses.create({
      model: MODEL,
      tools,
      input: [
        { role: "user", content: "What is the weather in Paris?" },
        call,
        {
          type: "function_call_output",
          call_id: call.call_id,
          output: "22 degrees and sunny",
        },
      ],
    });
    assert.match(second.output_text, /22 degrees and sunny/);
  });

  it("lists the account's models when no service is announced, as a client of the configured version sees them", async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((model) => model.id), [
      ...DEFAULT_FAKE_MODELS,
      ...Object.keys(DEFAULT_FAKE_GATED_MODELS),
    ]);
    assert.equal(list.data[0].object, "model");
  });

  it("logs one line per request to stderr without secrets", () => {
    const lines = serve.stderr().split("\n").filter((line) =>
      line.includes("POST /v1/responses")
    );
    assert.ok(lines.length >= 4, serve.stderr());
    assert.match(
      lines[0],
      / POST \/v1\/responses gpt-5\.4 200 \d+ms tokens in=\d+ out=\d+$/,
    );
    assert.ok(!serve.stderr().includes("eyJ"), "a token in the log");
  });

  // Last: the usage limit blocks the provider until it resets.
  it("raises a 429 RateLimitError for a usage limit", async () => {
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 120 });
    await assert.rejects(
      client.responses.create({ model: MODEL, input: "one more" }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.RateLimitError, String(error));
        assert.equal(error.status, 429);
        return true;
      },
    );
    const health = await (await fetch(`${baseUrl}/health`)).json();
    assert.equal(health.status, "usage_limited");
  });
});

describe("serve: a client that goes away", () => {
  // Its own serve process, so that a slot one of these tests leaves taken
  // cannot fail the other tests; each test counts from the slots taken
  // before it, so that it cannot fail the next one either.
  let own: CliProcess;
  let ownUrl: string;

  before(async () => {
    // The SDK tests end with a usage limit on the simulated backend.
    backend.reset();
    own = startCli(["serve", "--port", "0"], {
      OPENAI_RESPONSES_AUTH_FILE: join(folder, "auth.json"),
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: tokens.url,
      ANTSEED_MAX_CONCURRENCY: "4",
    });
    const match = await own.waitForOutput(/listening on (http:\S+)\n/);
    ownUrl = match[1];
  });
  after(async () => {
    await own?.kill();
  });

  async function taken(): Promise<number> {
    const health = await (await fetch(`${ownUrl}/health`)).json();
    return health.capacity.current;
  }

  /** Polls /health until `slots` are taken; resolves with the last count. */
  async function waitForSlots(slots: number, ms: number): Promise<number> {
    const deadline = Date.now() + ms;
    let current = await taken();
    while (current !== slots && Date.now() < deadline) {
      await sleep(25);
      current = await taken();
    }
    return current;
  }

  it("frees the slot within 2 s when the client aborts a stream", async () => {
    const before = await taken();
    const upstreamBefore = backend.inFlight;
    backend.enqueue({ kind: "stall" });
    const abort = new AbortController();
    const response = await fetch(`${ownUrl}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, input: "stall", stream: true }),
      signal: abort.signal,
    });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    await reader.read();
    assert.equal(await taken(), before + 1);
    abort.abort();
    await reader.cancel().catch(() => {});
    const after = await waitForSlots(before, 2000);
    assert.equal(after, before, "slot still taken 2 s after the abort");
    // The upstream socket's close reaches the fake backend a moment later.
    const deadline = Date.now() + 2000;
    while (backend.inFlight > upstreamBefore && Date.now() < deadline) {
      await sleep(10);
    }
    assert.equal(backend.inFlight, upstreamBefore, "upstream exchange open");
  });

  it("frees the slot within 2 s when the client aborts before the answer starts", async () => {
    const before = await taken();
    backend.enqueue({ kind: "headers_never" });
    const abort = new AbortController();
    const pending = fetch(`${ownUrl}/v1/responses`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, input: "wait", stream: true }),
      signal: abort.signal,
    }).catch(() => undefined);
    assert.equal(await waitForSlots(before + 1, 2000), before + 1);
    abort.abort();
    await pending;
    const after = await waitForSlots(before, 2000);
    assert.equal(after, before, "slot still taken 2 s after the abort");
  });
});

describe("serve shutdown", () => {
  it("lets a stream in flight finish on SIGTERM, then exits 0", async () => {
    backend.reset();
    const second = startCli(["serve", "--port", "0"], {
      OPENAI_RESPONSES_AUTH_FILE: join(folder, "auth.json"),
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: tokens.url,
    });
    try {
      const match = await second.waitForOutput(/listening on (http:\S+)\n/);
      backend.enqueue({
        kind: "text",
        text: "one two three four five six seven eight",
        eventDelayMs: 40,
      });
      const response = await fetch(`${match[1]}/v1/responses`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, input: "slow", stream: true }),
      });
      const reader = response.body!.getReader();
      await reader.read();
      // process.kill, not child.kill: Deno's child_process reports any child
      // it was asked to kill as killed by that signal, whatever its exit code.
      process.kill(second.child.pid!, "SIGTERM");
      let text = "";
      const decoder = new TextDecoder();
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      assert.match(text, /event: response\.completed/);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        second.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no exit in 5 s")), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.equal(result.code, 0, `${result.signal} ${result.stderr}`);
      assert.match(result.stderr, /SIGTERM: stopping/);
    } finally {
      await second.kill();
    }
  });
});

describe("serve refusals", () => {
  it("refuses a non-loopback host without an API key with exit 2", async () => {
    const result = await runCliProcess(["serve", "--host", "0.0.0.0"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: Refusing to listen on "0\.0\.0\.0" without OPENAI_RESPONSES_SERVE_API_KEY/,
    );
  });

  it("exits 1 with the credentials message when the login is unusable", async () => {
    const result = await runCliProcess(["serve", "--port", "0"], {
      OPENAI_RESPONSES_AUTH_FILE: join(folder, "missing.json"),
      OPENAI_RESPONSES_TOKEN_URL: tokens.url,
    });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot read Codex credentials at .*file not found/,
    );
    assert.ok(!result.stdout.includes("listening"));
  });
});

describe("serve in-process", () => {
  it("requires OPENAI_RESPONSES_SERVE_API_KEY as a bearer token when it is set", async () => {
    const out: string[] = [];
    let stop: (signal: string) => void = () => {};
    const io: CliIo = {
      env: { OPENAI_RESPONSES_SERVE_API_KEY: "local-key-789" },
      stdout: (text) => void out.push(text),
      stderr: () => {},
      listen: serveWithNodeHttp,
      onShutdownSignal(handler) {
        stop = handler;
        return () => {};
      },
      homeDir: "/nonexistent",
    };
    const running = runServe(
      {
        OPENAI_RESPONSES_AUTH_FILE: join(folder, "auth.json"),
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: tokens.url,
      },
      io,
      { port: 0 },
    );
    let url: string | undefined;
    try {
      const start = Date.now();
      while (!url && Date.now() - start < 5000) {
        url = out.join("").match(/listening on (http:\S+)\n/)?.[1];
        if (!url) await sleep(10);
      }
      assert.ok(url, "not listening");
      const refused = await fetch(`${url}/health`);
      assert.equal(refused.status, 401);
      assert.equal((await refused.json()).error.code, "invalid_api_key");
      const keyed = new OpenAI({
        baseURL: `${url}/v1`,
        apiKey: "local-key-789",
        maxRetries: 0,
      });
      const list = await keyed.models.list();
      assert.ok(list.data.length > 0);
    } finally {
      stop("SIGTERM");
      assert.equal(await running, 0);
    }
  });
});
