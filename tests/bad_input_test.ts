// Bad input: 1,200 generated malformed requests (fixed seed) against a
// provider with real credentials in a temp auth.json and the simulated
// backend: each gets a 4xx OpenAI-shaped error, none crashes the provider or
// reaches the backend, and no answer carries a secret.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import type { SerializedHttpResponse } from "../src/host_types.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import {
  type BadRequest,
  generateBadRequests,
} from "./fixtures/bad_requests.ts";
import { callProvider } from "./fakes/seller_node.ts";

const SEED = 0x5eed_2026;
const COUNT = 1200;
const SERVICE = "gpt-5.4";
const MAX_BODY_BYTES = 256 * 1024;
const decoder = new TextDecoder();

interface Answer {
  request: BadRequest;
  status: number;
  headers: Record<string, string>;
  text: string;
  mode: "stream" | "whole";
}

let backend: FakeCodexBackend;
let dir: string;
let authFile: string;
let accessToken: string;
let refreshToken: string;
let provider: OpenAIResponsesProvider;
let answers: Answer[] = [];

function responsePosts(): number {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  ).length;
}

function asAnswer(
  request: BadRequest,
  response: SerializedHttpResponse,
): Answer {
  return {
    request,
    status: response.statusCode,
    headers: response.headers,
    text: decoder.decode(response.body),
    mode: "whole",
  };
}

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await mkdtemp(join(tmpdir(), "bad-input-"));
  authFile = join(dir, "auth.json");
  const auth = makeAuthJson({ refreshToken: "rt_bad_input_0" });
  const tokens = auth.tokens as Record<string, string>;
  accessToken = tokens.access_token;
  refreshToken = tokens.refresh_token;
  await writeFile(authFile, JSON.stringify(auth), { mode: 0o600 });
  provider = createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: authFile,
    OPENAI_RESPONSES_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    ANTSEED_ALLOWED_SERVICES: SERVICE,
  });
  await provider.init();
  backend.reset();
  const requests = generateBadRequests(COUNT, {
    seed: SEED,
    service: SERVICE,
    maxBodyBytes: MAX_BODY_BYTES,
  });
  answers = [];
  for (let index = 0; index < requests.length; index++) {
    const request = requests[index];
    if (index % 2 === 0) {
      // Through the seller-node emulation (handleRequestStream), routing off
      // so that the provider itself sees every request.
      const result = await callProvider(provider, {
        path: request.path,
        headers: request.headers,
        body: request.body,
      }, { skipRouting: true });
      answers.push({
        request,
        status: result.status,
        headers: result.headers,
        text: result.text,
        mode: result.mode,
      });
    } else {
      const response = await provider.handleRequest({
        requestId: `bad-${index}`,
        method: "POST",
        path: request.path ?? "/v1/responses",
        headers: { "content-type": "application/json", ...request.headers },
        body: request.body,
      });
      answers.push(asAnswer(request, response));
    }
  }
});

