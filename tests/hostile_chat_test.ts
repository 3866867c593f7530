// What a hostile Chat Completions body costs the seller: the translation and
// the translated body's serialisation yield to the event loop, the body as it
// goes upstream stays within the body limit, and a refusal never serialises
// the buyer's value to quote it.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Pacer } from "../src/async.ts";
import { parseConfig } from "../src/config.ts";
import { RelayError } from "../src/errors.ts";
import {
  chatToResponsesRequest,
  MAX_CHAT_TOOLS,
} from "../src/protocols/chat_request.ts";
import { prepareRequest, writtenBody } from "../src/provider/prepare.ts";
import { watchEventLoop } from "./fixtures/event_loop.ts";

const encoder = new TextEncoder();

/** How many times the event loop turned while `work` ran. */
async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
  const watch = watchEventLoop();
  let turns = 0;
  try {
    await work();
  } finally {
    turns = watch.stop().turns;
  }
  return turns;
}

async function refusal(work: () => Promise<unknown>): Promise<RelayError> {
  try {
    await work();
  } catch (error) {
    assert.ok(error instanceof RelayError, String(error));
    return error;
  }
  assert.fail("Expected a RelayError, found none");
}

function messages(count: number, content = "x") {
  return Array.from({ length: count }, () => ({ role: "user", content }));
}

describe("a hostile Chat Completions body", () => {
  it("is translated with yields to the event loop, message by message", async () => {
    const body = { model: "gpt-5.4", messages: messages(40_000) };
    const turns = await turnsDuring(() =>
      chatToResponsesRequest(body, new Pacer(1))
    );
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
  });

  it("is serialised for the backend with yields, to the text of the same object", async () => {
    const input = Array.from({ length: 40_000 }, (_, index) => ({
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: `message ${index}` }],
    }));
    const upstream = { model: "gpt-5.4", input, store: false };
    let text = "";
    const turns = await turnsDuring(async () => {
      text = await writtenBody(
        upstream,
        "key",
        64 * 1024 * 1024,
        new Pacer(1),
      );
    });
    assert.ok(turns >= 2, `the event loop turned ${turns} times`);
    assert.equal(text, JSON.stringify(upstream));
    assert.deepEqual(JSON.parse(text), {
      model: "gpt-5.4",
      store: false,
      prompt_cache_key: "key",
      input,
    });
  });

  it("is refused 413 when its translation passes the body limit, counted in UTF-8", async () => {
    const input = [{ type: "message", role: "user", content: "é".repeat(600) }];
    // 600 characters, 1,200 bytes: within a limit of 1,000 as UTF-16 units.
    const error = await refusal(() =>
      writtenBody({ model: "m", input }, "key", 1000, new Pacer())
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    assert.match(error.message, /at most 1000 bytes once translated/);
    const many = messages(2000).map((message) => ({
      ...message,
      type: "message",
    }));
    const early = await refusal(() =>
      writtenBody({ model: "m", input: many }, "key", 10_000, new Pacer())
    );
    assert.equal(early.code, "request_too_large");
    // Stopped at the slice of items that passed the limit (256 items of
    // about 45 bytes), not serialised to its end (about 90,000 bytes).
    const found = Number(/found at least (\d+) bytes/.exec(early.message)?.[1]);
    assert.ok(found > 10_000 && found < 25_000, early.message);
  });

  it("is refused 413 by the provider when the body fits the limit and its translation does not", async () => {
    // Each message of 31 bytes becomes an input item of about 80.
    const text = JSON.stringify({ model: "gpt-5.4", messages: messages(3000) });
    const settings = parseConfig({
      OPENAI_RESPONSES_MAX_BODY_BYTES: String(text.length + 1000),
    });
    const error = await refusal(() =>
      prepareRequest(
        {
          requestId: "r1",
          method: "POST",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body: encoder.encode(text),
        },
        settings,
        undefined,
        "chat_completions",
      )
    );
    assert.equal(error.status, 413);
    assert.match(error.message, /once translated for the backend/);
  });

  it("never serialises a refused modalities array to quote it", async () => {
    let serialised = false;
    const odd = {
      toJSON() {
        serialised = true;
        return "audio";
      },
    };
    const error = await refusal(() =>
      chatToResponsesRequest({
        model: "gpt-5.4",
        messages: messages(1),
        modalities: ["text", odd, "y".repeat(100_000)],
      })
    );
    assert.equal(serialised, false);
    assert.equal(error.code, "unsupported_parameter");
    assert.match(error.message, /found an array holding an object$/);
    const second = await refusal(() =>
      chatToResponsesRequest({
        model: "gpt-5.4",
        messages: messages(1),
        modalities: ["text", "y".repeat(100_000)],
      })
    );
    assert.ok(second.message.length < 250, second.message);
  });

  it("holds at most 128 tools, and 128 tool calls in one message, as api.openai.com", async () => {
    assert.equal(MAX_CHAT_TOOLS, 128);
    const tool = (index: number) => ({
      type: "function",
      function: { name: `f${index}` },
    });
    const call = (index: number) => ({
      id: `c${index}`,
      type: "function",
      function: { name: "f", arguments: "{}" },
    });
    const ask = (tools: number, calls: number) =>
      chatToResponsesRequest({
        model: "gpt-5.4",
        messages: [
          ...messages(1),
          {
            role: "assistant",
            tool_calls: Array.from({ length: calls }, (_, i) => call(i)),
          },
          ...Array.from({ length: calls }, (_, i) => ({
            role: "tool",
            tool_call_id: `c${i}`,
            content: "ok",
          })),
        ],
        tools: Array.from({ length: tools }, (_, i) => tool(i)),
      });
    const most = await ask(128, 128);
    assert.equal((most.body.tools as unknown[]).length, 128);
    const tools = await refusal(() => ask(129, 1));
    assert.equal(tools.code, "array_above_max_length");
    assert.match(
      tools.message,
      /"tools" to hold at most 128 entries, found 129/,
    );
    const calls = await refusal(() => ask(1, 129));
    assert.equal(calls.code, "array_above_max_length");
    assert.match(
      calls.message,
      /"messages\[1\]\.tool_calls" to hold at most 128/,
    );
  });
});
