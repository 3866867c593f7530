// A hostile buyer against the provider's pipeline (issue 19): what it can
// make the seller do before its request is admitted, what it can reach
// without a buyer id, and what a failure leaves behind.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import type { SerializedHttpRequest } from "../src/host_types.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const TOKEN = makeAccessToken({ accountId: "acct_hostile" });
const encoder = new TextEncoder();
let backend: FakeCodexBackend;

function provider(
  config: Record<string, string> = {},
  options: Parameters<typeof createProvider>[1] = {},
) {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    ...config,
  }, {
    tokenSource: fixedTokens("acct_hostile", TOKEN),
    onLog: () => {},
    ...options,
  });
}

function request(
  body: Uint8Array,
  headers: Record<string, string> = {},
): SerializedHttpRequest {
  return {
    requestId: crypto.randomUUID(),
    method: "POST",
    path: "/v1/responses",
    headers: { "content-type": "application/json", ...headers },
    body,
  };
}

/** Waits until the backend holds an exchange open (the slot is taken). */
async function upstreamOpen(): Promise<void> {
  while (backend.requests.length < 1 || backend.inFlight < 1) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function errorCode(body: Uint8Array): string | undefined {
  return JSON.parse(new TextDecoder().decode(body)).error?.code;
}

before(async () => {
  backend = await startFakeCodexBackend();
});
beforeEach(() => backend.reset());
after(async () => {
  await backend.close();
});

describe("a hostile buyer against the pipeline", () => {
  it("defect 7: a request refused for capacity is refused before its body is decoded or parsed", async () => {
    const p = provider({ ANTSEED_MAX_CONCURRENCY: "1" });
    backend.enqueue({ kind: "stall" });
    const controller = new AbortController();
    const holding = p.handleRequest(
      request(json({ model: "gpt-5.4", input: "Hold", stream: true })),
      { signal: controller.signal },
    );
    await upstreamOpen();
    // 8 MB bodies that are not JSON: a pipeline that parses before it
    // admits answers 400; one that admits first answers 429 at once.
    const garbage = new Uint8Array(8 * 1024 * 1024).fill(0x7b);
    const started = performance.now();
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          p.handleRequest(request(garbage)).then((response) => ({
            response,
            ms: performance.now() - started,
          })),
      ),
    );
    for (const { response, ms } of answers) {
      assert.equal(response.statusCode, 429);
      assert.equal(errorCode(response.body), "provider_at_capacity");
      assert.equal(response.headers["retry-after"], "1");
      assert.ok(ms < 1000, `refused after ${ms.toFixed(1)} ms`);
    }
    controller.abort();
    await holding;
    assert.equal(p.getCapacity().current, 0);
  });

  it("defect 7: a refused request never reads a compressed body", async () => {
    const p = provider({ ANTSEED_MAX_CONCURRENCY: "1" });
    backend.enqueue({ kind: "stall" });
    const controller = new AbortController();
    const holding = p.handleRequest(
      request(json({ model: "gpt-5.4", input: "Hold", stream: true })),
      { signal: controller.signal },
    );
    await upstreamOpen();
    const refused = await p.handleRequest(
      request(new Uint8Array([1, 2, 3]), { "content-encoding": "zstd" }),
    );
    assert.equal(refused.statusCode, 429);
    controller.abort();
    await holding;
  });

  it("defect 13: without a buyer id, a request stores nothing and resolves nothing", async () => {
    const p = provider();
    const first = await p.handleRequest(
      request(json({ model: "gpt-5.4", input: "Remember 42" })),
    );
    assert.equal(first.statusCode, 200);
    const id = JSON.parse(new TextDecoder().decode(first.body)).id;
    const next = await p.handleRequest(
      request(json({
        model: "gpt-5.4",
        input: "Which number?",
        previous_response_id: id,
      })),
    );
    assert.equal(next.statusCode, 400);
    assert.equal(errorCode(next.body), "previous_response_not_found");
    // An empty buyer id is no buyer id.
    const empty = await p.handleRequest(
      request(
        json({ model: "gpt-5.4", input: "Again", previous_response_id: id }),
        { "x-antseed-buyer-peer-id": "" },
      ),
    );
    assert.equal(empty.statusCode, 400);
  });

  it("defect 13: with a buyer id, the same conversation resolves for that buyer only", async () => {
    const p = provider();
    const first = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Remember 42" },
    }, { buyerPeerId: "peer-a" });
    const id = JSON.parse(first.text).id;
    const body = {
      model: "gpt-5.4",
      input: "Which?",
      previous_response_id: id,
    };
    const same = await callProvider(p, { body }, { buyerPeerId: "peer-a" });
    assert.equal(same.status, 200);
    const other = await callProvider(p, { body }, { buyerPeerId: "peer-b" });
    assert.equal(other.status, 400);
  });

  it("defect 16: a stream that breaks has its code in the log entry, the metrics and the default log", async () => {
    const entries: { code?: string; status: number }[] = [];
    const lines: string[] = [];
    const p = provider({}, {
      metrics: true,
      onRequestDone: (entry) => entries.push(entry),
      onLog: (line) => lines.push(line),
    });
    backend.enqueue({ kind: "reset_mid_stream" });
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Hi", stream: true },
    });
    assert.equal(result.status, 200);
    assert.equal(result.doneCount, 1);
    assert.equal(entries.length, 1);
    assert.equal(entries[0].code, "upstream_stream_error");
    assert.match(
      p.metrics(),
      /openai_responses_requests_total\{route="responses",status="200",code="upstream_stream_error"\} 1/,
    );
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], / 200 upstream_stream_error \d+ms/);
  });

  it("defect 16: a non-streamed response.failed is logged with its code at the default level", async () => {
    const lines: string[] = [];
    const p = provider({}, { onLog: (line) => lines.push(line) });
    backend.enqueue({ kind: "failed", code: "server_error" });
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Hi" },
    });
    assert.ok(result.status >= 500, String(result.status));
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(` ${result.status} server_error `));
  });

  it("defect 11: the provider's request line escapes the buyer's path and method", async () => {
    const lines: string[] = [];
    const p = provider({ OPENAI_RESPONSES_LOG: "requests" }, {
      onLog: (line) => lines.push(line),
    });
    await p.handleRequest({
      requestId: "r-forged",
      method: "POST\nrequest GET /health - 200 1ms",
      path: "/v1/x\x1b]0;owned\x07\nforged line",
      headers: {},
      body: new Uint8Array(0),
    });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0].includes("\n"), lines[0]);
    assert.ok(!lines[0].includes("\x1b"), lines[0]);
    assert.ok(!lines[0].includes("\x07"), lines[0]);
  });

  it("releases the login's slot after each request under a per-login cap", async () => {
    const p = provider({ OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY: "1" });
    for (let i = 0; i < 3; i++) {
      const result = await callProvider(p, {
        body: { model: "gpt-5.4", input: `Turn ${i}` },
      });
      assert.equal(result.status, 200, `request ${i}: ${result.text}`);
    }
    const [login] = await p.logins();
    assert.equal(login.inFlight, 0);
    assert.equal(login.state, "ok");
  });

  it("releases the login's slot after an attempt the backend refused", async () => {
    const p = provider({ OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY: "1" });
    backend.enqueue({ kind: "status", status: 400 });
    const refused = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Refused" },
    });
    assert.equal(refused.status, 400, refused.text);
    const [login] = await p.logins();
    assert.equal(login.inFlight, 0);
    const next = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Next" },
    });
    assert.equal(next.status, 200, next.text);
  });
});

