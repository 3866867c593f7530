// A body of millions of tiny JSON values: JSON.parse works in one step that
// cannot yield (64 MiB of `{},` held the event loop for 32 s and took
// 1.5 GB of heap on Node, from a 64 KiB gzip body), so such a body is
// refused on its bytes before it is parsed.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { createProvider } from "../src/provider/provider.ts";
import {
  checkJsonValueCount,
  MAX_JSON_VALUES,
} from "../src/codex/json_values.ts";
import { RelayError } from "../src/errors.ts";
import { Pacer } from "../src/async.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const encoder = new TextEncoder();

async function refused(text: string, max: number): Promise<boolean> {
  try {
    await checkJsonValueCount(encoder.encode(text), max);
    return false;
  } catch (error) {
    assert.ok(error instanceof RelayError);
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    return true;
  }
}

/** A provider whose backend is never reached: every request here is refused. */
function providerWith(config: Record<string, string>) {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:9",
    ...config,
  }, {
    tokenSource: fixedTokens(
      "acct_json",
      makeAccessToken({ accountId: "acct_json" }),
    ),
    onLog: () => {},
  });
}

describe("the JSON value bound", () => {
  it("counts { [ and , outside strings only", async () => {
    // 3 counted: { [ ,
    assert.equal(await refused('{"a":[1,2]}', 3), false);
    assert.equal(await refused('{"a":[1,2,3]}', 3), true);
    // Inside strings, escaped quotes included, nothing counts.
    const text = '{"a":"x,[{\\",,\\\\"}';
    assert.equal(await refused(text, 1), false);
    assert.equal(await refused('{"a":"\\\\",[1]}', 2), true);
  });

  it("refuses a body of too many values before JSON.parse, paced", async () => {
    const body = encoder.encode(`[${"{},".repeat(MAX_JSON_VALUES)}0]`);
    let worst = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 5);
    await assert.rejects(
      checkJsonValueCount(body),
      (error: unknown) =>
        error instanceof RelayError && error.code === "request_too_large",
    );
    clearInterval(timer);
    assert.ok(
      worst < 500,
      `the event loop was held for ${worst.toFixed(0)} ms`,
    );
  });

  it("yields to the event loop while it scans a large body, however few values it holds", async () => {
    // 16 MiB of spaces: one value, and a scan of every byte.
    const body = encoder.encode(`[${" ".repeat(16 * 1024 * 1024)}0]`);
    let turns = 0;
    let scanning = true;
    const tick = () => {
      if (!scanning) return;
      turns++;
      setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await checkJsonValueCount(body, MAX_JSON_VALUES, new Pacer(1));
    scanning = false;
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
  });

  it("a provider answers a gzip body of a million empty objects 413 without parsing it", async () => {
    const provider = providerWith({ ANTSEED_ALLOWED_SERVICES: "gpt-5.4" });
    const text = `{"model":"gpt-5.4","input":"hi","metadata":{"x":[${
      "{},".repeat(1_000_000)
    }0]}}`;
    const started = performance.now();
    const response = await provider.handleRequest({
      requestId: "json-values",
      method: "POST",
      path: "/v1/responses",
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
      },
      body: new Uint8Array(gzipSync(text)),
    });
    const ms = performance.now() - started;
    assert.equal(response.statusCode, 413);
    assert.equal(
      JSON.parse(new TextDecoder().decode(response.body)).error.code,
      "request_too_large",
    );
    assert.ok(ms < 2_000, `answered after ${ms.toFixed(0)} ms`);
  });

  it("a provider refuses a body over the size limit for its size, without counting it", async () => {
    const provider = providerWith({
      OPENAI_RESPONSES_MAX_BODY_BYTES: "1048576",
    });
    const response = await provider.handleRequest({
      requestId: "json-values-size",
      method: "POST",
      path: "/v1/responses",
      headers: { "content-type": "application/json" },
      body: new TextEncoder().encode(`[${"{},".repeat(1_000_000)}0]`),
    });
    assert.equal(response.statusCode, 413);
    const error = JSON.parse(new TextDecoder().decode(response.body)).error;
    assert.equal(error.code, "request_too_large");
    assert.match(error.message, /at most 1048576 bytes, found 3000003 bytes/);
  });
});
