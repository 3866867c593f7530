// Walking a JSON object's members on its bytes (src/codex/_json_scan.ts):
// a string ends where the native byte search ended it, whether the short
// loop or the search finds its end; an object's members are where a parse
// finds them; a text that is not such an object is refused.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  firstKey,
  nextKey,
  objectMembers,
  stringEnd,
  valueAfterKey,
  valueEnd,
} from "../src/codex/_json_scan.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The string end of the native search alone (the code before the short loop). */
function searchedStringEnd(bytes: Uint8Array, at: number): number {
  let quote = bytes.indexOf(0x22, at + 1);
  while (quote >= 0) {
    let backslashes = 0;
    while (bytes[quote - 1 - backslashes] === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    quote = bytes.indexOf(0x22, quote + 1);
  }
  return -1;
}

function seeded(seed: number): () => number {
  return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
}

describe("stringEnd", () => {
  it("ends a string where the native search does, before, at and past 32 bytes", () => {
    const random = seeded(11);
    const pieces = ["a", "é", "😀", "\\", '"', "\\\\", '\\"', " "];
    for (let round = 0; round < 5000; round++) {
      let text = '"';
      const length = Math.floor(random() * 80);
      while (text.length < length) {
        text += pieces[Math.floor(random() * pieces.length)];
      }
      // Most texts hold their closing quote; some end before it.
      if (random() < 0.8) text += '"';
      const lead = "x".repeat(Math.floor(random() * 3));
      const bytes = encoder.encode(lead + text + (random() < 0.5 ? "}" : ""));
      assert.equal(
        stringEnd(bytes, lead.length),
        searchedStringEnd(bytes, lead.length),
        text,
      );
    }
  });

  it("ends an escaped quote's string after it, whatever the byte it falls on", () => {
    for (let length = 0; length < 70; length++) {
      const text = JSON.stringify("a".repeat(length) + '"\\' + "b");
      const bytes = encoder.encode(text + ',"next"');
      assert.equal(stringEnd(bytes, 0), text.length, `${length}`);
    }
  });

  it("says -1 for a string the text cuts, its last byte a backslash or not", () => {
    for (let length = 0; length < 70; length++) {
      for (const tail of ["", "\\", "\\\\\\", '\\"']) {
        const bytes = encoder.encode('"' + "a".repeat(length) + tail);
        assert.equal(stringEnd(bytes, 0), -1, `${length} ${tail}`);
      }
    }
  });
});

describe("objectMembers", () => {
  it("finds the members a parse finds, with or without white space", () => {
    const random = seeded(5);
    const values = [
      null,
      true,
      -1.5e3,
      "a".repeat(40),
      'q"b\\s}',
      "é😀",
      [1, { a: "]" }],
      { store: false, nested: ["{"] },
    ];
    for (let round = 0; round < 500; round++) {
      const object: Record<string, unknown> = {};
      const count = Math.floor(random() * 6);
      for (let index = 0; index < count; index++) {
        object[`key ${index} "${"k".repeat(index * 9)}`] =
          values[Math.floor(random() * values.length)];
      }
      const spaced = random() < 0.5;
      const text = JSON.stringify(object, null, spaced ? 2 : undefined);
      const bytes = encoder.encode(" " + text);
      const found = objectMembers(bytes, 1);
      assert.ok(found, text);
      assert.equal(found.close, bytes.length - 1);
      const seen = found.members.map((member) => [
        JSON.parse(
          decoder.decode(bytes.subarray(member.keyStart, member.keyEnd)),
        ),
        JSON.parse(
          decoder.decode(bytes.subarray(member.valueStart, member.valueEnd)),
        ),
      ]);
      assert.deepEqual(seen, Object.entries(object));
    }
  });

  it("stops at the member its caller asks for, before its value", () => {
    const bytes = encoder.encode('{"a":1,"response":{"b":2},"c":3}');
    const found = objectMembers(
      bytes,
      0,
      (member) => bytes[member.keyStart + 1] === 0x72,
    );
    assert.equal(found?.close, -1);
    assert.equal(found?.members.length, 2);
    assert.equal(found?.members[1].valueStart, 18);
    assert.equal(found?.members[1].valueEnd, -1);
  });

  it("refuses a text that is not an object", () => {
    for (
      const text of [
        "",
        "[]",
        "{",
        '{"a"',
        '{"a":1',
        '{"a" 1}',
        '{"a":1,}',
        '{"a":1 "b":2}',
        "{,}",
        '{"a":}',
        '{"a":"b}',
        "{a:1}",
      ]
    ) {
      assert.equal(objectMembers(encoder.encode(text), 0), undefined, text);
    }
  });
});

describe("the key by key walk", () => {
  it("goes from the first key to the closing brace, member by member", () => {
    const bytes = encoder.encode('{ "a" : 1 , "b":[2] }');
    let key = firstKey(bytes, 0);
    const keys: number[] = [];
    while (bytes[key] !== 0x7d) {
      keys.push(key);
      const value = valueAfterKey(bytes, stringEnd(bytes, key));
      key = nextKey(bytes, valueEnd(bytes, value));
    }
    assert.deepEqual(keys, [2, 12]);
    assert.equal(key, bytes.length - 1);
  });

  it("says -1 where no key, colon or separator is", () => {
    assert.equal(firstKey(encoder.encode("[1]"), 0), -1);
    assert.equal(firstKey(encoder.encode("{1:2}"), 0), -1);
    assert.equal(firstKey(encoder.encode("{ }"), 0), 2);
    assert.equal(valueAfterKey(encoder.encode('"a" 1'), 3), -1);
    assert.equal(nextKey(encoder.encode("1 ,}"), 1), -1);
    assert.equal(nextKey(encoder.encode("1 2"), 1), -1);
    assert.equal(nextKey(encoder.encode('1, "b"'), 1), 3);
  });
});