describe("a buyer who leaves", () => {
  it("asks no token for a buyer who left before its exchange", async () => {
    const tokens = fixedTokens("acct_hostile", TOKEN);
    let asked = 0;
    const counting = {
      ...tokens,
      getToken: () => {
        asked++;
        return tokens.getToken();
      },
    };
    const p = provider({}, { tokenSource: counting });
    const controller = new AbortController();
    controller.abort();
    const response = await p.handleRequest(
      request(json({ model: "gpt-5.4", input: "Hi" })),
      { signal: controller.signal },
    );
    assert.equal(response.statusCode, 499);
    assert.equal(asked, 0);
    assert.equal(backend.requests.length, 0);
  });

  it("ends its request at once when it leaves while the token is fetched", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    const tokens = fixedTokens("acct_hostile", TOKEN);
    const slow = {
      ...tokens,
      getToken: async () => {
        await gate;
        return await tokens.getToken();
      },
    };
    // A missed abort would hold the stalled stream to its idle timeout.
    const p = provider({ OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "3000" }, {
      tokenSource: slow,
    });
    backend.enqueue({ kind: "stall" });
    const controller = new AbortController();
    const answer = p.handleRequest(
      request(json({ model: "gpt-5.4", input: "Hi", stream: true })),
      { signal: controller.signal },
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    release();
    const started = performance.now();
    const response = await answer;
    assert.ok(
      performance.now() - started < 2000,
      `ended after ${(performance.now() - started).toFixed(0)} ms`,
    );
    assert.equal(response.statusCode, 499);
    assert.equal(p.getCapacity().current, 0);
  });
});
