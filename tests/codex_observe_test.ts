import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ResponseAggregator, wantsEvent } from "../src/codex/aggregate.ts";
import {
  completedEventOf,
  decodeShort,
  lastEventStart,
  observeChunks,
  observeStream,
  type StreamObservation,
  usageAt,
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

// Oracles: the rules of the byte scans, restated on text (every body below
// but the non-ASCII ones is ASCII, so string offsets are byte offsets).

/** After the last blank line of the body, its closing line ends ignored. */
function lastEventStartOf(text: string): number {
  const trimmed = text.replace(/[\r\n]+$/, "");
  for (let lf = trimmed.length - 1; lf >= 0; lf--) {
    if (trimmed[lf] !== "\n") continue;
    if (trimmed[lf - 1] === "\n") return lf + 1;
    if (trimmed[lf - 1] === "\r" && trimmed[lf - 2] === "\n") return lf + 1;
  }
  return 0;
}

/**
 * The completed event kept unread: a body closed by a blank line whose last
 * event starts with the line `event: response.completed`, whose first data
 * line is its last line, holds no `"output":[]` and holds the Response's id
 * (at most 200 bytes) after `"response":{"id":"`.
 */
function completedOf(body: Uint8Array) {
  const text = new TextDecoder().decode(body);
  if (!/\n\r?\n$/.test(text)) return undefined;
  const start = lastEventStartOf(text);
  const event = text.slice(start).replace(/[\r\n]+$/, "");
  if (!event.startsWith("event: response.completed\n")) return undefined;
  const dataAt = event.indexOf("\ndata: ");
  if (dataAt < 0) return undefined;
  const data = event.slice(dataAt + 7);
  if (data.includes("\n") || data.includes('"output":[]')) return undefined;
  const key = '"response":{"id":"';
  const idAt = data.indexOf(key);
  if (idAt < 0) return undefined;
  const id = data.slice(
    idAt + key.length,
    data.indexOf('"', idAt + key.length),
  );
  const idBytes = encoder.encode(id).length;
  if (idBytes === 0 || idBytes > 200) return undefined;
  return { data, responseId: id };
}

/**
 * The usage object cut out of the bytes: the last `"usage":{` at or after
 * `start` not after a backslash, to its closing brace (strings skipped),
 * when it parses as an object with `input_tokens`.
 */
function usageOf(body: Uint8Array, start: number) {
  const text = new TextDecoder().decode(body);
  let at = text.lastIndexOf('"usage":{');
  while (at >= start && text[at - 1] === "\\") {
    at = at === 0 ? -1 : text.lastIndexOf('"usage":{', at - 1);
  }
  if (at < start) return undefined;
  const from = at + 8;
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      try {
        const usage = JSON.parse(text.slice(from, i + 1));
        return typeof usage?.input_tokens === "number" ? usage : undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Bodies of every shape the backend (or a broken one) may send. */
function shapes(): Uint8Array[] {
  const completed = (response: Record<string, unknown>, extra = "") =>
    `event: response.completed\n${extra}data: ${
      JSON.stringify({ type: "response.completed", response })
    }\n\n`;
  const head = new TextDecoder().decode(answer({ terminal: false }));
  const texts = [
    head + completed({ id: "resp_1", output: [MESSAGE], usage: USAGE }),
    // A blank line more before the last event.
    head + "\n" + completed({ id: "resp_1", output: [MESSAGE], usage: USAGE }),
    head + completed({ id: "resp_é€😀", output: [MESSAGE], usage: USAGE }),
    head + completed({ id: 'resp_"q\\', output: [MESSAGE] }),
    head + completed({ id: "", output: [MESSAGE] }),
    head + completed({ id: "r".repeat(200), output: [MESSAGE] }),
    head + completed({ id: "r".repeat(201), output: [MESSAGE] }),
    head + completed({ output: [MESSAGE], id: "resp_1" }),
    head + completed({ id: "resp_1", output: [] }),
    head + completed({ id: "resp_1" }),
    head + completed({ id: "resp_1", output: null }),
    head + completed({ id: "resp_1", output: [{ ...MESSAGE, output: [] }] }),
    head + completed({ id: "resp_1", output: [MESSAGE] }, "id: 4\n"),
    head + completed({ id: "resp_1", output: [MESSAGE] }, ": note\n"),
    head +
    `event: response.completed\ndata: {"type":"response.completed",\ndata: "response":{"id":"resp_1","output":[{"type":"message"}]}}\n\n`,
    head +
    `event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}\n\n\n`,
    head +
    `event: response.completed\r\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}\r\n\r\n`,
    head +
    `event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}\r\n\r\n`,
    head +
    `event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}\n`,
    head +
    `event: response.completed\ndata: {"type":"response.completed","response":{"id":"resp_1","output":[{"type":"message"}]}}`,
    head + frame("response.completed", {
      response: { id: "resp_1", output: [MESSAGE], usage: USAGE },
    }, false),
    head + frame("response.incomplete", {
      response: { id: "resp_1", output: [], usage: USAGE },
    }),
    head + frame("response.failed", {
      response: { error: { code: "server_is_overloaded", message: "x" } },
    }),
    head + frame("error", { code: "server_error", message: "x" }),
    head + "event: response.completed\ndata: not json\n\n",
    head,
    completed({ id: "resp_1", output: [MESSAGE], usage: USAGE }),
    "",
    "\n\n",
  ];
  const bodies = texts.map((text) => encoder.encode(text));
  bodies.push(answer(), answer({ named: false }), answer({ output: [] }));
  return bodies;
}

describe("observeStream with keepOutput", () => {
  it("hands back the completed event as completedEventOf finds it, for every shape", () => {
    for (const body of shapes()) {
      const expected = completedOf(body);
      const seen = observeStream(body, { keepOutput: true });
      const label = new TextDecoder().decode(body.subarray(-160));
      assert.deepEqual(
        seen.completed && {
          data: new TextDecoder().decode(seen.completed.data),
          responseId: seen.completed.responseId,
        },
        expected,
        label,
      );
      const alone = completedEventOf(body);
      assert.equal(alone?.responseId, expected?.responseId, label);
      if (seen.completed) {
        // A view into the body, not a copy.
        assert.equal(seen.completed.data.buffer, body.buffer);
      }
    }
  });

  it("agrees with a whole-stream parse on terminal, usage and result, in either order", () => {
    for (const body of shapes()) {
      const label = new TextDecoder().decode(body.subarray(-160));
      const full = fullParse(body);
      for (const options of [{}, { needOutput: true }, { keepOutput: true }]) {
        const usageFirst = observeStream(body, options);
        assert.equal(usageFirst.terminal, full.terminal, label);
        assert.deepEqual(usageFirst.usage, full.usage, label);
        const resultFirst = observeStream(body, options);
        const result = resultFirst.result();
        assert.deepEqual(resultFirst.usage, full.usage, label);
        if (result.kind === "response" && !("needOutput" in options)) continue;
        assert.deepEqual(
          JSON.stringify(result),
          JSON.stringify(full.result()),
          label,
        );
      }
    }
  });

  it("rebuilds the output when the completed event cannot be kept unread", () => {
    const seen = observeStream(answer({ output: [] }), { keepOutput: true });
    assert.equal(seen.completed, undefined);
    const result = seen.result();
    assert.ok(result.kind === "response");
    assert.deepEqual(result.response.output, [MESSAGE]);
  });

  it("builds the result once", () => {
    const seen = observeStream(answer(), { needOutput: true });
    assert.equal(seen.result(), seen.result());
  });
});

describe("lastEventStart on any line ends", () => {
  it("agrees with the rule restated on text", () => {
    const parts = ["\n", "\r", "\r\n", "a", "data: 1", "\n\n", "\r\n\r\n"];
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let n = 0; n < 3000; n++) {
      let text = "";
      const length = Math.floor(random() * 8);
      for (let i = 0; i < length; i++) {
        text += parts[Math.floor(random() * parts.length)];
      }
      assert.equal(
        lastEventStart(encoder.encode(text)),
        lastEventStartOf(text),
        JSON.stringify(text),
      );
    }
  });
});

describe("usageAt", () => {
  it("cuts out the last usage object of the event, as the rule restated on text", () => {
    const usage = JSON.stringify(USAGE);
    const texts = [
      `data: {"response":{"usage":${usage}}}\n\n`,
      `data: {"response":{"output":[{"text":"\\"usage\\":{\\"input_tokens\\":1}"}],"usage":${usage}}}\n\n`,
      `data: {"response":{"usage":${usage},"output":[{"text":"\\"usage\\":{\\"input_tokens\\":1}"}]}}\n\n`,
      `data: {"response":{"usage":${usage},"output":[{"usage":{"input_tokens":5}}]}}\n\n`,
      `data: {"response":{"usage":{"input_tokens":"7"}}}\n\n`,
      `data: {"response":{"usage":{"input_tokens":7,"note":"}{"}}}\n\n`,
      `data: {"response":{"usage":{"input_tokens":7\n\n`,
      `data: {"response":{"usage":null}}\n\n`,
      `{"usage":{"input_tokens":1}}`,
      `"usage":{`,
      "",
    ];
    for (const text of texts) {
      const body = encoder.encode(text);
      for (let start = 0; start <= body.length; start += 3) {
        assert.deepEqual(
          usageAt(body, start),
          usageOf(body, start),
          `${text} from ${start}`,
        );
      }
    }
  });
});

describe("decodeShort", () => {
  it("decodes as the TextDecoder does, ASCII or not", () => {
    const bodies = [
      encoder.encode("resp_0123456789abcdef"),
      encoder.encode("resp_é€😀"),
      encoder.encode("\uFEFFresp_1"),
      new Uint8Array([0x72, 0xff, 0x73]),
      new Uint8Array([0x72, 0xe2, 0x82]),
      new Uint8Array(0),
    ];
    for (const bytes of bodies) {
      for (let from = 0; from <= bytes.length; from++) {
        for (let to = from; to <= bytes.length; to++) {
          assert.equal(
            decodeShort(bytes, from, to),
            new TextDecoder().decode(bytes.subarray(from, to)),
          );
        }
      }
    }
  });
});

describe("observeChunks", () => {
  /** What a caller reads of an observation, for comparing two of them. */
  function reading(seen: StreamObservation) {
    const result = seen.result();
    return {
      terminal: seen.terminal,
      usage: seen.usage,
      result: JSON.stringify(result),
      pendingBytes: seen.pendingBytes,
      nextSequenceNumber: seen.nextSequenceNumber,
      responseId: seen.responseId,
      completed: seen.completed && {
        data: new TextDecoder().decode(seen.completed.data),
        responseId: seen.completed.responseId,
      },
    };
  }

  /** `body` cut at random places (some cuts inside line ends and blank lines). */
  function cut(body: Uint8Array, random: () => number): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    let at = 0;
    while (at < body.length) {
      const size = random() < 0.3
        ? 1 + Math.floor(random() * 3)
        : 1 + Math.floor(random() * 80);
      chunks.push(body.slice(at, at + size));
      at += size;
    }
    return chunks;
  }

  /** `body` cut after each blank line, as the backend sends it. */
  function byEvent(body: Uint8Array): Uint8Array[] {
    const text = new TextDecoder().decode(body);
    return text.split(/(?<=\n\r?\n)/).map((part) => encoder.encode(part));
  }

  it("reads what observeStream reads of the whole body, however the body was cut", () => {
    let seed = 11;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const bodies = [...shapes()];
    // Line ends of every kind between and after the events.
    for (const body of shapes()) {
      const text = new TextDecoder().decode(body);
      bodies.push(encoder.encode(text.replaceAll("\n", "\r\n")));
    }
    for (const body of bodies) {
      const label = new TextDecoder().decode(body.subarray(-160));
      const text = new TextDecoder().decode(body);
      // Cut at random, after each event, and in two at every byte (so that
      // the first join ends at every place).
      const cuts = [[body], byEvent(body)];
      for (let round = 0; round < 20; round++) cuts.push(cut(body, random));
      for (let at = 1; at < body.length; at++) {
        cuts.push([body.subarray(0, at), body.subarray(at)]);
      }
      for (const options of [{}, { needOutput: true }, { keepOutput: true }]) {
        const whole = reading(observeStream(body, options));
        for (const chunks of cuts) {
          const { seen, last } = observeChunks(chunks, body.length, options);
          assert.deepEqual(reading(seen), whole, label);
          // What it hands back for billing ends the body, and is the whole
          // body or starts at its last event.
          assert.ok(text.endsWith(new TextDecoder().decode(last)), label);
          assert.ok(
            last.length === body.length ||
              last.length === body.length - lastEventStart(body),
            label,
          );
        }
      }
    }
  });

  it("hands back the last event with its usage, for the node to bill", () => {
    const body = answer();
    const { last } = observeChunks(cut(body, Math.random), body.length);
    const text = new TextDecoder().decode(last);
    assert.ok(text.startsWith("event: response.completed\n"), text);
    assert.ok(text.includes(JSON.stringify(USAGE).slice(1, -1)));
  });

  it("joins about the last event, not the stream, when the stream ends with it", () => {
    const head = frame("response.created", {
      sequence_number: 0,
      response: { id: "resp_1", status: "in_progress", output: [] },
    });
    const delta = frame("response.output_text.delta", {
      delta: "x".repeat(200),
    });
    const end = frame("response.completed", {
      response: { id: "resp_1", output: [MESSAGE], usage: USAGE },
    });
    const chunks = [head, ...Array(5000).fill(delta), end].map((text) =>
      encoder.encode(text)
    );
    const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const { seen, last } = observeChunks(chunks, total, { keepOutput: true });
    assert.equal(seen.terminal, "response.completed");
    assert.equal(seen.completed?.responseId, "resp_1");
    // The completed event came whole in one chunk: nothing was copied.
    assert.equal(last.buffer, chunks.at(-1)!.buffer);
    // Cut in small pieces, it copies a few times the event, not 1 MB.
    const small = chunks.flatMap((chunk) => cut(chunk, Math.random));
    const again = observeChunks(small, total, { keepOutput: true });
    assert.equal(again.seen.completed?.responseId, "resp_1");
    assert.ok(again.last.buffer.byteLength < 8 * end.length);
  });
});
