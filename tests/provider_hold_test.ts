// The hold of a non-streaming answer (src/provider/hold.ts): an answer that
// settles within the hold time goes whole; a slower one is committed as a
// stream of whitespace and the JSON text, ending as the buyer protocol's
// failure object when it fails after the commit. Timings are scaled down.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  committedFailure,
  holdAnswer,
  type HoldOptions,
} from "../src/provider/hold.ts";
import { RelayError } from "../src/errors.ts";
import type {
  Provider,
  ProviderStreamCallbacks,
  SerializedHttpResponse,
} from "../src/host_types.ts";
import { callProvider, parseBilledUsage } from "./fakes/seller_node.ts";

const HOLD_MS = 100;
const KEEP_ALIVE_MS = 40;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const RESPONSE = {
  id: "resp_1",
  object: "response",
  status: "completed",
  output: [],
  usage: { input_tokens: 12, output_tokens: 23, total_tokens: 35 },
};

function options(overrides: Partial<HoldOptions> = {}): HoldOptions {
  return {
    requestId: "req-1",
    holdMs: HOLD_MS,
    keepAliveMs: KEEP_ALIVE_MS,
    protocol: "responses",
    model: "gpt-5.4",
    ...overrides,
  };
}

function json(value: unknown, statusCode = 200): SerializedHttpResponse {
  return {
    requestId: "req-1",
    statusCode,
    headers: { "content-type": "application/json" },
    body: encoder.encode(JSON.stringify(value)),
  };
}

function failure(error: RelayError): SerializedHttpResponse {
  return {
    requestId: "req-1",
    statusCode: error.status,
    headers: { "content-type": "application/json", ...error.headers },
    body: encoder.encode(JSON.stringify(error.toJSON())),
  };
}

/** Resolves with `value` after `ms`. */
function after<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms));
}

