import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SseParser, type SseParserOptions } from "../src/codex/sse.ts";
import { prng } from "./fakes/prng.ts";

type Event = [string, string];

const encoder = new TextEncoder();

/** Parses a whole stream with the parser, fed as the given chunks. */
function parse(
  chunks: readonly Uint8Array[],
  options?: SseParserOptions,
): { events: Event[]; parser: SseParser } {
  const events: Event[] = [];
  const parser = new SseParser(
    (event, data) => events.push([event, data]),
    options,
  );
  for (const chunk of chunks) parser.push(chunk);
  parser.finish();
  return { events, parser };
}

function parseText(text: string, options?: SseParserOptions): Event[] {
  return parse([encoder.encode(text)], options).events;
}

/**
 * A plain string implementation of the SSE specification's event parsing
 * (lines end at `\n` or `\r\n`), used as the oracle.
 */
function reference(
  text: string,
  wants: (event: string) => boolean = () => true,
): Event[] {
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const lines = text.split("\n");
  lines.pop(); // not terminated
  const events: Event[] = [];
  let name = "";
  let data: string[] = [];
  for (let line of lines) {
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line === "") {
      const event = name === "" ? "message" : name;
      if (data.length > 0 && wants(event)) {
        events.push([event, data.join("\n")]);
      }
      name = "";
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    if (field === "data") data.push(value);
  }
  return events;
}

const BLOCKS: readonly string[] = [
  'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n',
  'event: response.output_text.delta\ndata: {"delta":"héllo wörld 🌍"}\n\n',
  'data: {"type":"response.output_item.done","item":{"text":"ünnamed"}}\n\n',
  "event: multi\ndata: line one\ndata:line two\ndata\ndata:  two spaces\n\n",
  ": keepalive comment\n\n",
  "event: crlf\r\ndata: 日本語のテキスト\r\n\r\n",
  "data: before the name\nevent: late-name\ndata: after the name\n\n",
  "id: 5\nretry: 100\nevent: with-id\ndata: x\n\n",
  "event: empty-data\ndata:\n\n",
  "event: no-data\n\n",
  "event:\ndata: named by an empty event line\n\n",
  "database: not a data field\neventual: not an event field\nevent: tricky\ndata: ok\n\n",
  `event: response.output_item.done\ndata: {"text":"${
    "ça coûte 5€ — 🎉 ".repeat(200)
  }"}\n\n`,
  `event: response.output_text.delta\ndata: ${"x".repeat(700)}\n\n`,
  "\n\n",
  'event: response.completed\ndata: {"type":"response.completed"}\n\n',
];

function randomStream(random: () => number, blocks: number): string {
  let text = "";
  for (let index = 0; index < blocks; index++) {
    text += BLOCKS[Math.floor(random() * BLOCKS.length)];
  }
  return text;
}

function randomChunks(bytes: Uint8Array, random: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let position = 0;
  while (position < bytes.length) {
    const roll = random();
    const size = roll < 0.3
      ? 1 + Math.floor(random() * 4)
      : roll < 0.8
      ? 1 + Math.floor(random() * 64)
      : 1 + Math.floor(random() * 4096);
    chunks.push(bytes.slice(position, position + size));
    position += size;
  }
  return chunks;
}

const ALL_BLOCKS = BLOCKS.join("");

