// The seller-node emulation (tests/fakes/seller_node.ts) gives up on a
// request as the AntSeed buyer node does (spec/HOST_CONTRACT.md, "Buyer
// timeouts"): checked with scripted providers and limits scaled down.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type {
  Provider,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../src/host_types.ts";
import {
  type BuyerLimits,
  callProvider,
  NODE_BUYER_LIMITS,
} from "./fakes/seller_node.ts";

const encoder = new TextEncoder();
const BODY = { model: "gpt-5.4", input: "hi" };
const STREAM_BODY = { ...BODY, stream: true };

/** Scaled limits: 1 s of the node is 10 ms here. */
const LIMITS: BuyerLimits = {
  firstAnswerMs: 300,
  firstAnswerStreamingMs: 900,
  betweenChunksMs: 600,
  streamMs: 3000,
  maxBufferBytes: 64,
};

/** One step of a scripted provider: wait `after` ms, then do it. */
type Step =
  | { after: number; start: "stream" | "whole" }
  | { after: number; chunk: string }
  | { after: number; done: true };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A provider that plays `steps` through the callbacks, then resolves with a
 * JSON body carrying usage (`whole` answers at the end: resolves after
 * `after` ms without any callback).
 */
function scripted(steps: Step[], resolveAfter = 0): Provider {
  return {
    name: "scripted",
    services: ["gpt-5.4"],
    pricing: { defaults: { inputUsdPerMillion: 1, outputUsdPerMillion: 1 } },
    maxConcurrency: 1,
    handleRequest() {
      throw new Error("the node calls handleRequestStream");
    },
    async handleRequestStream(
      req: SerializedHttpRequest,
      callbacks: ProviderStreamCallbacks,
    ): Promise<SerializedHttpResponse> {
      const requestId = req.requestId;
      for (const step of steps) {
        await sleep(step.after);
        if ("start" in step) {
          callbacks.onResponseStart({
            requestId,
            statusCode: 200,
            headers: step.start === "stream"
              ? { "content-type": "text/plain", "x-antseed-streaming": "1" }
              : { "content-type": "text/plain" },
            body: new Uint8Array(0),
          });
        } else if ("chunk" in step) {
          callbacks.onResponseChunk({
            requestId,
            data: encoder.encode(step.chunk),
            done: false,
          });
        } else {
          callbacks.onResponseChunk({
            requestId,
            data: new Uint8Array(0),
            done: true,
          });
        }
      }
      await sleep(resolveAfter);
      return {
        requestId,
        statusCode: 200,
        headers: { "content-type": "application/json" },
        body: encoder.encode(
          JSON.stringify({ usage: { input_tokens: 3, output_tokens: 4 } }),
        ),
      };
    },
    getCapacity: () => ({ current: 0, max: 1 }),
  };
}