/** Rejects with `error` after `ms`. */
function failAfter(ms: number, error: Error): Promise<SerializedHttpResponse> {
  return new Promise((_, reject) => setTimeout(() => reject(error), ms));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Recorded {
  starts: SerializedHttpResponse[];
  chunks: { at: number; data: Uint8Array }[];
  dones: number;
  callbacks: ProviderStreamCallbacks;
  /** The chunks' bytes joined, as the buyer node hands them to its client. */
  text(): string;
}

function record(
  fail: { start?: boolean; afterChunks?: number } = {},
): Recorded {
  const recorded: Recorded = {
    starts: [],
    chunks: [],
    dones: 0,
    callbacks: {
      onResponseStart(response) {
        recorded.starts.push(response);
        if (fail.start) throw new Error("Cannot send in state closed");
      },
      onResponseChunk(chunk) {
        if (chunk.done) {
          recorded.dones++;
          return;
        }
        if (
          fail.afterChunks !== undefined &&
          recorded.chunks.length >= fail.afterChunks
        ) {
          throw new Error("Cannot send in state closed");
        }
        recorded.chunks.push({ at: Date.now(), data: chunk.data });
      },
    },
    text() {
      return recorded.chunks.map((chunk) => decoder.decode(chunk.data)).join(
        "",
      );
    },
  };
  return recorded;
}

describe("holdAnswer: an answer within the hold time", () => {
  it("resolves whole and sends nothing through the callbacks", async () => {
    const buyer = record();
    const answer = json(RESPONSE);
    const response = await holdAnswer(
      buyer.callbacks,
      after(10, answer),
      options(),
    );
    assert.equal(response, answer);
    await sleep(HOLD_MS + KEEP_ALIVE_MS * 2);
    assert.equal(buyer.starts.length, 0);
    assert.equal(buyer.chunks.length, 0);
    assert.equal(buyer.dones, 0);
  });

  it("keeps a fast error's status and headers", async () => {
    const buyer = record();
    const limited = failure(
      new RelayError(429, "usage_limit_reached", "The limit was reached", {
        headers: { "retry-after": "5" },
      }),
    );
    const response = await holdAnswer(
      buyer.callbacks,
      Promise.resolve(limited),
      options(),
    );
    assert.equal(response.statusCode, 429);
    assert.equal(response.headers["retry-after"], "5");
    assert.equal(buyer.starts.length, 0);
  });

  it("rejects with the answer's error, sending nothing", async () => {
    const buyer = record();
    const error = new Error("boom");
    await assert.rejects(
      holdAnswer(buyer.callbacks, failAfter(10, error), options()),
      (thrown) => thrown === error,
    );
    assert.equal(buyer.starts.length, 0);
  });
});

describe("holdAnswer: an answer that outlasts the hold time", () => {
  it("starts a JSON stream at the hold time, keeps it alive with whitespace, then sends the body and one done chunk", async () => {
    const buyer = record();
    const began = Date.now();
    const response = await holdAnswer(
      buyer.callbacks,
      after(HOLD_MS + KEEP_ALIVE_MS * 5, json(RESPONSE)),
      options({ headers: { "x-antseed-dropped-params": "temperature" } }),
    );
    assert.equal(buyer.starts.length, 1);
    const start = buyer.starts[0];
    assert.equal(start.statusCode, 200);
    assert.equal(start.requestId, "req-1");
    assert.equal(start.headers["content-type"], "application/json");
    assert.equal(start.headers["x-antseed-streaming"], "1");
    assert.equal(start.headers["x-antseed-dropped-params"], "temperature");
    assert.equal(start.body.byteLength, 0);
    const keepAlives = buyer.chunks.slice(0, -1);
    assert.ok(
      keepAlives.length >= 3,
      `expected at least 3 whitespace chunks, found ${keepAlives.length}`,
    );
    for (const chunk of keepAlives) {
      assert.match(decoder.decode(chunk.data), /^\s+$/);
    }
    assert.ok(buyer.chunks[0].at - began >= HOLD_MS);
    assert.deepEqual(JSON.parse(buyer.text()), RESPONSE);
    assert.equal(buyer.dones, 1);
    assert.equal(response.statusCode, 200);
    assert.equal(decoder.decode(response.body), buyer.text());
    assert.deepEqual(parseBilledUsage(response), {
      input: 12,
      output: 23,
      cached: 0,
    });
  });

  it("sends no whitespace after the answer settled (its timer is cleared)", async () => {
    const buyer = record();
    await holdAnswer(
      buyer.callbacks,
      after(HOLD_MS + KEEP_ALIVE_MS * 2, json(RESPONSE)),
      options(),
    );
    const count = buyer.chunks.length;
    await sleep(KEEP_ALIVE_MS * 4);
    assert.equal(buyer.chunks.length, count);
    assert.equal(buyer.dones, 1);
  });

  it("ends a Responses answer that failed after the commit with a failed Response object carrying its code", async () => {
    const buyer = record();
    const response = await holdAnswer(
      buyer.callbacks,
      after(
        HOLD_MS + KEEP_ALIVE_MS,
        failure(
          new RelayError(
            502,
            "upstream_stream_error",
            "The upstream stream broke before response.completed",
          ),
        ),
      ),
      options(),
    );
    assert.equal(buyer.starts[0].statusCode, 200);
    const body = JSON.parse(buyer.text());
    assert.equal(body.object, "response");
    assert.equal(body.status, "failed");
    assert.equal(body.error.code, "upstream_stream_error");
    assert.equal(
      body.error.message,
      "The upstream stream broke before response.completed",
    );
    assert.equal(body.model, "gpt-5.4");
    assert.match(body.id, /^resp_/);
    assert.deepEqual(body.output, []);
    assert.equal(buyer.dones, 1);
    assert.equal(response.statusCode, 200);
    assert.equal(decoder.decode(response.body), buyer.text());
  });

  it("ends a Chat Completions answer that failed after the commit with the OpenAI error object", async () => {
    const buyer = record();
    const error = new RelayError(
      429,
      "usage_limit_reached",
      "The seller's Codex usage limit has been reached",
      { details: { resets_at: 1_800_000_000 } },
    );
    await holdAnswer(
      buyer.callbacks,
      after(HOLD_MS + KEEP_ALIVE_MS, failure(error)),
      options({ protocol: "chat" }),
    );
    assert.deepEqual(JSON.parse(buyer.text()), error.toJSON());
    assert.equal(buyer.dones, 1);
  });

  it("ends an answer that threw after the commit as a failure: its RelayError code, else internal_error", async () => {
    const relayed = record();
    await holdAnswer(
      relayed.callbacks,
      failAfter(
        HOLD_MS + 10,
        new RelayError(504, "upstream_timeout", "No response headers"),
      ),
      options(),
    );
    assert.equal(JSON.parse(relayed.text()).error.code, "upstream_timeout");
    assert.equal(relayed.dones, 1);

    const unexpected = record();
    await holdAnswer(
      unexpected.callbacks,
      failAfter(HOLD_MS + 10, new Error("secret detail /home/seller")),
      options({ protocol: "chat" }),
    );
    const body = JSON.parse(unexpected.text());
    assert.equal(body.error.code, "internal_error");
    assert.doesNotMatch(unexpected.text(), /secret detail/);
    assert.equal(unexpected.dones, 1);
  });

  it("survives a buyer gone at the start: nothing more is sent, the answer still resolves for billing", async () => {
    const buyer = record({ start: true });
    const response = await holdAnswer(
      buyer.callbacks,
      after(HOLD_MS + KEEP_ALIVE_MS * 3, json(RESPONSE)),
      options(),
    );
    assert.equal(buyer.starts.length, 1);
    assert.equal(buyer.chunks.length, 0);
    assert.equal(buyer.dones, 0);
    assert.deepEqual(JSON.parse(decoder.decode(response.body)), RESPONSE);
  });

  it("stops the whitespace when a chunk callback throws, and still attempts the done chunk", async () => {
    const buyer = record({ afterChunks: 1 });
    const response = await holdAnswer(
      buyer.callbacks,
      after(HOLD_MS + KEEP_ALIVE_MS * 5, json(RESPONSE)),
      options(),
    );
    assert.equal(buyer.chunks.length, 1);
    assert.equal(buyer.dones, 1);
    assert.equal(response.statusCode, 200);
    assert.deepEqual(JSON.parse(decoder.decode(response.body)), RESPONSE);
  });
});

describe("committedFailure", () => {
  it("writes OpenAI's failed-response shape for Responses", () => {
    const body = JSON.parse(decoder.decode(committedFailure(
      { message: "Too long", type: "invalid_request_error", code: "x" },
      { protocol: "responses" },
    )));
    assert.equal(body.status, "failed");
    assert.equal(typeof body.created_at, "number");
    assert.equal(body.incomplete_details, null);
    assert.equal(body.usage, null);
    assert.equal(body.model, null);
    assert.deepEqual(body.error, {
      message: "Too long",
      type: "invalid_request_error",
      code: "x",
    });
    assert.equal("store" in body, false, "no echoed fields unless given");
  });

  it("echoes a Responses buyer's own fields when given", () => {
    const body = JSON.parse(decoder.decode(committedFailure(
      { message: "Broke", type: "server_error", code: "y" },
      {
        protocol: "responses",
        echo: {
          instructions: null,
          previousResponseId: "resp_0",
          promptCacheKey: "conv-1",
          store: false,
        },
      },
    )));
    assert.equal(body.status, "failed");
    assert.equal(body.instructions, null);
    assert.equal(body.previous_response_id, "resp_0");
    assert.equal(body.prompt_cache_key, "conv-1");
    assert.equal(body.store, false);
  });
});

/** A provider whose every answer is `answer`, held as the plugin holds it. */
function heldProvider(
  answer: () => Promise<SerializedHttpResponse>,
  hold: Partial<HoldOptions> = {},
): Provider {
  return {
    name: "held",
    services: ["gpt-5.4"],
    pricing: { defaults: { inputUsdPerMillion: 1, outputUsdPerMillion: 1 } },
    maxConcurrency: 1,
    handleRequest: answer,
    handleRequestStream(req, callbacks) {
      return holdAnswer(
        callbacks,
        answer().then((response) => ({
          ...response,
          requestId: req.requestId,
        })),
        options({ requestId: req.requestId, ...hold }),
      );
    },
    getCapacity: () => ({ current: 0, max: 1 }),
  };
}

describe("holdAnswer through the seller-node emulation with the buyer's timeouts (scaled: 1 s = 10 ms)", () => {
  // 30 s to a first answer, 60 s between chunks; hold 20 s, keep-alive 15 s.
  const buyer = { firstAnswerMs: 300, betweenChunksMs: 600, streamMs: 3000 };
  const hold = { holdMs: 200, keepAliveMs: 150 };

  it("a 35 s answer reaches a non-streaming buyer complete, billed from the resolved body", async () => {
    const result = await callProvider(
      heldProvider(() => after(350, json(RESPONSE)), hold),
      { body: { model: "gpt-5.4", input: "hi" } },
      { buyer },
    );
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.status, 200);
    assert.ok(result.startedAt! - result.sentAt < buyer.firstAnswerMs);
    assert.deepEqual(JSON.parse(result.text), RESPONSE);
    assert.deepEqual(result.usage, { input: 12, output: 23, cached: 0 });
    assert.deepEqual(result.violations, []);
  });

  it("a 35 s answer without the hold times out at 30 s, and the seller still meters it", async () => {
    const result = await callProvider(
      heldProvider(() => after(350, json(RESPONSE)), { holdMs: 10_000 }),
      { body: { model: "gpt-5.4", input: "hi" } },
      { buyer },
    );
    assert.equal(result.buyerFailure?.reason, "first_answer");
    assert.equal(result.status, 502);
    assert.match(result.text, /^P2P request failed: Request .* timed out$/);
    assert.deepEqual(result.usage, { input: 12, output: 23, cached: 0 });
  });

  it("a 100 s answer is kept alive past the 60 s window between chunks", async () => {
    const result = await callProvider(
      heldProvider(() => after(1000, json(RESPONSE)), hold),
      { body: { model: "gpt-5.4", input: "hi" } },
      { buyer },
    );
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.text), RESPONSE);
  });

  it("without keep-alives the same answer is cut by the window between chunks", async () => {
    const result = await callProvider(
      heldProvider(() => after(1000, json(RESPONSE)), {
        ...hold,
        keepAliveMs: 10_000,
      }),
      { body: { model: "gpt-5.4", input: "hi" } },
      { buyer },
    );
    assert.equal(result.buyerFailure?.reason, "between_chunks");
    assert.equal(result.status, 502);
  });
});
