// The relay through an emulation of the seller node, against the simulated
// Codex backend (which rejects what the real backend rejects).

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { TokenSource } from "../src/auth/types.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { DEFAULT_USAGE_LIMIT_MS } from "../src/codex/errors.ts";
import { callProvider, parseBilledUsage } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";

const TOKEN = makeAccessToken({ accountId: ACCOUNT });
/** A UUID-shaped key, as the provider derives for the upstream conversation. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let backend: FakeCodexBackend;

function provider(
  config: Record<string, string> = {},
  tokens: TokenSource = fixedTokens(ACCOUNT, TOKEN),
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: "/home/seller/.codex/auth.json",
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4,fast",
    ANTSEED_SERVICE_ALIAS_MAP_JSON: '{"fast":"gpt-5.4-mini"}',
    ...config,
  }, { tokenSource: tokens, random: () => 0 });
}

function responsePosts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function json(text: string) {
  return JSON.parse(text);
}

// deno-lint-ignore no-explicit-any
function sseEvents(text: string): { event: string; data: any }[] {
  return text.split("\n\n").filter((frame) => frame.trim() !== "").map(
    (frame) => {
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? "message";
      const data = frame.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim()).join("\n");
      let parsed: unknown = data;
      try {
        parsed = JSON.parse(data);
      } catch {
        // keep the raw text
      }
      return { event, data: parsed };
    },
  );
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => {
  backend.reset();
});

describe("path and method gate", () => {
  it("answers 404 not_found for another path without an upstream call", async () => {
    const p = provider();
    const result = await callProvider(p, {
      path: "/v1/embeddings",
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 404);
    assert.equal(json(result.text).error.code, "not_found");
    assert.equal(typeof json(result.text).error.message, "string");
    assert.equal(typeof json(result.text).error.type, "string");
    assert.equal(responsePosts().length, 0);
    assert.equal(p.getCapacity().current, 0);
  });

  it("answers 405 method_not_allowed for GET /v1/responses", async () => {
    const p = provider();
    const result = await callProvider(p, {
      method: "GET",
      body: { model: "gpt-5.4" },
    });
    assert.equal(result.status, 405);
    assert.equal(json(result.text).error.code, "method_not_allowed");
    assert.equal(result.headers.allow, "POST");
    assert.equal(responsePosts().length, 0);
  });

  it("accepts a query string on /v1/responses", async () => {
    const result = await callProvider(provider(), {
      path: "/v1/responses?api-version=1",
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 200);
  });
});

describe("request validation", () => {
  it("answers 400 invalid_json for a body that is not JSON", async () => {
    const result = await callProvider(provider(), { body: "{nope" }, {
      skipRouting: true,
    });
    assert.equal(result.status, 400);
    assert.equal(json(result.text).error.code, "invalid_json");
    assert.equal(responsePosts().length, 0);
  });

  it("answers 400 invalid_json for JSON that is not an object", async () => {
    const result = await callProvider(provider(), { body: "[1,2]" }, {
      skipRouting: true,
    });
    assert.equal(result.status, 400);
    assert.equal(json(result.text).error.code, "invalid_json");
  });

  it("answers 413 for a body over the configured size", async () => {
    const result = await callProvider(
      provider({ OPENAI_RESPONSES_MAX_BODY_BYTES: "100" }),
      { body: { model: "gpt-5.4", input: "x".repeat(200) } },
    );
    assert.equal(result.status, 413);
    assert.equal(responsePosts().length, 0);
  });

  it("answers 400 model_not_allowed naming the allowed services", async () => {
    const result = await callProvider(provider(), {
      body: { model: "gpt-4o", input: "hi" },
    }, { skipRouting: true });
    assert.equal(result.status, 400);
    const error = json(result.text).error;
    assert.equal(error.code, "model_not_allowed");
    assert.match(error.message, /gpt-5\.4/);
    assert.match(error.message, /fast/);
    assert.equal(responsePosts().length, 0);
  });

  it("maps the announced service to the upstream model and drops `service`", async () => {
    const result = await callProvider(provider(), {
      body: { service: "fast", model: "ignored", input: "hi" },
    });
    assert.equal(result.status, 200);
    const sent = responsePosts()[0].body as Record<string, unknown>;
    assert.equal(sent.model, "gpt-5.4-mini");
    assert.equal("service" in sent, false);
  });
});

describe("request shaping", () => {
  it("turns what the backend rejects into what it accepts", async () => {
    const result = await callProvider(provider(), {
      body: {
        model: "gpt-5.4",
        stream: false,
        store: true,
        max_output_tokens: 100,
        temperature: 0.2,
        top_p: 1,
        user: "buyer-42",
        truncation: "auto",
        service_tier: "flex",
        input: [
          { role: "system", content: "Be brief." },
          { type: "item_reference", id: "msg_old" },
          {
            id: "msg_1",
            type: "message",
            role: "user",
            content: [{ type: "input_text", text: "hi" }],
          },
          { role: "system", content: "Late rule." },
        ],
      },
    });
    assert.equal(result.status, 200, result.text);
    const sent = responsePosts()[0].body as Record<string, unknown>;
    assert.equal(sent.stream, true);
    assert.equal(sent.store, false);
    assert.equal(sent.instructions, "Be brief.");
    for (
      const field of [
        "max_output_tokens",
        "temperature",
        "top_p",
        "user",
        "truncation",
        "service_tier",
      ]
    ) {
      assert.equal(field in sent, false, field);
    }
    const input = sent.input as Record<string, unknown>[];
    assert.equal(input.length, 2);
    assert.equal("id" in input[0], false);
    assert.equal(input[1].role, "developer");
  });

  it("keeps service_tier priority", async () => {
    await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", service_tier: "priority" },
    });
    const sent = responsePosts()[0].body as Record<string, unknown>;
    assert.equal(sent.service_tier, "priority");
  });

  it("sends the default instructions when the request has none", async () => {
    await callProvider(
      provider({ OPENAI_RESPONSES_DEFAULT_INSTRUCTIONS: "Answer well." }),
      { body: { model: "gpt-5.4", input: "hi" } },
    );
    const sent = responsePosts()[0].body as Record<string, unknown>;
    assert.equal(sent.instructions, "Answer well.");
  });

  it("builds the upstream headers from an allow-list", async () => {
    await callProvider(provider(), {
      headers: {
        authorization: "Bearer buyer-secret",
        cookie: "session=buyer",
        "x-antseed-buyer-peer-id": "peer",
        "x-forwarded-for": "10.0.0.9",
        "openai-organization": "org-buyer",
      },
      body: { model: "gpt-5.4", input: "hi", prompt_cache_key: "conv-7" },
    });
    const headers = responsePosts()[0].headers;
    assert.equal(headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(headers["chatgpt-account-id"], ACCOUNT);
    assert.equal(headers["content-type"], "application/json");
    assert.equal(headers.accept, "text/event-stream");
    assert.equal(headers["openai-beta"], undefined);
    assert.equal(headers.originator, "codex_cli_rs");
    assert.equal(headers.version, "0.171.0");
    // The buyer's key goes upstream only as a digest within its scope.
    assert.match(headers["session-id"], UUID);
    assert.equal(headers["thread-id"], headers["session-id"]);
    assert.equal(
      (responsePosts()[0].body as Record<string, unknown>).prompt_cache_key,
      headers["session-id"],
    );
    assert.match(headers["user-agent"], /^codex_cli_rs\/0\.171\.0 \(/);
    assert.equal(headers.cookie, undefined);
    assert.equal(headers["x-antseed-buyer-peer-id"], undefined);
    assert.equal(headers["x-forwarded-for"], undefined);
    assert.equal(headers["openai-organization"], undefined);
  });

  it("sends a header-safe key derived from a prompt_cache_key that cannot be a header value, the same for the same key", async () => {
    const p = provider();
    const keys = ["café-session", "café-session", "é".repeat(64)];
    for (const key of keys) {
      const result = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi", prompt_cache_key: key },
      });
      assert.equal(result.status, 200, result.text);
    }
    const posts = responsePosts();
    assert.deepEqual(
      posts.map((post) =>
        (post.body as Record<string, unknown>).prompt_cache_key
      ),
      posts.map((post) => post.headers["session-id"]),
    );
    const [first, again, long] = posts.map((post) =>
      post.headers["session-id"]
    );
    assert.match(first, UUID);
    assert.equal(again, first, "the same key, the same session");
    assert.match(long, UUID);
    assert.notEqual(long, first);
  });

  it("sends no header of a prompt_cache_key holding CR/LF", async () => {
    const result = await callProvider(provider(), {
      body: {
        model: "gpt-5.4",
        input: "hi",
        prompt_cache_key: "conv\r\nx-injected: 1",
      },
    });
    assert.equal(result.status, 200, result.text);
    const headers = responsePosts()[0].headers;
    assert.equal(headers["x-injected"], undefined);
    assert.match(headers["session-id"], UUID);
  });

  it("sends a fresh UUID session-id for a request that names no buyer", async () => {
    const p = provider();
    const body = { model: "gpt-5.4", input: "a", prompt_cache_key: "conv-1" };
    await callProvider(p, { body }, { buyerPeerId: "" });
    await callProvider(p, { body }, { buyerPeerId: "" });
    const [first, second] = responsePosts().map((r) => r.headers["session-id"]);
    assert.match(first, /^[0-9a-f-]{36}$/);
    assert.notEqual(first, second);
  });
});

describe("streaming buyer", () => {
  it("starts one stream, passes the bytes, ends with one done chunk", async () => {
    backend.enqueue({ kind: "text", text: "Hello streaming world" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.deepEqual(result.violations, []);
    assert.equal(result.mode, "stream");
    assert.equal(result.status, 200);
    assert.equal(result.headers["content-type"], "text/event-stream");
    assert.equal(result.headers["x-antseed-streaming"], "1");
    assert.equal(result.doneCount, 1);
    const events = sseEvents(result.text);
    const deltas = events.filter((e) =>
      e.event === "response.output_text.delta"
    )
      .map((e) => e.data.delta).join("");
    assert.equal(deltas, "Hello streaming world");
    assert.equal(events.at(-1)!.event, "response.completed");
    // The resolved body is only billed from: the stream's last event (which
    // carries the usage), byte for byte, not a copy of the whole stream.
    const resolved = new TextDecoder().decode(result.resolved!.body);
    assert.ok(resolved.startsWith("event: response.completed\n"), resolved);
    assert.ok(result.text.endsWith(resolved));
    assert.deepEqual(
      result.usage,
      parseBilledUsage({
        ...result.resolved!,
        body: new TextEncoder().encode(result.text),
      }),
    );
    assert.equal(result.resolved!.headers["x-antseed-streaming"], undefined);
    assert.ok(result.usage && result.usage.output > 0);
  });

  it("delivers chunks before the upstream finishes", async () => {
    backend.enqueue({ kind: "text", text: "a b c d", pauseAfterEvents: 3 });
    const p = provider();
    const pending = callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    // Wait until the provider holds the paused stream, then look.
    const deadline = Date.now() + 3000;
    while (p.getCapacity().current === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
    const pausedAt = Date.now();
    backend.release();
    const result = await pending;
    const early = result.chunks.filter((chunk) => chunk.at < pausedAt);
    assert.ok(early.length > 0, "chunks arrived during the pause");
    assert.match(
      new TextDecoder().decode(early[0].data),
      /event: response\.created/,
    );
    assert.equal(result.doneCount, 1);
  });

  it("sets text/event-stream when the backend omits content-type", async () => {
    const bare = await startFakeCodexBackend({ omitContentType: true });
    try {
      const p = createProvider({
        OPENAI_RESPONSES_BASE_URL: bare.baseUrl,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, { tokenSource: fixedTokens(ACCOUNT, TOKEN) });
      const result = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi", stream: true },
      });
      assert.equal(result.headers["content-type"], "text/event-stream");
      assert.equal(result.doneCount, 1);
    } finally {
      await bare.close();
    }
  });

  it("forwards no upstream header but content-type and cache-control", async () => {
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.deepEqual(Object.keys(result.headers).sort(), [
      "cache-control",
      "content-type",
      "x-antseed-streaming",
    ]);
  });

  it("appends response.failed and a done chunk when the stream breaks", async () => {
    backend.enqueue({ kind: "reset_mid_stream", afterEvents: 4 });
    const p = provider();
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.equal(result.doneCount, 1);
    const last = sseEvents(result.text).at(-1)!;
    assert.equal(last.event, "response.failed");
    assert.equal(last.data.type, "response.failed");
    assert.equal(last.data.response.error.code, "upstream_stream_error");
    assert.equal(p.getCapacity().current, 0);
    // No usage to bill: the resolved body is the stream as the buyer got it,
    // which the node's metering estimates from.
    assert.equal(new TextDecoder().decode(result.resolved!.body), result.text);
  });

  it("appends response.failed when the stream ends with no terminal event", async () => {
    backend.enqueue({ kind: "no_terminal" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    const last = sseEvents(result.text).at(-1)!;
    assert.equal(last.event, "response.failed");
    assert.equal(last.data.response.error.code, "upstream_stream_incomplete");
    assert.equal(result.doneCount, 1);
  });

  it("terminates a truncated event before appending response.failed", async () => {
    backend.enqueue({ kind: "truncated" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.equal(result.doneCount, 1);
    const tail = result.text.slice(result.text.lastIndexOf("event: "));
    assert.match(tail, /^event: response\.failed\ndata: .*\n\n$/);
    assert.match(result.text, /\n\nevent: response\.failed\n/);
    const last = sseEvents(result.text).at(-1)!;
    assert.equal(last.data.response.error.code, "upstream_stream_incomplete");
  });

  it("passes an upstream error event through without appending another", async () => {
    backend.enqueue({ kind: "error_event", code: "server_error" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    const events = sseEvents(result.text);
    assert.equal(events.at(-1)!.event, "error");
    assert.equal(
      events.filter((e) => e.event === "response.failed").length,
      0,
    );
    assert.equal(result.doneCount, 1);
    // A terminal event without usage: the resolved body is still the whole
    // stream, for the node's metering estimate.
    assert.equal(new TextDecoder().decode(result.resolved!.body), result.text);
  });

  it("ends a stalled stream within 3 s with a 1 s idle timeout", async () => {
    backend.enqueue({ kind: "stall", afterEvents: 3 });
    const p = provider({ OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "1000" });
    const started = Date.now();
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 3000, `ended after ${elapsed} ms`);
    assert.ok(elapsed >= 900, `waited for the idle timeout (${elapsed} ms)`);
    const last = sseEvents(result.text).at(-1)!;
    assert.equal(last.data.response.error.code, "upstream_idle_timeout");
    assert.equal(result.doneCount, 1);
    assert.equal(p.getCapacity().current, 0);
  });

  it("survives a throwing callback and cancels the upstream", async () => {
    backend.enqueue({ kind: "large", deltas: 2000 });
    const p = provider();
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    }, { throwAfterChunks: 1 });
    assert.equal(result.thrown, undefined);
    assert.equal(result.doneCount, 1, "the done chunk is still attempted");
    assert.equal(p.getCapacity().current, 0);
    const deadline = Date.now() + 2000;
    while (backend.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(backend.inFlight, 0, "upstream exchange closed");
    assert.ok(
      result.resolved!.body.byteLength < 2000 * 20,
      "stopped reading the upstream",
    );
  });

  it("stops and cancels the upstream when onResponseStart throws, and releases the slot", async () => {
    backend.enqueue({ kind: "large", deltas: 2000 });
    const p = provider();
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    }, { throwOnStart: true });
    assert.equal(result.thrown, undefined);
    // Nothing more reaches the node: no chunk, no done chunk.
    assert.deepEqual(result.violations, []);
    assert.equal(result.startCalls, 1);
    assert.equal(p.getCapacity().current, 0);
    const deadline = Date.now() + 2000;
    while (backend.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(backend.inFlight, 0, "upstream exchange closed");
    assert.ok(
      result.resolved!.body.byteLength < 2000 * 20,
      "stopped reading the upstream",
    );
  });
});

describe("non-streaming buyer", () => {
  it("answers the final Response object as JSON without starting a stream", async () => {
    backend.enqueue({ kind: "text", text: "Whole answer" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.mode, "whole");
    assert.equal(result.startCalls, 0, "no onResponseStart");
    assert.equal(result.status, 200);
    assert.equal(result.headers["content-type"], "application/json");
    const response = json(result.text);
    assert.equal(response.object, "response");
    assert.equal(response.status, "completed");
    assert.equal(response.output.at(-1).content[0].text, "Whole answer");
    assert.ok(result.usage && result.usage.input > 0);
  });

  it("rebuilds an empty completed output from the streamed items", async () => {
    backend.enqueue({
      kind: "text",
      text: "Rebuilt text",
      emptyCompletedOutput: true,
    });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    const response = json(result.text);
    const message = response.output.find((item: { type: string }) =>
      item.type === "message"
    );
    assert.equal(message.content[0].text, "Rebuilt text");
    assert.ok(response.usage.output_tokens > 0);
    assert.ok(result.usage && result.usage.output > 0);
  });

  it("answers 200 with status incomplete for response.incomplete", async () => {
    backend.enqueue({ kind: "incomplete", reason: "max_output_tokens" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 200);
    assert.equal(json(result.text).status, "incomplete");
  });

  it("maps response.failed codes to fitting statuses", async () => {
    const cases: [string, number][] = [
      ["context_length_exceeded", 400],
      ["server_is_overloaded", 503],
      ["insufficient_quota", 429],
      ["something_else", 502],
    ];
    for (const [code, status] of cases) {
      backend.enqueue({ kind: "failed", code });
      const result = await callProvider(provider(), {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(result.status, status, code);
      assert.equal(json(result.text).error.code, code);
    }
  });

  it("answers an upstream error event as an OpenAI-shaped error", async () => {
    backend.enqueue({
      kind: "error_event",
      code: "server_error",
      message: "boom",
    });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 502);
    assert.equal(json(result.text).error.code, "server_error");
  });

  it("answers an error when the stream ends with no terminal event", async () => {
    backend.enqueue({ kind: "no_terminal" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 502);
    assert.equal(json(result.text).error.code, "upstream_stream_incomplete");
  });
});

describe("handleRequest (no callbacks)", () => {
  it("returns a streaming buyer's SSE body whole", async () => {
    backend.enqueue({ kind: "text", text: "whole stream" });
    const response = await provider().handleRequest({
      requestId: "r1",
      method: "POST",
      path: "/v1/responses",
      headers: {},
      body: new TextEncoder().encode(
        JSON.stringify({ model: "gpt-5.4", input: "hi", stream: true }),
      ),
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers["content-type"], "text/event-stream");
    const text = new TextDecoder().decode(response.body);
    assert.equal(sseEvents(text).at(-1)!.event, "response.completed");
  });

  it("returns a non-streaming buyer's Response object", async () => {
    const response = await provider().handleRequest({
      requestId: "r2",
      method: "POST",
      path: "/v1/responses",
      headers: {},
      body: new TextEncoder().encode(
        JSON.stringify({ model: "gpt-5.4", input: "hi" }),
      ),
    });
    assert.equal(response.statusCode, 200);
    assert.equal(
      JSON.parse(new TextDecoder().decode(response.body)).object,
      "response",
    );
  });
});

describe("upstream errors", () => {
  it("passes the backend's detail text on as an OpenAI-shaped error", async () => {
    backend.enqueue({
      kind: "status",
      status: 400,
      body: { detail: "Unsupported value: 'max'" },
    });
    const second = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(second.status, 400);
    assert.match(json(second.text).error.message, /Unsupported value/);
  });

  it("retries once with the token source's token after a 401", async () => {
    const fresh = makeAccessToken({ accountId: ACCOUNT, extra: { n: 2 } });
    const tokens = fixedTokens(ACCOUNT, TOKEN, fresh);
    backend.enqueue({
      kind: "status",
      status: 401,
      body: { detail: "Unauthorized" },
    });
    const result = await callProvider(provider({}, tokens), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 200);
    assert.equal(tokens.unauthorizedCalls, 1);
    assert.equal(responsePosts()[1].headers.authorization, `Bearer ${fresh}`);
  });

  it("answers 503 upstream_auth_failed when a 401 survives the refresh", async () => {
    const tokens = fixedTokens(ACCOUNT, TOKEN);
    backend.enqueue(
      { kind: "status", status: 401, body: { detail: "Unauthorized" } },
    );
    const result = await callProvider(provider({}, tokens), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 503);
    assert.equal(json(result.text).error.code, "upstream_auth_failed");
    assert.equal(responsePosts().length, 1);
  });

  it("maps usage_not_included to 503", async () => {
    backend.enqueue({ kind: "usage_not_included" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 503);
    assert.equal(json(result.text).error.code, "usage_not_included");
  });
});

describe("retries", () => {
  it("retries 503, 503 then answers 200 with no callbacks from failed attempts", async () => {
    backend.enqueue(
      {
        kind: "status",
        status: 503,
        body: { error: { code: "server_is_overloaded" } },
      },
      { kind: "status", status: 503, body: "busy" },
      { kind: "text", text: "third time" },
    );
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.deepEqual(result.violations, []);
    assert.equal(result.status, 200);
    assert.equal(responsePosts().length, 3);
    assert.doesNotMatch(result.text, /busy|server_is_overloaded/);
    assert.equal(result.doneCount, 1);
  });

  it("waits for Retry-After: 1", async () => {
    backend.enqueue(
      {
        kind: "status",
        status: 429,
        headers: { "retry-after": "1" },
        body: {},
      },
      { kind: "text" },
    );
    const started = Date.now();
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 200);
    assert.ok(Date.now() - started >= 950, "waited about a second");
  });

  it("returns a Retry-After over 10 s to the buyer as 429", async () => {
    backend.enqueue({
      kind: "status",
      status: 429,
      headers: { "retry-after": "30" },
      body: {},
    });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 429);
    assert.equal(result.headers["retry-after"], "30");
    assert.equal(responsePosts().length, 1);
  });

  it("gives up after 3 retries", async () => {
    for (let i = 0; i < 5; i++) {
      backend.enqueue({ kind: "status", status: 502, body: "bad gateway" });
    }
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 502);
    assert.equal(responsePosts().length, 4);
  });

  it("does not retry a 400", async () => {
    backend.enqueue({ kind: "status", status: 400, body: { detail: "no" } });
    await callProvider(provider(), { body: { model: "gpt-5.4", input: "hi" } });
    assert.equal(responsePosts().length, 1);
  });

  it("retries a refused connection, then answers 502 upstream_unreachable", async () => {
    const p = createProvider({
      OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:1/backend-api",
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), random: () => 0 });
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.equal(result.mode, "whole");
    assert.equal(result.status, 502);
    assert.equal(json(result.text).error.code, "upstream_unreachable");
    assert.equal(p.getCapacity().current, 0);
  });

  it("answers 504 upstream_timeout when headers never come", async () => {
    backend.enqueue({ kind: "headers_never" });
    const p = provider({ OPENAI_RESPONSES_REQUEST_TIMEOUT_MS: "300" });
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(result.status, 504);
    assert.equal(json(result.text).error.code, "upstream_timeout");
    assert.equal(p.getCapacity().current, 0);
  });
});

describe("usage limits", () => {
  for (const status of [429, 404] as const) {
    it(`answers usage_limit_reached (${status}) without calling the backend again until reset`, async () => {
      backend.enqueue({ kind: "usage_limit", status, resetsInSeconds: 120 });
      const p = provider();
      const first = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      const second = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi", stream: true },
      });
      for (const result of [first, second]) {
        assert.equal(result.status, 429);
        const error = json(result.text).error;
        assert.equal(error.code, "usage_limit_reached");
        const retryAfter = Number(result.headers["retry-after"]);
        assert.ok(retryAfter > 100 && retryAfter <= 120, `${retryAfter}`);
      }
      assert.equal(responsePosts().length, 1);
      assert.deepEqual(p.getCapacity(), { current: 5, max: 5 });
      assert.ok(p.usageLimitedUntil()! > Date.now());
    });
  }
});

describe("usage limits inside a 200 stream", () => {
  function assertBlocked(
    p: OpenAIResponsesProvider,
    results: Awaited<ReturnType<typeof callProvider>>[],
    resetsInSeconds: number,
  ): void {
    for (const result of results) {
      assert.equal(result.status, 429);
      assert.equal(json(result.text).error.code, "usage_limit_reached");
      const retryAfter = Number(result.headers["retry-after"]);
      assert.ok(
        retryAfter > resetsInSeconds - 10 && retryAfter <= resetsInSeconds,
        `${retryAfter}`,
      );
    }
    assert.deepEqual(p.getCapacity(), { current: 5, max: 5 });
    assert.ok(p.usageLimitedUntil()! > Date.now());
  }

  for (const as of ["error", "failed"] as const) {
    const terminal = as === "error" ? "error" : "response.failed";

    it(`passes a usage limit in ${terminal} to a streaming buyer, then answers later requests 429 without the backend`, async () => {
      backend.enqueue({
        kind: "usage_limit_in_stream",
        as,
        resetsInSeconds: 120,
      });
      const p = provider();
      const first = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi", stream: true },
      });
      assert.deepEqual(first.violations, []);
      assert.equal(first.mode, "stream");
      assert.equal(first.status, 200);
      assert.equal(first.doneCount, 1);
      const events = sseEvents(first.text);
      assert.equal(events.at(-1)?.event, terminal, "nothing appended");
      // The seller's plan stays the seller's; the reset times reach the buyer.
      assert.ok(!first.text.includes("plan_type"), first.text);
      assert.ok(!first.text.includes("eligible_promo"), first.text);
      assert.ok(!/x-codex-/i.test(first.text), first.text);
      if (as === "error") {
        const { error } = events.at(-1)!.data as {
          error: Record<string, unknown>;
        };
        assert.equal(error.type, "usage_limit_reached");
        assert.equal(typeof error.message, "string");
        assert.equal(typeof error.resets_at, "number");
        assert.equal(error.resets_in_seconds, 120);
      }
      const later = [
        await callProvider(p, {
          body: { model: "gpt-5.4", input: "hi", stream: true },
        }),
        await callProvider(p, { body: { model: "gpt-5.4", input: "hi" } }),
      ];
      assertBlocked(p, later, 120);
      assert.equal(responsePosts().length, 1);
    });

    it(`answers a non-streaming buyer 429 usage_limit_reached with retry-after for a usage limit in ${terminal}, then blocks`, async () => {
      backend.enqueue({
        kind: "usage_limit_in_stream",
        as,
        resetsInSeconds: 120,
      });
      const p = provider();
      const first = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(first.mode, "whole");
      const second = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assertBlocked(p, [first, second], 120);
      assert.equal(responsePosts().length, 1);
    });
  }

  it("blocks for the default time after a usage limit in response.failed without a reset time", async () => {
    backend.enqueue({ kind: "usage_limit_in_stream", as: "failed" });
    const p = provider();
    await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    const later = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assertBlocked(p, [later], DEFAULT_USAGE_LIMIT_MS / 1000);
    assert.equal(responsePosts().length, 1);
  });

  it("does not block later requests after a burst rate_limit_exceeded inside the stream", async () => {
    backend.enqueue({
      kind: "failed",
      code: "rate_limit_exceeded",
      message: "Rate limit reached for requests. Please try again in 2s.",
    });
    const p = provider();
    const first = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi", stream: true },
    });
    assert.equal(sseEvents(first.text).at(-1)?.event, "response.failed");
    const second = await callProvider(p, {
      body: { model: "gpt-5.4", input: "hi" },
    });
    assert.equal(second.status, 200);
    assert.equal(responsePosts().length, 2);
    assert.equal(p.usageLimitedUntil(), undefined);
  });
});

describe("concurrency", () => {
  it("never runs more than maxConcurrency upstream exchanges", async () => {
    const p = provider({ ANTSEED_MAX_CONCURRENCY: "2" });
    for (let i = 0; i < 10; i++) {
      backend.enqueue({ kind: "text", text: "slow", eventDelayMs: 30 });
    }
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        () => callProvider(p, { body: { model: "gpt-5.4", input: "hi" } }),
      ),
    );
    assert.ok(backend.maxInFlight <= 2, `max in flight ${backend.maxInFlight}`);
    const ok = results.filter((r) => r.status === 200).length;
    const busy = results.filter((r) =>
      r.status === 429 && json(r.text).error.code === "provider_at_capacity"
    );
    assert.equal(ok, 2);
    assert.equal(busy.length, 8);
    assert.equal(busy[0].headers["retry-after"], "1");
    assert.equal(p.getCapacity().current, 0);
  });
});

describe("rate limits and secrets", () => {
  it("exposes the x-codex rate-limit snapshot", async () => {
    const p = provider();
    await callProvider(p, { body: { model: "gpt-5.4", input: "hi" } });
    const snapshot = p.getRateLimits();
    assert.ok(snapshot?.primary?.usedPercent !== undefined);
  });

  it("puts no token, path or home directory in any error answer", async () => {
    const p = provider();
    const scenarios: (() => void)[] = [
      () =>
        backend.enqueue({
          kind: "status",
          status: 401,
          body: { detail: "Unauthorized" },
        }),
      () => {
        // Every attempt fails, so the buyer gets the error, not a retry's 200.
        for (let attempt = 0; attempt < 4; attempt++) {
          backend.enqueue({
            kind: "status",
            status: 500,
            body: `Bearer ${TOKEN}`,
          });
        }
      },
      () =>
        backend.enqueue({
          kind: "failed",
          code: "server_error",
          message: `bad ${TOKEN}`,
        }),
      () =>
        backend.enqueue({
          kind: "status",
          status: 400,
          body: { detail: `token ${TOKEN}` },
        }),
    ];
    for (const scenario of scenarios) {
      scenario();
      const result = await callProvider(p, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.ok(
        result.status >= 400,
        `an error answer, found ${result.status}`,
      );
      const everything = result.text + JSON.stringify(result.headers);
      assert.ok(!everything.includes(TOKEN), everything);
      assert.ok(!everything.includes("/home/seller"), everything);
      assert.ok(!everything.includes("auth.json"), everything);
    }
  });
});
