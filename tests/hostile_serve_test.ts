// Issue 19, the `serve` side: what a hostile client can do to the local
// server, tried against a real `serve` (Deno: cli.ts, Node: dist/cli.js) on
// 127.0.0.1 with its API key, `OPENAI_RESPONSES_LOG=requests` and short
// timeouts, over raw sockets, plus the parts that are the handler's or the
// log line's alone. One test per defect of the issue.

import {
  bearerToken,
  MAX_AUTHORIZATION_LENGTH,
} from "../src/serve/_api_key.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import { formatLogLine } from "../src/cli/log_line.ts";
import {
  createServerHandler,
  type ServedProvider,
} from "../src/serve/handler.ts";
import { type CliProcess, startCli } from "./fixtures/cli_process.ts";
import { openRaw } from "./fixtures/raw_socket.ts";

const MODEL = "gpt-5.4";
const API_KEY = "hostile-serve-key-1919";
/** Every timeout of the `serve` under test, in milliseconds. */
const TIMEOUT_MS = 300;

/** Characters a terminal or a log reader acts on, or that reorder a line. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028-\u202e\u2066-\u2069]/;

let folder: string;
let backend: FakeCodexBackend;
let tokens: FakeTokenEndpoint;
let serve: CliProcess;
let port: number;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A request head with the key and `connection: close`, unless told otherwise. */
function head(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): string {
  const all = {
    host: `127.0.0.1:${port}`,
    authorization: `Bearer ${API_KEY}`,
    connection: "close",
    ...headers,
  };
  const lines = [
    `${method} ${path} HTTP/1.1`,
    ...Object.entries(all).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** One whole exchange over a raw socket: the answer as latin1 text and how long it took. */
async function exchange(
  text: string,
  withinMs = 5_000,
): Promise<{ answer: string; ms: number }> {
  const started = performance.now();
  const connection = await openRaw(port, text);
  const closedAfter = await connection.closedWithin(withinMs);
  assert.ok(closedAfter !== undefined, `no answer within ${withinMs} ms`);
  return { answer: connection.received(), ms: performance.now() - started };
}

function post(body: unknown): string {
  const text = JSON.stringify(body);
  return head("POST", "/v1/responses", {
    "content-type": "application/json",
    "content-length": String(new TextEncoder().encode(text).length),
  }) + text;
}

/** Waits until standard error has a line matching `pattern` after `from`, then a little more for any line after it. */
async function linesAfter(from: number, pattern: RegExp): Promise<string[]> {
  for (let waited = 0; waited < 3_000; waited += 20) {
    if (pattern.test(serve.stderr().slice(from))) break;
    await sleep(20);
  }
  await sleep(200);
  return serve.stderr().slice(from).split("\n").filter((line) => line !== "");
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), "hostile-serve-test-"));
  backend = await startFakeCodexBackend();
  tokens = await startFakeTokenEndpoint();
  const authFile = join(folder, "auth.json");
  await writeFile(authFile, JSON.stringify(makeAuthJson()), { mode: 0o600 });
  serve = startCli(["serve", "--port", "0"], {
    OPENAI_RESPONSES_AUTH_FILE: authFile,
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: tokens.url,
    OPENAI_RESPONSES_SERVE_API_KEY: API_KEY,
    OPENAI_RESPONSES_LOG: "requests",
    OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS: String(TIMEOUT_MS),
    OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS: String(TIMEOUT_MS),
    OPENAI_RESPONSES_SERVE_KEEP_ALIVE_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  const match = await serve.waitForOutput(
    /listening on http:\/\/127\.0\.0\.1:(\d+)\n/,
  );
  port = Number(match[1]);
});

after(async () => {
  await serve?.kill();
  await backend?.close();
  await tokens?.close();
  await rm(folder, { recursive: true, force: true });
});

/** A provider that is never reached: every request here is refused before it. */
const UNREACHED: ServedProvider = {
  services: [],
  settings: {
    modelsUrl: "http://127.0.0.1:9/backend-api/codex/models",
    clientVersion: "0.0.0",
    originator: "codex_cli_rs",
    maxBodyBytes: 1024,
  },
  tokens: { getToken: () => Promise.reject(new Error("unreached")) },
  handleRequestStream: () => Promise.reject(new Error("unreached")),
  getCapacity: () => ({ current: 0, max: 1 }),
  getRateLimits: () => undefined,
  usageLimitedUntil: () => undefined,
};

