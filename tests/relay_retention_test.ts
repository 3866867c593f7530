// What an open stream keeps until it ends: every chunk (the relay observes
// the stream from them once it has ended), but as its own bytes, not as a
// view of a larger buffer. Deno's fetch reads each chunk into a 64 KiB
// buffer of its own; a stream of small events kept as such views held 64 KiB
// for each one (300 deltas: about 19 MiB) until the stream ended.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  aggregateToResponse,
  type OpenUpstream,
  streamToHost,
} from "../src/relay.ts";

const encoder = new TextEncoder();

function frame(event: string, data: Record<string, unknown>): string {
  return `event: ${event}\ndata: ${
    JSON.stringify({ type: event, ...data })
  }\n\n`;
}

const RESPONSE = { id: "resp_kept_1", object: "response", output: [] };
const MESSAGE = {
  id: "msg_kept_1",
  type: "message",
  status: "completed",
  role: "assistant",
  content: [{ type: "output_text", annotations: [], text: "Hi there" }],
};

/** Each event of a complete answer, as its own chunk. */
function events(): string[] {
  return [
    frame("response.created", { sequence_number: 0, response: RESPONSE }),
    frame("response.output_text.delta", {
      sequence_number: 1,
      item_id: MESSAGE.id,
      output_index: 0,
      content_index: 0,
      delta: "Hi there",
    }),
    frame("response.output_item.done", {
      sequence_number: 2,
      output_index: 0,
      item: MESSAGE,
    }),
    frame("response.completed", {
      sequence_number: 3,
      response: {
        ...RESPONSE,
        status: "completed",
        output: [MESSAGE],
        usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
      },
    }),
  ];
}

const BUFFER_BYTES = 64 * 1024;

/**
 * An exchange whose body gives each chunk as a view of a 64 KiB buffer of
 * its own, as Deno's fetch does; `views` receives them.
 */
function upstreamOf(chunks: string[], views: Uint8Array[]): OpenUpstream {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        const bytes = encoder.encode(chunk);
        const view = new Uint8Array(
          new ArrayBuffer(BUFFER_BYTES),
          0,
          bytes.length,
        );
        view.set(bytes);
        views.push(view);
        controller.enqueue(view);
      }
      controller.close();
    },
  });
  return exchangeOf(body);
}

/** An exchange of `body`; its keep-alives, when asked for, go to `onKeepAlive`. */
function exchangeOf(
  body: ReadableStream<Uint8Array>,
  onKeepAlive?: (send: () => void) => void,
): OpenUpstream {
  return {
    body,
    accountId: "acct_kept",
    deadline: Date.now() + 10_000,
    timedOut: false,
    aborted: false,
    moved() {},
    keepAlive(_ms, send) {
      onKeepAlive?.(send);
    },
    release() {},
    cancel() {},
  };
}

describe("the chunks an open stream keeps", () => {
  it("are not views of the larger buffers they were read into; the buyer gets the chunks as read", async () => {
    const views: Uint8Array[] = [];
    const forwarded: Uint8Array[] = [];
    const outcome = await streamToHost(
      upstreamOf(events(), views),
      "req-kept",
      {
        onResponseStart() {},
        onResponseChunk(chunk) {
          if (!chunk.done) forwarded.push(chunk.data);
        },
      },
      { idleTimeoutMs: 10_000 },
    );
    // Passed on as they came, no copy.
    assert.deepEqual(forwarded, views);
    forwarded.forEach((chunk, index) => assert.equal(chunk, views[index]));
    // The resolved body is the last event, read from the kept chunks.
    const body = outcome.response.body;
    assert.equal(
      new TextDecoder().decode(body),
      events().at(-1),
    );
    assert.ok(
      body.buffer.byteLength < BUFFER_BYTES,
      `kept as a view of a ${body.buffer.byteLength}-byte buffer`,
    );
    assert.equal(outcome.failure, undefined);
  });

  it("are kept as they are when they fill a good part of their buffer (a fast stream is not copied)", async () => {
    const all = events();
    const deltas = all.slice(1, 2).join("").repeat(60);
    // One chunk of about 10 KiB (a sixth of its buffer) ends the stream.
    const last = deltas + all.slice(2).join("");
    assert.ok(last.length * 8 > BUFFER_BYTES && last.length < BUFFER_BYTES);
    const views: Uint8Array[] = [];
    const outcome = await streamToHost(
      upstreamOf([all[0], last], views),
      "req-kept-large",
      { onResponseStart() {}, onResponseChunk() {} },
      { idleTimeoutMs: 10_000 },
    );
    assert.equal(
      new TextDecoder().decode(outcome.response.body),
      all.at(-1),
    );
    // The last event is read from the chunk itself, not from a copy.
    assert.equal(outcome.response.body.buffer, views[1].buffer);
  });

  it("of an aggregated answer are read whole", async () => {
    const outcome = await aggregateToResponse(
      upstreamOf(events(), []),
      "req-kept-json",
      { idleTimeoutMs: 10_000 },
    );
    assert.equal(outcome.response.statusCode, 200);
    const response = JSON.parse(
      new TextDecoder().decode(outcome.response.body),
    );
    assert.equal(response.id, "resp_kept_1");
    assert.equal(response.output[0].content[0].text, "Hi there");
  });
});

describe("the billing body of a translated stream without usage", () => {
  it("is what the buyer got, also when a keep-alive went out between the halves of an event", async () => {
    const { ChatStreamTranslator } = await import(
      "../src/protocols/chat_stream.ts"
    );
    const [created, delta] = events();
    const cut = frame("response.output_text.delta", {
      sequence_number: 2,
      output_index: 0,
      delta: " and then some",
    });
    const parts = [created + delta + cut.slice(0, 40), cut.slice(40)];
    let keepAlive: (() => void) | undefined;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        // No terminal event: no usage.
        if (next === undefined) return controller.close();
        if (parts.length === 0) keepAlive?.();
        controller.enqueue(encoder.encode(next));
      },
    });
    let got = "";
    const outcome = await streamToHost(
      exchangeOf(body, (send) => {
        keepAlive = send;
      }),
      "req-kept-chat",
      {
        onResponseStart() {},
        onResponseChunk(chunk) {
          if (!chunk.done) got += new TextDecoder().decode(chunk.data);
        },
      },
      {
        idleTimeoutMs: 10_000,
        keepAliveMs: 1_000,
        translator: new ChatStreamTranslator({
          model: "gpt-5.4",
          includeUsage: false,
          created: 1,
        }),
      },
    );
    assert.match(got, /: keep-alive/);
    assert.match(got, / and then some/);
    assert.equal(
      new TextDecoder().decode(outcome.response.body),
      got.replaceAll(": keep-alive\n\n", ""),
    );
  });
});
