// The paced JSON writer of large upstream bodies: the text JSON.stringify
// writes, the UTF-8 bound exact, yields between slices of items; and the
// responses-lite body written through it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pacer } from "../src/async.ts";
import { stringifyPaced } from "../src/codex/paced_json.ts";
import {
  responsesLiteBody,
  toResponsesLite,
} from "../src/codex/responses_lite.ts";
import { watchEventLoop } from "./fixtures/event_loop.ts";

const encoder = new TextEncoder();

function tooLarge(bytes: number): Error {
  return new RangeError(`at least ${bytes} bytes`);
}

function write(object: Record<string, unknown>, maxBytes = Infinity) {
  return stringifyPaced(object, maxBytes, new Pacer(), tooLarge);
}

describe("stringifyPaced", () => {
  it("writes the text JSON.stringify writes, member order and odd values included", async () => {
    const objects: Record<string, unknown>[] = [
      { model: "m" },
      { model: "m", input: [], store: false },
      {
        a: undefined,
        b: () => 1,
        c: null,
        d: [undefined, () => 1, 1],
        e: "é😀\ud800",
      },
      { nested: { x: [1, { y: [2] }] }, 'quote"key': "a\nb", n: 1.5e300 },
      {
        input: Array.from({ length: 1000 }, (_, i) => ({ i, t: `text ${i}` })),
        z: 1,
      },
      { first: [1, 2], second: "s", third: [[], [3]] },
    ];
    for (const object of objects) {
      assert.equal(await write(object), JSON.stringify(object));
    }
  });

  it("takes a text of exactly the bound in UTF-8 and refuses one byte less", async () => {
    const object = {
      model: "m",
      input: Array.from({ length: 600 }, () => ({ text: "é😀" })),
    };
    const bytes = encoder.encode(JSON.stringify(object)).length;
    assert.equal(await write(object, bytes), JSON.stringify(object));
    await assert.rejects(write(object, bytes - 1), RangeError);
  });

  it("yields to the event loop between slices of items", async () => {
    const object = {
      input: Array.from({ length: 40_000 }, (_, i) => ({ type: "message", i })),
    };
    const watch = watchEventLoop();
    await stringifyPaced(object, Infinity, new Pacer(1), tooLarge);
    const { turns } = watch.stop();
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
  });
});

describe("stringifyPaced, large items", () => {
  it("ends a slice early after 64 Ki characters: a few items of a megabyte are written one at a time", async () => {
    const item = { type: "message", content: "x".repeat(1024 * 1024) };
    const object = { input: [item, item, item, item, item, item] };
    const watch = watchEventLoop();
    const text = await stringifyPaced(object, Infinity, new Pacer(1), tooLarge);
    const { turns } = watch.stop();
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
    assert.equal(text, JSON.stringify(object));
  });
});

describe("responsesLiteBody", () => {
  it("writes the lite shape of a large body with yields, once per request", async () => {
    const shaped = {
      model: "gpt-5.6-sol",
      instructions: "Be brief",
      input: Array.from({ length: 40_000 }, (_, i) => ({
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: `message ${i}` }],
      })),
      tools: [],
    };
    const request: { body: string; shaped: typeof shaped; liteBody?: string } =
      { body: "", shaped };
    const watch = watchEventLoop();
    const text = await responsesLiteBody(request, new Pacer(1));
    const { turns } = watch.stop();
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
    assert.equal(text, JSON.stringify(toResponsesLite(shaped)));
    assert.equal(request.liteBody, text);
    assert.equal(await responsesLiteBody(request), text);
  });
});