describe("SseParser framing", () => {
  it("delivers named events with their data", () => {
    assert.deepEqual(parseText("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"), [
      ["a", "1"],
      ["b", "2"],
    ]);
  });

  it("names an event without an event line message", () => {
    assert.deepEqual(parseText('data: {"type":"x"}\n\n'), [
      ["message", '{"type":"x"}'],
    ]);
  });

  it("names an event with an empty event line message", () => {
    assert.deepEqual(parseText("event:\ndata: d\n\n"), [["message", "d"]]);
  });

  it("joins multi-line data with a newline", () => {
    assert.deepEqual(parseText("event: m\ndata: a\ndata:b\ndata\n\n"), [
      ["m", "a\nb\n"],
    ]);
  });

  it("removes exactly one space after the colon", () => {
    assert.deepEqual(parseText("data:  two\ndata:none\n\n"), [
      ["message", " two\nnone"],
    ]);
  });

  it("ignores comment lines", () => {
    assert.deepEqual(
      parseText(": ping\nevent: a\n: inner\ndata: 1\n\n: ping\n\n"),
      [
        ["a", "1"],
      ],
    );
  });

  it("ignores other fields and fields that only start with data or event", () => {
    assert.deepEqual(
      parseText(
        "id: 1\nretry: 5\ndatabase: x\neventual: y\nevent: e\ndata: ok\n\n",
      ),
      [["e", "ok"]],
    );
  });

  it("does not deliver an event without data lines", () => {
    const { events, parser } = parse([encoder.encode("event: a\n\n")]);
    assert.deepEqual(events, []);
    assert.equal(parser.eventCount, 0);
  });

  it("delivers an event whose data is empty", () => {
    assert.deepEqual(parseText("event: a\ndata:\n\n"), [["a", ""]]);
  });

  it("accepts CRLF line ends", () => {
    assert.deepEqual(
      parseText("event: a\r\ndata: 1\r\n\r\nevent: b\r\ndata: 2\r\n\r\n"),
      [
        ["a", "1"],
        ["b", "2"],
      ],
    );
  });

  it("keeps data lines that come before the event line", () => {
    assert.deepEqual(parseText("data: 1\nevent: late\ndata: 2\n\n"), [
      ["late", "1\n2"],
    ]);
  });

  it("takes the last event line as the name", () => {
    assert.deepEqual(parseText("event: a\nevent: b\ndata: 1\n\n"), [[
      "b",
      "1",
    ]]);
  });

  it("strips a UTF-8 byte order mark at the start of the stream only", () => {
    assert.deepEqual(parseText("\uFEFFevent: a\ndata: \uFEFFx\n\n"), [
      ["a", "\uFEFFx"],
    ]);
  });

  it("decodes multi-byte UTF-8 data", () => {
    assert.deepEqual(parseText("event: t\ndata: ça 日本 🌍\n\n"), [
      ["t", "ça 日本 🌍"],
    ]);
  });

  it("does not parse JSON: invalid JSON data is delivered as text", () => {
    assert.deepEqual(parseText("event: t\ndata: {not json\n\n"), [
      ["t", "{not json"],
    ]);
  });
});

describe("SseParser chunk boundaries", () => {
  it("handles a split inside a multi-byte character", () => {
    const bytes = encoder.encode("event: t\ndata: 🌍\n\n");
    const emoji = bytes.indexOf(0xf0);
    for (let offset = emoji + 1; offset < emoji + 4; offset++) {
      const { events } = parse([
        bytes.subarray(0, offset),
        bytes.subarray(offset),
      ]);
      assert.deepEqual(events, [["t", "🌍"]], `split at ${offset}`);
    }
  });

  it("handles a split between the two newlines of a boundary", () => {
    const bytes = encoder.encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
    const split = "event: a\ndata: 1\n".length;
    const seen: Event[] = [];
    const parser = new SseParser((event, data) => seen.push([event, data]));
    parser.push(bytes.subarray(0, split));
    assert.deepEqual(seen, [], "not delivered before the blank line");
    parser.push(bytes.subarray(split));
    assert.deepEqual(seen, [["a", "1"], ["b", "2"]]);
  });

  it("handles CRLF boundaries split between carriage return and line feed", () => {
    const text = "event: a\r\ndata: 1\r\n\r\n";
    const bytes = encoder.encode(text);
    for (let offset = 1; offset < bytes.length; offset++) {
      const { events } = parse([
        bytes.subarray(0, offset),
        bytes.subarray(offset),
      ]);
      assert.deepEqual(events, [["a", "1"]], `split at ${offset}`);
    }
  });

  it("gives the same events for a split at every byte offset", () => {
    const bytes = encoder.encode(ALL_BLOCKS);
    const expected = reference(ALL_BLOCKS);
    assert.ok(expected.length > 10);
    assert.deepEqual(parse([bytes]).events, expected);
    for (let offset = 0; offset <= bytes.length; offset++) {
      const { events, parser } = parse([
        bytes.subarray(0, offset),
        bytes.subarray(offset),
      ]);
      assert.deepEqual(events, expected, `split at ${offset}`);
      assert.equal(parser.pendingBytes, 0);
    }
  });

  it("gives the same events fed one byte at a time", () => {
    const bytes = encoder.encode(ALL_BLOCKS);
    const chunks = Array.from(bytes, (byte) => new Uint8Array([byte]));
    assert.deepEqual(parse(chunks).events, reference(ALL_BLOCKS));
  });

  it("gives the same events for random streams in random chunkings", () => {
    const random = prng(0x5eed);
    for (let round = 0; round < 300; round++) {
      const text = randomStream(random, 1 + Math.floor(random() * 25));
      const bytes = encoder.encode(text);
      const expected = reference(text);
      const { events, parser } = parse(randomChunks(bytes, random));
      assert.deepEqual(events, expected, `round ${round}`);
      assert.equal(parser.pendingBytes, 0, `round ${round}`);
    }
  });

  it("gives the same filtered events for random streams in random chunkings", () => {
    const random = prng(42);
    const wants = (event: string) =>
      event === "message" || event === "response.output_item.done" ||
      event === "response.completed" || event === "late-name";
    for (let round = 0; round < 300; round++) {
      const text = randomStream(random, 1 + Math.floor(random() * 25));
      const bytes = encoder.encode(text);
      const { events, parser } = parse(randomChunks(bytes, random), { wants });
      assert.deepEqual(events, reference(text, wants), `round ${round}`);
      assert.equal(parser.eventCount, reference(text).length, `round ${round}`);
    }
  });

  it("does not depend on the pushed chunk staying unchanged", () => {
    const bytes = encoder.encode("event: a\ndata: hello world\n\n");
    const events: Event[] = [];
    const parser = new SseParser((event, data) => events.push([event, data]));
    const first = bytes.slice(0, 20);
    parser.push(first);
    first.fill(0x78);
    parser.push(bytes.slice(20));
    assert.deepEqual(events, [["a", "hello world"]]);
  });
});

