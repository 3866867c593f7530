// The filter that cuts codex.rate_limits events out of a stream: everything
// else passes byte for byte, wherever the chunks are cut.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RateLimitsEventFilter } from "../src/codex/rate_limits_filter.ts";
import { prng } from "./fakes/prng.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const DATA = '{"type":"codex.rate_limits","plan_type":"pro","n":1}';
const EVENT = `event: codex.rate_limits\ndata: ${DATA}\n\n`;
const DELTA =
  'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n';

/** Pushes `text` cut at `cuts`; returns what passed and the data read. */
function run(text: string, cuts: number[] = []) {
  const bytes = encoder.encode(text);
  const points = [0, ...cuts, bytes.length];
  const seen: string[] = [];
  const filter = new RateLimitsEventFilter((data) => seen.push(data));
  let out = "";
  for (let index = 0; index + 1 < points.length; index++) {
    out += decoder.decode(
      filter.push(bytes.slice(points[index], points[index + 1])),
      { stream: true },
    );
  }
  return { out, seen };
}

describe("RateLimitsEventFilter", () => {
  it("cuts the event out in each framing and hands over its data", () => {
    for (
      const event of [
        EVENT,
        `event:codex.rate_limits\ndata:${DATA}\n\n`,
        `data: ${DATA}\n\n`,
        `data:${DATA}\n\n`,
        `event: codex.rate_limits\r\ndata: ${DATA}\r\n\r\n`,
      ]
    ) {
      const { out, seen } = run(`${DELTA}${event}${DELTA}`);
      assert.equal(out, `${DELTA}${DELTA}`, JSON.stringify(event));
      assert.deepEqual(seen, [DATA]);
    }
  });

  it("finds the event at every offset of a chunk", () => {
    for (let offset = 0; offset < 40; offset++) {
      const comment = `:${"x".repeat(offset)}\n\n`;
      const { out, seen } = run(`${comment}${EVENT}${DELTA}`);
      assert.equal(out, `${comment}${DELTA}`, `offset ${offset}`);
      assert.deepEqual(seen, [DATA]);
    }
  });

  it("returns a chunk without the event as it is", () => {
    const filter = new RateLimitsEventFilter(() => {});
    const chunk = encoder.encode(`${DELTA}${DELTA}`);
    assert.equal(filter.push(chunk), chunk);
  });

  it("passes the name where it is not an event's: in text, in a comment, as part of a longer name", () => {
    const text = [
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"event: codex.rate_limits"}\n\n',
      'data: {"type":"x","delta":"data: {\\"type\\":\\"codex.rate_limits\\""}\n\n',
      ": codex.rate_limits\n\n",
      "event: codex.rate_limits_v2\ndata: {}\n\n",
      'event: response.created\ndata: {"note":"codex.rate_limits"}\n\n',
    ].join("");
    const { out, seen } = run(text);
    assert.equal(out, text);
    assert.deepEqual(seen, []);
  });

  it("cuts an event split at every byte, at the start, the middle and the end of the stream", () => {
    for (
      const text of [
        `${EVENT}${DELTA}`,
        `${DELTA}${EVENT}${DELTA}`,
        `${DELTA}${EVENT}`,
        `${DELTA}${EVENT}${EVENT}${DELTA}`,
      ]
    ) {
      const expected = text.split(EVENT).join("");
      const size = encoder.encode(text).length;
      for (let cut = 1; cut < size; cut++) {
        const { out, seen } = run(text, [cut]);
        assert.equal(out, expected, `cut at ${cut}`);
        assert.equal(seen.length, text.split(EVENT).length - 1);
      }
      const everyByte = Array.from({ length: size - 1 }, (_, i) => i + 1);
      assert.equal(run(text, everyByte).out, expected);
    }
  });

  it("drops an event the stream ends inside", () => {
    const text =
      `${DELTA}event: codex.rate_limits\ndata: {"type":"codex.rate_limits"`;
    for (const cuts of [[], [DELTA.length + 3], [DELTA.length + 30]]) {
      const { out, seen } = run(text, cuts);
      assert.equal(out, DELTA);
      assert.deepEqual(seen, []);
    }
  });

  it("agrees with a whole-stream reading on random streams cut at random (seed 19)", () => {
    const random = prng(19);
    const pick = <T>(items: readonly T[]): T =>
      items[Math.floor(random() * items.length)];
    const texts = [
      "hi",
      "codex.rate_limits",
      "event: codex.rate_limits",
      'data: {"type":"codex.rate_limits"',
      "x".repeat(40),
    ];
    for (let trial = 0; trial < 2000; trial++) {
      const nl = random() < 0.2 ? "\r\n" : "\n";
      let text = "";
      let expected = "";
      const data: string[] = [];
      for (let index = Math.floor(random() * 8); index > 0; index--) {
        if (random() < 0.35) {
          const json = JSON.stringify({ type: "codex.rate_limits", index });
          data.push(json);
          text += pick([
            `event: codex.rate_limits${nl}data: ${json}${nl}${nl}`,
            `event:codex.rate_limits${nl}data:${json}${nl}${nl}`,
            `data: ${json}${nl}${nl}`,
          ]);
        } else {
          const delta = JSON.stringify({ type: "d", delta: pick(texts) });
          const other = pick([
            `event: response.output_text.delta${nl}data: ${delta}${nl}${nl}`,
            `data: ${delta}${nl}${nl}`,
            `: codex.rate_limits${nl}${nl}`,
            `event: codex.rate_limits_v2${nl}data: {}${nl}${nl}`,
          ]);
          text += other;
          expected += other;
        }
      }
      const size = encoder.encode(text).length;
      const cuts = [
        ...new Set(
          Array.from(
            { length: Math.floor(random() * 10) },
            () => Math.floor(random() * (size + 1)),
          ),
        ),
      ].sort((a, b) => a - b);
      const { out, seen } = run(text, cuts);
      assert.equal(out, expected, JSON.stringify({ text, cuts }));
      assert.deepEqual(seen, data);
    }
  });

  it("rethrows what the reader throws, and goes on with the next chunk", () => {
    const filter = new RateLimitsEventFilter(() => {
      throw new Error("reader failed");
    });
    assert.throws(
      () => filter.push(encoder.encode(`${DELTA}${EVENT}`)),
      /reader failed/,
    );
    assert.equal(
      decoder.decode(filter.push(encoder.encode(DELTA))),
      DELTA,
    );
  });
});
