// An answer paid for upstream keeps its usage, and every request ends: a
// buyer's `instructions` that are not a string are not echoed, a turn that
// cannot be stored does not lose its answer, a committed failure whose echo
// cannot be written still sends its done chunk, and a non-streamed answer
// that broke is logged with its code. (On Node, JSON.stringify throws on a
// value nested about 10,000 deep, which a 40 KB body can hold; Deno's does
// not: the throws here are made on purpose, so that both runtimes test it.)

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import { holdAnswer } from "../src/provider/hold.ts";
import { RelayError } from "../src/errors.ts";
import type { SerializedHttpResponseChunk } from "../src/host_types.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const TOKEN = makeAccessToken({ accountId: "acct_review2" });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
beforeEach(() => backend.reset());
after(async () => {
  await backend.close();
});

function provider(logs: string[] = []) {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    OPENAI_RESPONSES_LOG: "requests",
  }, {
    tokenSource: fixedTokens("acct_review2", TOKEN),
    onLog: (line: string) => logs.push(line),
  });
}

function post(text: string) {
  return {
    requestId: crypto.randomUUID(),
    method: "POST",
    path: "/v1/responses",
    headers: {
      "content-type": "application/json",
      "x-antseed-buyer-peer-id": "buyer-a",
    },
    body: encoder.encode(text),
  };
}

describe("answers paid for upstream", () => {
  it("instructions that are not a string are not echoed (a deep array could not be written back on Node: the answer, paid for upstream, was lost as a 500 billed 0)", async () => {
    const p = await provider();
    const res = await p.handleRequest(post(
      '{"model":"gpt-5.4","input":"Hi","store":false,"instructions":[[[1]]]}',
    ));
    assert.equal(res.statusCode, 200);
    const body = JSON.parse(decoder.decode(res.body));
    assert.equal(body.instructions, null);
    assert.equal(body.usage.input_tokens > 0, true);
  });

  it("a turn that cannot be stored does not lose the answer", async () => {
    const p = await provider();
    // What JSON.stringify cannot write in the store (on Node 20/22: an item
    // id nested 20,000 deep; the id never goes upstream).
    const original = JSON.stringify;
    let stringifyCalls = 0;
    JSON.stringify = ((value: unknown, ...rest: unknown[]) => {
      if (
        value !== null && typeof value === "object" &&
        (value as Record<string, unknown>).id === "msg_poison"
      ) {
        stringifyCalls++;
        throw new RangeError("Maximum call stack size exceeded");
      }
      // deno-lint-ignore no-explicit-any
      return (original as any)(value, ...rest);
    }) as typeof JSON.stringify;
    try {
      for (const stream of [false, true]) {
        const res = await p.handleRequest(post(JSON.stringify({
          model: "gpt-5.4",
          stream,
          input: [
            { type: "item_reference", id: "msg_unknown" },
            { type: "message", role: "user", content: "Hi", id: "msg_poison" },
          ],
        })));
        assert.equal(res.statusCode, 200, `stream ${stream}`);
        assert.match(decoder.decode(res.body), /"input_tokens":\d+/);
      }
    } finally {
      JSON.stringify = original;
    }
    assert.equal(stringifyCalls >= 2, true);
  });

  it("a body too deep to be written again is a 400 before the backend, not an internal error", async () => {
    const p = await provider();
    // On Node, a value nested about 10,000 deep overflows JSON.stringify's
    // stack while the translated body is written; made so here on purpose.
    const original = JSON.stringify;
    JSON.stringify = ((value: unknown, ...rest: unknown[]) => {
      // deno-lint-ignore no-explicit-any
      const text = (original as any)(value, ...rest);
      if (typeof text === "string" && text.includes("x_too_deep")) {
        throw new RangeError("Maximum call stack size exceeded");
      }
      return text;
    }) as typeof JSON.stringify;
    let res;
    try {
      res = await p.handleRequest({
        ...post(original({
          model: "gpt-5.4",
          messages: [{ role: "user", content: "Hi" }],
          response_format: {
            type: "json_schema",
            json_schema: { name: "x", schema: { x_too_deep: [] } },
          },
        })),
        path: "/v1/chat/completions",
      });
    } finally {
      JSON.stringify = original;
    }
    assert.equal(res.statusCode, 400);
    const error = JSON.parse(decoder.decode(res.body)).error;
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /nested less deeply/);
    assert.equal(backend.requests.length, 0);
  });

  it("a committed failure whose echoed fields cannot be written still ends with its one done chunk", async () => {
    const chunks: SerializedHttpResponseChunk[] = [];
    const error = new RelayError(502, "upstream_stream_error", "broke");
    const response = await holdAnswer(
      {
        onResponseStart() {},
        onResponseChunk(chunk) {
          chunks.push(chunk);
        },
      },
      new Promise((_, reject) => setTimeout(() => reject(error), 30)),
      {
        requestId: "r1",
        holdMs: 0,
        keepAliveMs: 10,
        protocol: "responses",
        model: "gpt-5.4",
        // What JSON.stringify cannot write (on Node 20/22: a deep array).
        echo: {
          instructions: 1n,
          previousResponseId: null,
          promptCacheKey: null,
          store: true,
        },
      },
    );
    assert.equal(chunks.filter((c) => c.done).length, 1);
    const body = JSON.parse(decoder.decode(response.body));
    assert.equal(body.status, "failed");
    assert.equal(body.error.code, "internal_error");
  });

  it("a non-streamed answer that ends without a terminal event is logged with its code", async () => {
    const logs: string[] = [];
    const p = await provider(logs);
    backend.enqueue({ kind: "no_terminal" });
    const res = await p.handleRequest(
      post('{"model":"gpt-5.4","input":"Hi","store":false}'),
    );
    assert.equal(res.statusCode, 502);
    assert.match(logs.join("\n"), / 502 upstream_stream_incomplete /);
  });
});
