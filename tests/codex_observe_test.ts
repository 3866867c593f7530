import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ResponseAggregator, wantsEvent } from "../src/codex/aggregate.ts";
import {
  completedEventOf,
  lastEventStart,
  observeStream,
} from "../src/codex/observe.ts";
import { SseParser } from "../src/codex/sse.ts";

const encoder = new TextEncoder();

function frame(type: string, data: Record<string, unknown>, named = true) {
  const json = JSON.stringify({ type, ...data });
  return named ? `event: ${type}\ndata: ${json}\n\n` : `data: ${json}\n\n`;
}

const USAGE = { input_tokens: 7, output_tokens: 3, total_tokens: 10 };
const MESSAGE = {
  type: "message",
  id: "msg_1",
  role: "assistant",
  content: [{ type: "output_text", text: "Hi" }],
};

function answer(
  options: { named?: boolean; output?: unknown[]; terminal?: boolean } = {},
) {
  const named = options.named ?? true;
  let text = frame("response.created", {
    sequence_number: 0,
    response: { id: "resp_1", status: "in_progress", output: [] },
  }, named) +
    frame(
      "response.output_text.delta",
      { sequence_number: 1, delta: "Hi" },
      named,
    ) +
    frame("response.output_item.done", {
      sequence_number: 2,
      output_index: 0,
      item: MESSAGE,
    }, named);
  if (options.terminal !== false) {
    text += frame("response.completed", {
      sequence_number: 3,
      response: {
        id: "resp_1",
        object: "response",
        status: "completed",
        output: options.output ?? [MESSAGE],
        usage: USAGE,
      },
    }, named);
  }
  return encoder.encode(text);
}

function fullParse(body: Uint8Array) {
  const aggregator = new ResponseAggregator();
  const parser = new SseParser((e, d) => aggregator.handle(e, d), {
    wants: wantsEvent,
  });
  parser.push(body);
  parser.finish();
  return aggregator;
}

describe("lastEventStart", () => {
  it("finds the byte after the blank line before the last event", () => {
    const body = encoder.encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
    assert.equal(lastEventStart(body), 18);
  });

  it("handles CRLF line ends", () => {
    const body = encoder.encode("data: 1\r\n\r\ndata: 2\r\n\r\n");
    assert.equal(lastEventStart(body), 11);
  });

  it("returns 0 for a single event", () => {
    assert.equal(lastEventStart(encoder.encode("event: a\ndata: 1\n\n")), 0);
    assert.equal(lastEventStart(new Uint8Array(0)), 0);
  });
});

describe("completedEventOf", () => {
  const decoder = new TextDecoder();

  it("returns the completed event's data and the Response's id, unparsed", () => {
    const body = answer();
    const completed = completedEventOf(body);
    assert.ok(completed);
    assert.equal(completed.responseId, "resp_1");
    const event = JSON.parse(decoder.decode(completed.data));
    assert.equal(event.type, "response.completed");
    assert.deepEqual(event.response.output, [MESSAGE]);
    // A view into the body, not a copy.
    assert.equal(completed.data.buffer, body.buffer);
  });

  it("refuses a completed event whose output is empty (it must be rebuilt)", () => {
    assert.equal(completedEventOf(answer({ output: [] })), undefined);
  });

  it("keeps a completed event whose items hold empty arrays of their own", () => {
    const item = { ...MESSAGE, content: [], annotations: [] };
    const completed = completedEventOf(answer({ output: [item] }));
    assert.equal(completed?.responseId, "resp_1");
  });

  it("refuses a stream that did not complete", () => {
    assert.equal(completedEventOf(answer({ terminal: false })), undefined);
    const cut = answer();
    assert.equal(completedEventOf(cut.subarray(0, cut.length - 1)), undefined);
  });
});

describe("observeStream", () => {
  it("recognises a terminal event and reads its usage", () => {
    const seen = observeStream(answer());
    assert.equal(seen.terminal, "response.completed");
    assert.deepEqual(seen.usage, USAGE);
    assert.equal(seen.pendingBytes, 0);
  });

  it("recognises an unnamed terminal event from its JSON type", () => {
    const seen = observeStream(answer({ named: false }));
    assert.equal(seen.terminal, "response.completed");
    assert.deepEqual(seen.usage, USAGE);
  });

  it("reports no terminal, the next sequence number and the response id of a cut stream", () => {
    const seen = observeStream(answer({ terminal: false }));
    assert.equal(seen.terminal, undefined);
    assert.equal(seen.nextSequenceNumber, 3);
    assert.equal(seen.responseId, "resp_1");
    assert.equal(seen.result().kind, "missing");
  });

  it("reports the pending bytes of a truncated last event", () => {
    const whole = answer();
    const seen = observeStream(whole.subarray(0, whole.length - 30));
    assert.equal(seen.terminal, undefined);
    assert.ok(seen.pendingBytes > 0);
  });

  it("rebuilds an empty output from the streamed items when asked", () => {
    const seen = observeStream(answer({ output: [] }), { needOutput: true });
    const result = seen.result();
    assert.ok(result.kind === "response");
    assert.deepEqual(result.response.output, [MESSAGE]);
  });

  it("reads the usage limit of a stream that ends with a usage_limit_reached error event", () => {
    const resetsAt = Math.floor(Date.now() / 1000) + 3600;
    const body = encoder.encode(
      new TextDecoder().decode(answer({ terminal: false })) +
        frame("error", {
          sequence_number: 3,
          status_code: 429,
          error: { type: "usage_limit_reached", resets_at: resetsAt },
        }),
    );
    const result = observeStream(body).result();
    assert.ok(result.kind === "error");
    assert.equal(result.error.code, "usage_limit_reached");
    assert.deepEqual(result.usageLimit, { resetsAt: resetsAt * 1000 });
  });

  it("agrees with a whole-stream parse on terminal, usage and result", () => {
    const bodies = [
      answer(),
      answer({ named: false }),
      answer({ output: [] }),
      answer({ terminal: false }),
      encoder.encode(
        frame("response.failed", {
          response: { error: { code: "server_is_overloaded", message: "x" } },
        }),
      ),
      encoder.encode(frame("error", { code: "server_error", message: "x" })),
    ];
    for (const body of bodies) {
      const full = fullParse(body);
      const seen = observeStream(body, { needOutput: true });
      assert.equal(seen.terminal, full.terminal);
      assert.deepEqual(seen.usage, full.usage);
      assert.deepEqual(
        JSON.stringify(seen.result()),
        JSON.stringify(full.result()),
      );
    }
  });
});
