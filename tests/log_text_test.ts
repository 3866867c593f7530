// logText: buyer-chosen values made safe for one log line.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { LOG_TEXT_MAX_LENGTH, logText } from "../src/log_text.ts";

/** Characters a terminal or a log reader acts on, or that reorder a line. */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

describe("logText", () => {
  it("keeps printable text, spaces and quotes as they are", () => {
    assert.equal(logText("/v1/responses"), "/v1/responses");
    assert.equal(
      logText('gpt-5.4 "mini" é 漢字 🙂'),
      'gpt-5.4 "mini" é 漢字 🙂',
    );
  });

  it("writes line breaks and tabs as escapes, so one value stays on one line", () => {
    assert.equal(
      logText("/x\nPOST /v1/responses gpt-5.4 200 1ms\r\tend"),
      "/x\\nPOST /v1/responses gpt-5.4 200 1ms\\r\\tend",
    );
  });

  it("writes terminal escape sequences as escapes (OSC title, CSI, 8-bit CSI, BEL, DEL)", () => {
    const text = logText("\x1b]0;owned\x07\x1b[2J\x9b31m\x7f");
    assert.equal(text, "\\x1b]0;owned\\x07\\x1b[2J\\x9b31m\\x7f");
    assert.doesNotMatch(text, UNSAFE);
  });

  it("writes the line separators and the bidirectional controls as escapes", () => {
    const text = logText("a\u2028b\u2029c\u202ed\u2066e\u200ff\u061cg");
    assert.equal(
      text,
      "a\\u2028b\\u2029c\\u202ed\\u2066e\\u200ff\\u061cg",
    );
    assert.doesNotMatch(text, UNSAFE);
  });

  it("escapes the backslash, so that every escape in a line is the logger's", () => {
    assert.equal(logText("\\n"), "\\\\n");
  });

  it("writes a lone surrogate as an escape and keeps a pair", () => {
    assert.equal(logText("a\ud800b\udc00c"), "a\\ud800b\\udc00c");
    assert.equal(logText("\ud83d\ude42"), "\ud83d\ude42");
  });

  it("cuts a long value to the maximum with an ellipsis", () => {
    const long = "a".repeat(100_000);
    assert.equal(logText(long), `${"a".repeat(LOG_TEXT_MAX_LENGTH)}...`);
    assert.equal(logText("abcdef", 3), "abc...");
    assert.equal(logText("abc", 3), "abc");
  });

  it("bounds a long value of control characters too", () => {
    const text = logText("\x1b".repeat(100_000), 10);
    assert.equal(text, `${"\\x1b".repeat(10)}...`);
  });
});