after(async () => {
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function failures(check: (answer: Answer) => string | undefined): string[] {
  const found: string[] = [];
  for (const answer of answers) {
    const problem = check(answer);
    if (problem) found.push(`${answer.request.name}: ${problem}`);
  }
  return found;
}

function assertNone(found: string[]): void {
  assert.deepEqual(
    found.slice(0, 10),
    [],
    `${found.length} of ${answers.length} answers failed`,
  );
}

describe("bad input", () => {
  it("generates at least 1,000 requests covering every category", () => {
    assert.ok(answers.length >= 1000);
    const categories = new Set(
      answers.map((answer) => answer.request.category),
    );
    assert.ok(categories.size >= 12, [...categories].join(", "));
  });

  it("generates the same requests for the same seed", () => {
    const options = { seed: SEED, service: SERVICE, maxBodyBytes: 1024 };
    const first = generateBadRequests(50, options);
    const second = generateBadRequests(50, options);
    assert.deepEqual(first, second);
  });

  it("answers every malformed request with a 4xx status", () => {
    assertNone(
      failures((answer) =>
        answer.status >= 400 && answer.status < 500
          ? undefined
          : `status ${answer.status}: ${answer.text.slice(0, 200)}`
      ),
    );
  });

  it("answers with the expected status where only one is right (413 for bodies over the limit)", () => {
    assertNone(failures((answer) =>
      answer.request.status === undefined ||
        answer.status === answer.request.status
        ? undefined
        : `expected ${answer.request.status}, found ${answer.status}`
    ));
  });

  it("answers with an OpenAI-shaped JSON error body with a stable code", () => {
    assertNone(failures((answer) => {
      if (answer.mode !== "whole") return "a stream was started";
      if (!answer.headers["content-type"]?.includes("application/json")) {
        return `content-type ${answer.headers["content-type"]}`;
      }
      let body: { error?: Record<string, unknown> };
      try {
        body = JSON.parse(answer.text);
      } catch {
        return "body is not JSON";
      }
      const error = body.error;
      if (!error || typeof error !== "object") return "no error object";
      if (typeof error.message !== "string" || error.message === "") {
        return "no message";
      }
      if (typeof error.type !== "string") return "no type";
      if (typeof error.code !== "string" || !/^[a-z_]+$/.test(error.code)) {
        return `code ${String(error.code)}`;
      }
      return undefined;
    }));
  });

  it("makes no upstream call for any of them", () => {
    assert.equal(responsePosts(), 0);
  });

  it("puts no access token, refresh token, auth file path or home directory in any answer", () => {
    const secrets = [accessToken, refreshToken, authFile, dir, homedir()];
    assertNone(failures((answer) => {
      const all = answer.text + JSON.stringify(answer.headers);
      const found = secrets.find((secret) => all.includes(secret));
      return found === undefined ? undefined : "an answer carries a secret";
    }));
  });

  it("never answers with a CR or LF in a header name or value", () => {
    assertNone(
      failures((answer) =>
        Object.entries(answer.headers).some(([name, value]) =>
            /[\r\n]/.test(name) || /[\r\n]/.test(value)
          )
          ? "a header holds CR/LF"
          : undefined
      ),
    );
  });

  it("leaves no request in flight", () => {
    assert.equal(provider.getCapacity().current, 0);
  });

  it("still serves a good request afterwards", async () => {
    const before = responsePosts();
    const result = await callProvider(provider, {
      body: { model: SERVICE, input: "hello", stream: true },
    });
    assert.equal(result.status, 200);
    assert.equal(result.mode, "stream");
    assert.equal(result.doneCount, 1);
    assert.match(result.text, /response\.completed/);
    assert.equal(responsePosts(), before + 1);
  });
});

/** Requests whose faults the provider does not check itself today. */
function forwardedOddities(): [string, Uint8Array][] {
  const encoder = new TextEncoder();
  const json = (value: Record<string, unknown>) =>
    encoder.encode(JSON.stringify({ model: SERVICE, input: "hi", ...value }));
  const depth = 50_000;
  return [
    ["instructions: 42", json({ instructions: 42 })],
    ["instructions: {}", json({ instructions: { a: 1 } })],
    ['stream: "yes"', json({ stream: "yes" })],
    ["store: true", json({ store: true })],
    ["prompt_cache_key: 5", json({ prompt_cache_key: 5 })],
    ['parallel_tool_calls: "x"', json({ parallel_tool_calls: "x" })],
    ["tools: [1]", json({ tools: [1] })],
    ["input[0].content: 5", json({ input: [{ role: "user", content: 5 }] })],
    [
      "lone surrogate in input",
      encoder.encode(
        `{"model":"${SERVICE}","input":"\\ud800"}`,
      ),
    ],
    [
      `metadata nested ${depth} deep`,
      encoder.encode(
        `{"model":"${SERVICE}","input":"hi","metadata":${
          '{"a":'.repeat(depth)
        }1${"}".repeat(depth)}}`,
      ),
    ],
  ];
}

describe("fields the provider forwards or repairs", () => {
  it("answers wrong types in fields it does not check with 2xx or 4xx, never 5xx", async () => {
    const found: string[] = [];
    for (const [name, body] of forwardedOddities()) {
      const response = await provider.handleRequest({
        requestId: name,
        method: "POST",
        path: "/v1/responses",
        headers: { "content-type": "application/json" },
        body,
      });
      if (response.statusCode >= 500) {
        found.push(`${name}: ${response.statusCode}`);
      }
    }
    assert.deepEqual(found, []);
    assert.equal(provider.getCapacity().current, 0);
  });

  it(
    "relays a prompt_cache_key that cannot be a header value (CR/LF, non-Latin-1) under a derived session-id",
    async () => {
      for (const key of ["a\r\nx-injected: 1", "ключ"]) {
        const before = responsePosts();
        const response = await provider.handleRequest({
          requestId: "cache-key",
          method: "POST",
          path: "/v1/responses",
          headers: { "content-type": "application/json" },
          body: new TextEncoder().encode(
            JSON.stringify({
              model: SERVICE,
              input: "hi",
              prompt_cache_key: key,
            }),
          ),
        });
        assert.equal(response.statusCode, 200, decoder.decode(response.body));
        assert.equal(responsePosts(), before + 1);
        const sent = backend.requests.filter((request) =>
          request.path.endsWith("/codex/responses")
        ).at(-1)!;
        assert.match(
          sent.headers["session-id"],
          /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
        );
        assert.equal(sent.headers["x-injected"], undefined);
        assert.equal(
          (sent.body as Record<string, unknown>).prompt_cache_key,
          sent.headers["session-id"],
        );
      }
    },
  );
});
