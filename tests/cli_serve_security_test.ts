// `serve` as a child process (Deno: cli.ts, Node: dist/cli.js) against what a
// web page can send it: a foreign `Host` (DNS rebinding), an `Origin`, a
// "simple" text/plain POST. Requests go over a raw socket so the `host`,
// `origin` and `content-type` on the wire are exactly the test's.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import {
  type CliProcess,
  runCliProcess,
  startCli,
} from "./fixtures/cli_process.ts";

const MODEL = "gpt-5.4";
const LISTED_ORIGIN = "http://localhost:3000";
const FOREIGN_ORIGIN = "https://evil.example";
const API_KEY = "security-test-key-5150";

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface RawRequest {
  method?: string;
  path: string;
  /** Sent exactly as given (names and values); no header is added but `connection` and `content-length`. */
  headers?: Record<string, string>;
  body?: string;
  /** `HTTP/1.1` unless told. */
  version?: string;
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf("\r\n", offset);
    if (lineEnd === -1) break;
    const size = parseInt(body.subarray(offset, lineEnd).toString(), 16);
    if (!(size > 0)) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** One HTTP request over a fresh socket to 127.0.0.1:`port`, read to the end. */
function rawRequest(port: number, request: RawRequest): Promise<RawAnswer> {
  const lines = [
    `${request.method ?? "GET"} ${request.path} ${
      request.version ?? "HTTP/1.1"
    }`,
  ];
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    lines.push(`${name}: ${value}`);
  }
  lines.push("connection: close");
  const body = new TextEncoder().encode(request.body ?? "");
  if (request.body !== undefined) lines.push(`content-length: ${body.length}`);
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 10 s to ${lines[0]}`));
    }, 10_000);
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("end", () => {
      clearTimeout(timer);
      const all = Buffer.concat(received);
      const split = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, split).toString("latin1").split("\r\n");
      const status = Number(head[0].split(" ")[1]);
      const headers: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const colon = line.indexOf(":");
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined
          ? value
          : `${headers[name]}, ${value}`;
      }
      let rest: Buffer = all.subarray(split + 4);
      if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        rest = dechunk(rest);
      }
      resolve({ status, headers, body: rest.toString("utf8") });
    });
    // No half-close: a server may take the end of the request stream for a
    // client that went away. `connection: close` ends the exchange.
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    socket.write(body);
  });
}

function errorCode(answer: RawAnswer): string | undefined {
  try {
    const body = JSON.parse(answer.body);
    assert.equal(typeof body.error.message, "string");
    assert.equal(typeof body.error.type, "string");
    return body.error.code;
  } catch {
    return undefined;
  }
}

const RESPONSES_BODY = JSON.stringify({ model: MODEL, input: "Hello there" });

let folder: string;
let backend: FakeCodexBackend;
let tokens: FakeTokenEndpoint;
let loopback: CliProcess;
let loopbackPort: number;
let open: CliProcess;
let openPort: number;

async function startServe(
  args: string[],
  env: Record<string, string>,
): Promise<{ serve: CliProcess; port: number }> {
  const serve = startCli(["serve", "--port", "0", ...args], {
    OPENAI_RESPONSES_AUTH_FILE: join(folder, "auth.json"),
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: tokens.url,
    ...env,
  });
  const match = await serve.waitForOutput(/listening on http:\S+:(\d+)\n/);
  return { serve, port: Number(match[1]) };
}

/** Requests the backend received since `before`. */
function upstreamSince(before: number): string[] {
  // The login's model catalog, read in the background on first use, is not
  // what these tests are about.
  return backend.requests.slice(before).filter((request) =>
    !request.path.endsWith("/codex/models")
  ).map((request) => `${request.method} ${request.path}`);
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), "cli-serve-security-test-"));
  backend = await startFakeCodexBackend();
  tokens = await startFakeTokenEndpoint();
  await writeFile(join(folder, "auth.json"), JSON.stringify(makeAuthJson()), {
    mode: 0o600,
  });
  ({ serve: loopback, port: loopbackPort } = await startServe([], {
    OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS:
      `${LISTED_ORIGIN}, http://127.0.0.1:5173`,
  }));
  // Bound to every interface, so only with a key; the test talks to 127.0.0.1.
  ({ serve: open, port: openPort } = await startServe(["--host", "0.0.0.0"], {
    OPENAI_RESPONSES_SERVE_API_KEY: API_KEY,
  }));
});

after(async () => {
  await loopback?.kill();
  await open?.kill();
  await backend?.close();
  await tokens?.close();
  await rm(folder, { recursive: true, force: true });
});