describe("SseParser filter", () => {
  it("delivers only wanted events", () => {
    const events = parseText(
      "event: skip\ndata: 1\n\nevent: keep\ndata: 2\n\ndata: 3\n\n",
      { wants: (event) => event === "keep" },
    );
    assert.deepEqual(events, [["keep", "2"]]);
  });

  it("applies the filter to unnamed events as message", () => {
    const names: string[] = [];
    const events = parseText("data: 1\n\n", {
      wants: (event) => {
        names.push(event);
        return true;
      },
    });
    assert.deepEqual(names, ["message"]);
    assert.deepEqual(events, [["message", "1"]]);
  });

  it("distinguishes consecutive event names of the same length", () => {
    const events = parseText(
      "event: abc\ndata: 1\n\nevent: abd\ndata: 2\n\nevent: abc\ndata: 3\n\n",
      { wants: (event) => event === "abc" },
    );
    assert.deepEqual(events, [["abc", "1"], ["abc", "3"]]);
  });

  it("asks the filter once per event name", () => {
    let calls = 0;
    parseText("event: a\ndata: 1\n\n".repeat(50), {
      wants: () => {
        calls++;
        return false;
      },
    });
    assert.equal(calls, 1);
  });

  it("counts unwanted events in eventCount", () => {
    const { parser } = parse([
      encoder.encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n: c\n\n"),
    ], { wants: (event) => event === "b" });
    assert.equal(parser.eventCount, 2);
  });
});

describe("SseParser end of stream", () => {
  it("does not deliver a truncated final event and reports its bytes", () => {
    const tail = 'event: response.completed\ndata: {"a":1}\n';
    const { events, parser } = parse([
      encoder.encode(`event: a\ndata: 1\n\n${tail}`),
    ]);
    assert.deepEqual(events, [["a", "1"]]);
    assert.equal(parser.pendingBytes, encoder.encode(tail).length);
    assert.equal(parser.eventCount, 1);
  });

  it("counts a partial line in pendingBytes", () => {
    const parser = new SseParser(() => {});
    parser.push(encoder.encode("event: a\ndata: 1\n\nevent: b\ndat"));
    assert.equal(parser.pendingBytes, "event: b\ndat".length);
    parser.push(encoder.encode("a: 2\n\n"));
    assert.equal(parser.pendingBytes, 0);
  });

  it("reports zero pendingBytes on an event boundary", () => {
    const { parser } = parse([encoder.encode("event: a\ndata: 1\n\n")]);
    assert.equal(parser.pendingBytes, 0);
  });

  it("rejects a push after finish", () => {
    const parser = new SseParser(() => {});
    parser.finish();
    assert.throws(
      () => parser.push(new Uint8Array([0x0a])),
      /push after finish/,
    );
  });
});

describe("SseParser consumer errors", () => {
  it("parses the rest of the chunk and then rethrows the consumer's error", () => {
    const seen: string[] = [];
    const parser = new SseParser((event) => {
      seen.push(event);
      if (event === "a") throw new Error("boom");
    });
    assert.throws(
      () =>
        parser.push(
          encoder.encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n"),
        ),
      /boom/,
    );
    assert.deepEqual(seen, ["a", "b"]);
    parser.push(encoder.encode("event: c\ndata: 3\n\n"));
    assert.deepEqual(seen, ["a", "b", "c"]);
  });
});