/**
 * The fastest of a few answers of the handler to `authorization`, in
 * milliseconds, and its status: the first calls of a process are slow
 * (compilation, the first digest), a loaded machine now and then too.
 */
async function fastestRefusal(
  authorization: string,
): Promise<{ ms: number; status: number }> {
  const handler = createServerHandler(UNREACHED, { apiKey: API_KEY });
  let fastest = { ms: Number.POSITIVE_INFINITY, status: 0 };
  for (let attempt = 0; attempt < 5; attempt++) {
    const started = performance.now();
    const response = await handler(
      new Request("http://127.0.0.1/health", { headers: { authorization } }),
    );
    const ms = performance.now() - started;
    await response.body?.cancel();
    if (ms < fastest.ms) fastest = { ms, status: response.status };
    if (ms < 10 || ms > 1_000) break;
  }
  return fastest;
}

describe("hostile clients of serve", () => {
  it("defect 6: an authorization header full of spaces is answered at once, not in quadratic time, and a legitimate /health is not held up", async () => {
    // 64k spaces between two words: seconds with the old regular expression.
    const spaced = `Bearer x${" ".repeat(65_536)}y`;
    const huge = await fastestRefusal(spaced);
    assert.ok(huge.ms < 10, `answered in ${huge.ms.toFixed(1)} ms`);
    assert.equal(huge.status, 431);
    // Within the cap, the parsing itself is linear.
    const withinCap = await fastestRefusal(`Bearer x${" ".repeat(4_000)}y`);
    assert.ok(withinCap.ms < 10, `answered in ${withinCap.ms.toFixed(1)} ms`);
    assert.equal(withinCap.status, 401);

    // The reading itself, many times over at the cap's worst shape: linear
    // takes microseconds each; a backtracking expression takes milliseconds.
    const worst = `Bearer x${" ".repeat(MAX_AUTHORIZATION_LENGTH - 9)}y`;
    const started = performance.now();
    for (let i = 0; i < 50; i++) bearerToken(worst);
    const read = performance.now() - started;
    assert.ok(read < 50, `50 readings took ${read.toFixed(1)} ms`);

    // Over the wire: the same header to the real serve, and a /health at
    // the same time.
    const hostile = exchange(head("GET", "/health", { authorization: spaced }));
    await sleep(20);
    const health = await exchange(head("GET", "/health"));
    assert.match(health.answer, /^HTTP\/1\.1 200 /);
    assert.ok(health.ms < 1_000, `/health waited ${health.ms.toFixed(0)} ms`);
    const refused = await hostile;
    assert.match(refused.answer, /^HTTP\/1\.1 431 /);
    assert.ok(refused.ms < 1_000, `answered in ${refused.ms.toFixed(0)} ms`);
  });

  it("defect 8: a connection stopped mid-headers, a POST stopped mid-body and an idle keep-alive connection are each closed after their timeout", async () => {
    const upstream = () =>
      backend.requests.filter((request) => request.method === "POST").length;
    const before = upstream();
    const logFrom = serve.stderr().length;
    const [midHeaders, midBody, idle] = await Promise.all([
      openRaw(port, `GET /health HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`),
      openRaw(
        port,
        head("POST", "/v1/responses", {
          "content-type": "application/json",
          "content-length": "1000",
          connection: "keep-alive",
        }) + `{"model":"${MODEL}","input":"`,
      ),
      openRaw(port, head("GET", "/health", { connection: "keep-alive" })),
    ]);
    const [headersClosed, bodyClosed, idleClosed] = await Promise.all([
      midHeaders.closedWithin(3_000),
      midBody.closedWithin(3_000),
      // Node keeps an idle connection a second longer than told.
      idle.closedWithin(4_000),
    ]);

    assert.ok(headersClosed !== undefined, "mid-headers: still open after 3 s");
    assert.match(midHeaders.received(), /^HTTP\/1\.1 408 /);

    assert.ok(bodyClosed !== undefined, "mid-body: still open after 3 s");
    assert.match(midBody.received(), /^HTTP\/1\.1 408 /);
    assert.match(midBody.received(), /"code":"request_body_timeout"/);
    assert.equal(upstream(), before, "the body went upstream");

    assert.ok(
      idleClosed !== undefined,
      "idle keep-alive: still open after 4 s",
    );
    assert.ok(idleClosed >= TIMEOUT_MS, `idle closed after ${idleClosed} ms`);
    assert.match(idle.received(), /^HTTP\/1\.1 200 /);

    const lines = await linesAfter(logFrom, /408 request_body_timeout/);
    assert.ok(
      lines.some((line) =>
        / POST \/v1\/responses - 408 request_body_timeout \d+ms$/.test(line)
      ),
      lines.join("\n"),
    );
    // No provider slot is held by any of them.
    const health = await exchange(head("GET", "/health"));
    // One chunk of a chunked answer: the JSON between its first and last brace.
    const body = JSON.parse(
      health.answer.slice(
        health.answer.indexOf("{"),
        health.answer.lastIndexOf("}") + 1,
      ),
    );
    assert.equal(body.capacity.current, 0);
  });

  it("defect 11: a model name with line breaks, terminal sequences and bidirectional overrides reaches no log line raw", async () => {
    const hostile = "m\nFORGED 200 1ms\x1b]0;owned\x07\x9b31m\u202e";
    const logFrom = serve.stderr().length;
    const { answer } = await exchange(post({ model: hostile, input: "hi" }));
    assert.match(answer, /^HTTP\/1\.1 4\d\d /);
    const lines = await linesAfter(logFrom, /FORGED/);
    for (const line of lines) {
      assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
      assert.doesNotMatch(line, /^FORGED/, "a forged line");
    }
    assert.ok(
      lines.some((line) =>
        line.includes("m\\nFORGED 200 1ms\\x1b]0;owned\\x07\\x9b31m\\u202e")
      ),
      lines.join("\n"),
    );
    // serve's line formatter on its own: C1 controls and overrides too.
    const line = formatLogLine({
      method: "POST",
      path: "/v1/responses",
      service: "m\x9b2J\u202ex",
      status: 400,
      durationMs: 1,
    }, 0);
    assert.doesNotMatch(line, UNSAFE, JSON.stringify(line));
  });

  it("a method or a target no web Request can hold is refused 405 or 400 in the OpenAI error format, with a log line, and serve stays up", async () => {
    const logFrom = serve.stderr().length;
    const trace = await exchange(head("TRACE", "/v1/responses"));
    const connect = await exchange(head("CONNECT", "127.0.0.1:1"));
    const badTarget = await exchange(head("GET", "http://["));
    // TRACK never reaches serve's code: the HTTP parser of both runtimes
    // refuses it with a bare 400 and closes the connection.
    const track = await exchange(head("TRACK", "/health"));

    for (const { answer } of [trace, connect]) {
      assert.match(answer, /^HTTP\/1\.1 405 /, answer);
      assert.match(answer, /\r\nallow: GET, POST\r\n/i);
      assert.match(answer, /\r\ncontent-type: application\/json\r\n/i);
      // One chunk of a chunked answer, or the whole body: the JSON between
      // its first and last brace.
      const body = JSON.parse(
        answer.slice(answer.indexOf("{"), answer.lastIndexOf("}") + 1),
      );
      assert.equal(body.error.code, "method_not_allowed");
      assert.equal(body.error.type, "invalid_request_error");
    }
    assert.match(badTarget.answer, /^HTTP\/1\.1 400 /, badTarget.answer);
    assert.match(badTarget.answer, /"code":"invalid_request_target"/);
    assert.match(track.answer, /^HTTP\/1\.1 400 /, track.answer);

    const lines = await linesAfter(logFrom, /invalid_request_target/);
    for (
      const pattern of [
        / TRACE \/v1\/responses - 405 method_not_allowed \d+ms$/,
        / CONNECT 127\.0\.0\.1:1 - 405 method_not_allowed \d+ms$/,
        / GET http:\/\/\[ - 400 invalid_request_target \d+ms$/,
      ]
    ) {
      assert.ok(
        lines.some((line) => pattern.test(line)),
        `${pattern} in:\n${lines.join("\n")}`,
      );
    }
    const health = await exchange(head("GET", "/health"));
    assert.match(health.answer, /^HTTP\/1\.1 200 /);
  });

  it("defect 16: a broken upstream stream gives one log line with its code, not two", async () => {
    backend.enqueue({ kind: "reset_mid_stream" });
    const logFrom = serve.stderr().length;
    const { answer } = await exchange(post({ model: MODEL, input: "hi" }));
    assert.match(answer, /^HTTP\/1\.1 502 /);
    assert.match(answer, /"code":"upstream_stream_error"/);
    const lines = (await linesAfter(logFrom, /POST \/v1\/responses/)).filter(
      (line) => line.includes("POST /v1/responses"),
    );
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0],
      / POST \/v1\/responses gpt-5\.4 502 upstream_stream_error \d+ms$/,
    );
  });
});