describe("serve on loopback: the host header", () => {
  it("refuses POST /v1/responses for a foreign host with 421 invalid_host and no upstream call", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(loopbackPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `rebound.evil.example:${loopbackPort}`,
        "content-type": "application/json",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
    assert.match(answer.headers["content-type"], /^application\/json/);
    assert.deepEqual(upstreamSince(before), []);
  });

  it("refuses GET /health for a foreign host, so a rebound page cannot read it", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: `rebound.evil.example:${loopbackPort}` },
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
    assert.ok(!answer.body.includes("capacity"), answer.body);
  });

  it("refuses GET /v1/models for a foreign host without asking the backend", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(loopbackPort, {
      path: "/v1/models",
      headers: { host: `rebound.evil.example:${loopbackPort}` },
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
    assert.deepEqual(upstreamSince(before), []);
  });

  it("refuses a loopback name with another port", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: `localhost:${loopbackPort === 1 ? 2 : 1}` },
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
  });

  it("refuses a loopback name without the port (that means port 80)", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: "localhost" },
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
  });

  it("logs the refusal with its code", async () => {
    await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: `logged.evil.example:${loopbackPort}` },
    });
    assert.match(loopback.stderr(), / GET \/health - 421 invalid_host \d+ms/);
  });

  it("serves the bound address, localhost, 127.0.0.1 and [::1] with the port, in any case", async () => {
    for (
      const host of [
        `127.0.0.1:${loopbackPort}`,
        `localhost:${loopbackPort}`,
        `LocalHost:${loopbackPort}`,
        `[::1]:${loopbackPort}`,
      ]
    ) {
      const answer = await rawRequest(loopbackPort, {
        path: "/health",
        headers: { host },
      });
      assert.equal(answer.status, 200, `${host}: ${answer.body}`);
    }
  });

  it("serves an HTTP/1.0 request without a host header (no browser sends one)", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      version: "HTTP/1.0",
    });
    assert.equal(answer.status, 200, answer.body);
  });
});

describe("serve on loopback: the origin header", () => {
  it("refuses a text/plain simple POST from a web page with 403 origin_not_allowed and no upstream call", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(loopbackPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `127.0.0.1:${loopbackPort}`,
        origin: FOREIGN_ORIGIN,
        "content-type": "text/plain;charset=UTF-8",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
    assert.equal(answer.headers["access-control-allow-origin"], undefined);
    assert.deepEqual(upstreamSince(before), []);
  });

  it("refuses a JSON POST from an unlisted origin", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(loopbackPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `127.0.0.1:${loopbackPort}`,
        origin: "http://localhost:3001",
        "content-type": "application/json",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
    assert.deepEqual(upstreamSince(before), []);
  });

  it("refuses GET /health from an unlisted origin", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: `localhost:${loopbackPort}`, origin: FOREIGN_ORIGIN },
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
  });

  it('refuses the opaque origin "null" (sandboxed frames, files)', async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: { host: `localhost:${loopbackPort}`, origin: "null" },
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
  });

  it("refuses the preflight of an unlisted origin with 403 origin_not_allowed", async () => {
    const answer = await rawRequest(loopbackPort, {
      method: "OPTIONS",
      path: "/v1/responses",
      headers: {
        host: `127.0.0.1:${loopbackPort}`,
        origin: FOREIGN_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
    assert.equal(answer.headers["access-control-allow-origin"], undefined);
  });

  it("answers the preflight of a listed origin with 204 and the CORS headers", async () => {
    const answer = await rawRequest(loopbackPort, {
      method: "OPTIONS",
      path: "/v1/responses",
      headers: {
        host: `localhost:${loopbackPort}`,
        origin: LISTED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers":
          "authorization,content-type,x-stainless-os",
      },
    });
    assert.equal(answer.status, 204, answer.body);
    assert.equal(answer.headers["access-control-allow-origin"], LISTED_ORIGIN);
    assert.match(answer.headers["access-control-allow-methods"], /\bPOST\b/);
    const allowed = answer.headers["access-control-allow-headers"]
      .toLowerCase();
    for (const name of ["authorization", "content-type", "x-stainless-os"]) {
      assert.ok(allowed.includes(name), `${name} not in ${allowed}`);
    }
    assert.ok(Number(answer.headers["access-control-max-age"]) > 0);
    assert.match(answer.headers["vary"], /\borigin\b/i);
  });

  it("serves a JSON POST from a listed origin with access-control-allow-origin", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(loopbackPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `localhost:${loopbackPort}`,
        origin: LISTED_ORIGIN,
        "content-type": "application/json",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).status, "completed");
    assert.equal(answer.headers["access-control-allow-origin"], LISTED_ORIGIN);
    assert.match(answer.headers["vary"], /\borigin\b/i);
    assert.deepEqual(upstreamSince(before), [
      "POST /backend-api/codex/responses",
    ]);
  });

  it("serves GET /health to the second listed origin", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: {
        host: `127.0.0.1:${loopbackPort}`,
        origin: "http://127.0.0.1:5173",
      },
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(
      answer.headers["access-control-allow-origin"],
      "http://127.0.0.1:5173",
    );
  });

  it("checks the host before the origin", async () => {
    const answer = await rawRequest(loopbackPort, {
      path: "/health",
      headers: {
        host: `rebound.evil.example:${loopbackPort}`,
        origin: LISTED_ORIGIN,
      },
    });
    assert.equal(answer.status, 421, answer.body);
    assert.equal(errorCode(answer), "invalid_host");
  });
});

