// Issue 19, the relay and codex layers: what a stream or a request body can
// make the seller do. One test per defect, named after the numbering,
// each against an upstream that answers exactly the bytes given (cut into the
// chunks given), through the seller-node emulation; and the unit-level checks
// behind them (a stream whose observation throws still ends).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import type { SerializedHttpResponseChunk } from "../src/host_types.ts";
import { type OpenUpstream, streamToHost } from "../src/relay.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { type BuyerResult, callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_hostile";
/** The furthest a reset time may lie: 7 days. */
const MAX_RESET_MS = 7 * 24 * 60 * 60 * 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${
    JSON.stringify({ type: event, ...data })
  }\n\n`;
}

const RESPONSE = {
  id: "resp_hostile_1",
  object: "response",
  created_at: 1767225600,
  model: "gpt-5.4",
  status: "in_progress",
  output: [],
};
const MESSAGE = {
  id: "msg_hostile_1",
  type: "message",
  status: "completed",
  role: "assistant",
  content: [{ type: "output_text", annotations: [], text: "Hi there" }],
};
const USAGE = { input_tokens: 5, output_tokens: 2, total_tokens: 7 };

/** A complete answer, with `extra` events after `response.created`. */
function answer(...extra: string[]): string {
  return [
    frame("response.created", { sequence_number: 0, response: RESPONSE }),
    ...extra,
    frame("response.in_progress", { sequence_number: 1, response: RESPONSE }),
    frame("response.output_item.added", {
      sequence_number: 2,
      output_index: 0,
      item: { ...MESSAGE, status: "in_progress", content: [] },
    }),
    frame("response.output_text.delta", {
      sequence_number: 3,
      item_id: MESSAGE.id,
      output_index: 0,
      content_index: 0,
      delta: "Hi there",
    }),
    frame("response.output_item.done", {
      sequence_number: 4,
      output_index: 0,
      item: MESSAGE,
    }),
    frame("response.completed", {
      sequence_number: 5,
      response: {
        ...RESPONSE,
        status: "completed",
        output: [MESSAGE],
        usage: USAGE,
      },
    }),
  ].join("");
}

/**
 * A fetch that answers every POST 200 with `body` cut into chunks of
 * `chunkBytes` (no `x-codex-*` header), and keeps the bodies it was sent.
 */
function upstreamOf(body: string, chunkBytes = 1 << 30) {
  const sent: string[] = [];
  const fetch = (_input: unknown, init?: RequestInit): Promise<Response> => {
    // The login's model catalog (a GET) has none here.
    if (init?.method !== "POST") {
      return Promise.resolve(new Response(null, { status: 404 }));
    }
    sent.push(String(init?.body));
    const bytes = encoder.encode(body);
    let at = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) {
          controller.close();
          return;
        }
        controller.enqueue(bytes.slice(at, at + chunkBytes));
        at += chunkBytes;
      },
    });
    return Promise.resolve(
      new Response(stream, {
        status: 200,
        headers: { "content-type": "text/event-stream" },
      }),
    );
  };
  return { fetch: fetch as typeof globalThis.fetch, sent };
}

/** What the providers of these tests logged. */
const logged: string[] = [];

function provider(
  fetch: typeof globalThis.fetch,
  services = "gpt-5.4",
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:9/backend-api",
    OPENAI_RESPONSES_AUTH_FILE: "/home/seller/.codex/auth.json",
    ANTSEED_ALLOWED_SERVICES: services,
  }, {
    tokenSource: fixedTokens(ACCOUNT, makeAccessToken({ accountId: ACCOUNT })),
    fetch,
    random: () => 0,
    onLog: (line) => logged.push(line),
    onWarning: (line) => logged.push(line),
  });
}

function assertEndedOnce(result: BuyerResult, label: string): void {
  assert.deepEqual(result.violations, [], label);
  assert.equal(result.mode, "stream", label);
  assert.equal(result.doneCount, 1, `${label}: one done chunk`);
}

// deno-lint-ignore no-explicit-any
function lastData(text: string): any {
  const lines = text.split("\n").filter((line) =>
    line.startsWith("data:") && line !== "data: [DONE]"
  );
  return JSON.parse(lines.at(-1)!.slice(5));
}

describe("hostile streams and bodies (issue 19)", () => {
  it("defect 9: a usage limit that resets beyond the range of Date still ends the stream with its done chunk, and is read as at most 7 days", async () => {
    const limit = frame("error", {
      sequence_number: 2,
      status_code: 429,
      error: {
        type: "usage_limit_reached",
        message: "The usage limit has been reached",
        resets_at: 1e300,
        resets_in_seconds: 1e300,
      },
    });
    const stream = [
      frame("response.created", { sequence_number: 0, response: RESPONSE }),
      frame("response.in_progress", { sequence_number: 1, response: RESPONSE }),
      limit,
    ].join("");
    for (
      const [label, path, body] of [
        ["responses", "/v1/responses", {
          model: "gpt-5.4",
          input: "hi",
          stream: true,
        }],
        ["chat", "/v1/chat/completions", {
          model: "gpt-5.4",
          messages: [{ role: "user", content: "hi" }],
          stream: true,
        }],
      ] as const
    ) {
      const p = provider(upstreamOf(stream).fetch);
      const before = Date.now();
      const result = await callProvider(p, { path, body });
      assertEndedOnce(result, label);
      assert.equal(result.resolved?.statusCode, 200, label);
      const error = lastData(result.text);
      assert.equal(
        error.error?.code ?? error.code ?? error.error?.type,
        "usage_limit_reached",
        label,
      );
      const until = p.usageLimitedUntil();
      assert.ok(until !== undefined, `${label}: the login is usage-limited`);
      assert.ok(
        until <= Date.now() + MAX_RESET_MS && until >= before,
        `${label}: reset read as at most 7 days from now, found ${until}`,
      );
    }
  });

  it("sends the done chunk when the observation after a stream throws (defect 9's finally)", async () => {
    const chunks: SerializedHttpResponseChunk[] = [];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(encoder.encode(answer()));
        controller.close();
      },
    });
    const upstream: OpenUpstream = {
      body,
      accountId: ACCOUNT,
      deadline: Date.now() + 10_000,
      timedOut: false,
      aborted: false,
      moved() {},
      keepAlive() {},
      release() {},
      cancel() {},
    };
    await assert.rejects(
      streamToHost(upstream, "req-9", {
        onResponseStart() {},
        onResponseChunk(chunk) {
          chunks.push(chunk);
        },
      }, {
        idleTimeoutMs: 10_000,
        translator: {
          push: (chunk) => chunk,
          finish() {
            throw new RangeError("Invalid time value");
          },
          billingBody: () => new Uint8Array(0),
          again() {
            return this;
          },
        },
      }),
      RangeError,
    );
    assert.equal(chunks.filter((chunk) => chunk.done).length, 1);
    assert.equal(chunks.at(-1)?.done, true);
  });

  it("defect 10: codex.rate_limits events reach no buyer (Responses stream, Chat Completions stream, aggregated JSON) and set the login's snapshot without x-codex-* headers", async () => {
    const secret = {
      plan_type: "pro",
      rate_limits: {
        allowed: true,
        limit_reached: false,
        primary: {
          used_percent: 37.5,
          window_minutes: 300,
          reset_after_seconds: 600,
          reset_at: Math.floor(Date.now() / 1000) + 600,
        },
        secondary: {
          used_percent: 61.25,
          window_minutes: 10080,
          reset_after_seconds: 9e99,
        },
      },
      credits: { has_credits: true, unlimited: false, balance: "9876.54" },
    };
    const event = frame("codex.rate_limits", secret);
    // The backend's framing, and the one without an event line, cut into
    // chunks small enough to split the event's name and its blank line.
    const bodies = [
      answer(event),
      answer(
        `data: ${JSON.stringify({ type: "codex.rate_limits", ...secret })}\n\n`,
      ),
    ];
    const requests = [
      ["responses stream", "/v1/responses", {
        model: "gpt-5.4",
        input: "hi",
        stream: true,
      }],
      ["chat stream", "/v1/chat/completions", {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "hi" }],
        stream: true,
      }],
      ["responses JSON", "/v1/responses", {
        model: "gpt-5.4",
        input: "hi",
      }],
      ["chat JSON", "/v1/chat/completions", {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "hi" }],
      }],
    ] as const;
    for (const [index, upstreamBody] of bodies.entries()) {
      for (const chunkBytes of [5, 64, 1 << 20]) {
        for (const [label, path, body] of requests) {
          const name = `${label}, framing ${index}, chunks of ${chunkBytes}`;
          const p = provider(upstreamOf(upstreamBody, chunkBytes).fetch);
          const result = await callProvider(p, { path, body });
          assert.equal(result.status, 200, name);
          for (
            const text of [result.text, decoder.decode(result.resolved?.body)]
          ) {
            assert.ok(!text.includes("codex.rate_limits"), name);
            assert.ok(!text.includes("9876.54"), `${name}: credits`);
            assert.ok(!text.includes("37.5"), `${name}: used percent`);
            assert.ok(!text.includes("plan_type"), `${name}: plan`);
          }
          assert.ok(result.text.includes("Hi there"), `${name}: the answer`);
          if (result.mode === "stream") assertEndedOnce(result, name);
          const snapshot = p.getRateLimits();
          assert.equal(snapshot?.planType, "pro", name);
          assert.equal(snapshot?.primary?.usedPercent, 37.5, name);
          assert.equal(snapshot?.primary?.windowMinutes, 300, name);
          assert.equal(
            snapshot?.primary?.resetsAt,
            secret.rate_limits.primary.reset_at * 1000,
            name,
          );
          assert.equal(snapshot?.secondary?.usedPercent, 61.25, name);
          assert.ok(
            snapshot!.secondary!.resetsAt! <= Date.now() + MAX_RESET_MS,
            `${name}: a reset beyond 7 days is read as 7 days`,
          );
          assert.equal(snapshot?.hasCredits, true, name);
        }
      }
    }
  });

  it("defect 12: a body that names a key twice goes upstream with one key per name, as the allow-list and pricing read it", async () => {
    const upstream = upstreamOf(answer());
    const p = provider(upstream.fetch, "gpt-5.4-mini");
    const text = '{"model":"gpt-5.4","model":"gpt-5.4-mini",' +
      '"input":[{"type":"message","role":"system","role":"user",' +
      '"content":[{"type":"input_text","text":"hi","text":"hello"}]}],' +
      '"stream":true}';
    const result = await callProvider(p, { body: text });
    assertEndedOnce(result, "duplicate keys");
    assert.equal(upstream.sent.length, 1);
    const sent = upstream.sent[0];
    assert.equal(sent.split('"model"').length - 1, 1, sent);
    assert.equal(sent.split('"role"').length - 1, 1, sent);
    assert.equal(sent.split('"text"').length - 1, 1, sent);
    const value = JSON.parse(sent);
    assert.equal(value.model, "gpt-5.4-mini");
    assert.equal(value.input[0].role, "user");
    assert.equal(value.input[0].content[0].text, "hello");

    // Without a repeated key the buyer's own text still goes (the fast
    // path): its spacing is kept.
    const plain = '{"model": "gpt-5.4-mini", "input": "hi", "stream": true}';
    await callProvider(p, { body: plain });
    assert.ok(
      upstream.sent[1].startsWith(
        '{"model": "gpt-5.4-mini", "input": "hi", "stream": true,',
      ),
      upstream.sent[1],
    );
  });
});