describe("seller-node emulation: the buyer's timeouts", () => {
  it("has the buyer node's defaults: 30 s, 90 s streaming, 60 s between chunks, 5 minutes, 16 MiB", () => {
    assert.deepEqual(NODE_BUYER_LIMITS, {
      firstAnswerMs: 30_000,
      firstAnswerStreamingMs: 90_000,
      betweenChunksMs: 60_000,
      streamMs: 300_000,
      maxBufferBytes: 16 * 1024 * 1024,
    });
  });

  it("answers a non-streaming buyer whose whole answer came within the first window", async () => {
    const result = await callProvider(scripted([], 50), { body: BODY }, {
      buyer: LIMITS,
    });
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.status, 200);
  });

  it("gives a non-streaming buyer 502 when the whole answer comes after the first window, and keeps what the seller metered", async () => {
    const result = await callProvider(scripted([], 400), { body: BODY }, {
      buyer: LIMITS,
    });
    assert.equal(result.buyerFailure?.reason, "first_answer");
    assert.equal(result.buyerFailure?.afterMs, 300);
    assert.equal(result.status, 502);
    assert.equal(result.headers["content-type"], "text/plain");
    assert.match(result.text, /^P2P request failed: Request \S+ timed out$/);
    assert.deepEqual(result.usage, { input: 3, output: 4, cached: 0 });
  });

  it("gives a streaming buyer the longer first window (stream: true in the body, or accept: text/event-stream)", async () => {
    const byBody = await callProvider(scripted([], 400), {
      body: STREAM_BODY,
    }, { buyer: LIMITS });
    assert.equal(byBody.buyerFailure, undefined);
    const byAccept = await callProvider(scripted([], 400), {
      body: BODY,
      headers: { accept: "text/event-stream" },
    }, { buyer: LIMITS });
    assert.equal(byAccept.buyerFailure, undefined);
  });

  it("takes a stream start within the first window, then each chunk within the window between chunks", async () => {
    const result = await callProvider(
      scripted([
        { after: 150, start: "stream" },
        { after: 350, chunk: "a" },
        { after: 350, chunk: "b" },
        { after: 350, done: true },
      ]),
      { body: BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.status, 200);
    assert.equal(result.text, "ab");
  });

  it("cuts a stream silent for longer than the window between chunks: 502 for a non-streaming buyer", async () => {
    const result = await callProvider(
      scripted([
        { after: 10, start: "stream" },
        { after: 50, chunk: "a" },
        { after: 700, chunk: "b" },
        { after: 10, done: true },
      ]),
      { body: BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure?.reason, "between_chunks");
    assert.equal(result.status, 502);
    assert.match(result.text, /timed out$/);
  });

  it("cuts it for a streaming buyer after the chunks that arrived in time", async () => {
    const result = await callProvider(
      scripted([
        { after: 10, start: "stream" },
        { after: 50, chunk: "a" },
        { after: 700, chunk: "b" },
        { after: 10, done: true },
      ]),
      { body: STREAM_BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure?.reason, "between_chunks");
    assert.equal(result.status, 200);
    assert.equal(result.text, "a");
  });

  it("cuts a stream that runs longer than the stream limit at the first chunk after it", async () => {
    const steps: Step[] = [{ after: 10, start: "stream" }];
    for (let i = 0; i < 8; i++) steps.push({ after: 200, chunk: "x" });
    steps.push({ after: 10, done: true });
    const result = await callProvider(scripted(steps), {
      body: STREAM_BODY,
    }, { buyer: { ...LIMITS, streamMs: 900 } });
    assert.equal(result.buyerFailure?.reason, "stream_length");
    assert.match(
      result.buyerFailure!.message,
      /^Stream \S+ exceeded max duration \(900ms\)$/,
    );
    assert.ok(result.text.length >= 3 && result.text.length < 8);
  });

  it("cuts a stream a non-streaming buyer cannot buffer", async () => {
    const result = await callProvider(
      scripted([
        { after: 10, start: "stream" },
        { after: 10, chunk: "x".repeat(60) },
        { after: 10, chunk: "x".repeat(10) },
        { after: 10, done: true },
      ]),
      { body: BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure?.reason, "buffer");
    assert.equal(result.status, 502);
  });

  it("times out a started stream that never sends its done chunk", async () => {
    const result = await callProvider(
      scripted([{ after: 10, start: "stream" }, { after: 10, chunk: "a" }]),
      { body: BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure?.reason, "between_chunks");
    assert.deepEqual(result.violations, ["stream ended with 0 done chunks"]);
  });

  it("takes a start without the streaming header as the whole answer, timed at the start", async () => {
    const result = await callProvider(
      scripted([{ after: 10, start: "whole" }], 400),
      { body: BODY },
      { buyer: LIMITS },
    );
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.mode, "whole");
  });

  it("applies no limit with buyer: false", async () => {
    const result = await callProvider(scripted([], 400), { body: BODY }, {
      buyer: false,
    });
    assert.equal(result.buyerFailure, undefined);
    assert.equal(result.status, 200);
  });
});