describe("serve on loopback: the content type", () => {
  for (
    const [label, headers] of [
      ["text/plain", { "content-type": "text/plain" }],
      ["form data", { "content-type": "application/x-www-form-urlencoded" }],
      ["no content type", {}],
    ] as const
  ) {
    it(`refuses a POST /v1/responses with ${label} with 415 unsupported_media_type and no upstream call`, async () => {
      const before = backend.requests.length;
      const answer = await rawRequest(loopbackPort, {
        method: "POST",
        path: "/v1/responses",
        headers: { host: `127.0.0.1:${loopbackPort}`, ...headers },
        body: RESPONSES_BODY,
      });
      assert.equal(answer.status, 415, answer.body);
      assert.equal(errorCode(answer), "unsupported_media_type");
      assert.deepEqual(upstreamSince(before), []);
    });
  }

  it("serves application/json with a charset parameter", async () => {
    const answer = await rawRequest(loopbackPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `127.0.0.1:${loopbackPort}`,
        "content-type": "Application/JSON; charset=utf-8",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 200, answer.body);
    assert.equal(JSON.parse(answer.body).status, "completed");
  });
});

describe("serve on loopback: local programs", () => {
  it("serves the OpenAI SDK (no origin) as before", async () => {
    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${loopbackPort}/v1`,
      apiKey: "unused",
      maxRetries: 0,
      timeout: 10_000,
    });
    const response = await client.responses.create({
      model: MODEL,
      input: "Hello there",
    });
    assert.equal(response.output_text, "Echo: Hello there");
    const stream = await client.responses.create({
      model: MODEL,
      input: "Stream this",
      stream: true,
    });
    let text = "";
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
    }
    assert.equal(text, "Echo: Stream this");
    const models = await client.models.list();
    assert.ok(models.data.length > 0);
  });

  it("serves fetch at http://localhost:<port> (no origin)", async () => {
    const response = await fetch(`http://localhost:${loopbackPort}/health`);
    assert.equal(response.status, 200);
    assert.equal((await response.json()).status, "ok");
  });
});

describe("serve on a non-loopback host, with the API key", () => {
  it("serves any host header when the key is given", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(openPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `seller.example.net:${openPort}`,
        authorization: `Bearer ${API_KEY}`,
        "content-type": "application/json",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(upstreamSince(before), [
      "POST /backend-api/codex/responses",
    ]);
  });

  it("still refuses a request without the key, whatever the host", async () => {
    const answer = await rawRequest(openPort, {
      path: "/health",
      headers: { host: `seller.example.net:${openPort}` },
    });
    assert.equal(answer.status, 401, answer.body);
    assert.equal(errorCode(answer), "invalid_api_key");
  });

  it("refuses an origin by default (no OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS), before the key", async () => {
    const before = backend.requests.length;
    const answer = await rawRequest(openPort, {
      method: "POST",
      path: "/v1/responses",
      headers: {
        host: `127.0.0.1:${openPort}`,
        origin: FOREIGN_ORIGIN,
        "content-type": "text/plain",
      },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 403, answer.body);
    assert.equal(errorCode(answer), "origin_not_allowed");
    assert.deepEqual(upstreamSince(before), []);
  });

  it("checks the key before the content type", async () => {
    const answer = await rawRequest(openPort, {
      method: "POST",
      path: "/v1/responses",
      headers: { host: `127.0.0.1:${openPort}`, "content-type": "text/plain" },
      body: RESPONSES_BODY,
    });
    assert.equal(answer.status, 401, answer.body);
    assert.equal(errorCode(answer), "invalid_api_key");
  });
});

describe("serve: OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS", () => {
  for (
    const value of [
      "http://localhost:3000/app",
      "*",
      "localhost:3000",
      "null",
    ]
  ) {
    it(`refuses to start with ${JSON.stringify(value)}, exit 1, naming the key`, async () => {
      const result = await runCliProcess(["serve", "--port", "0"], {
        OPENAI_RESPONSES_AUTH_FILE: join(folder, "auth.json"),
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: tokens.url,
        OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS:
          `http://localhost:5173,${value}`,
      }, 10_000);
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /^error: Invalid OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS: expected comma-separated origins/,
      );
      assert.ok(result.stderr.includes(JSON.stringify(value)), result.stderr);
      assert.ok(!result.stdout.includes("listening"));
    });
  }
});
