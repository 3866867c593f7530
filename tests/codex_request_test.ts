import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  buildUpstreamHeaders,
  encodeUpstreamBody,
  INSTRUCTIONS_MESSAGE_SEPARATOR,
  INSTRUCTIONS_PART_SEPARATOR,
  MAX_PROMPT_CACHE_KEY_LENGTH,
  readRequestJson,
  type ShapeOptions,
  shapeRequest,
  upstreamIdentity,
  upstreamSessionId,
} from "../src/codex/request.ts";
import { RelayError } from "../src/errors.ts";
import { VERSION } from "../src/version.ts";
import { prng } from "./fakes/prng.ts";

const OPTIONS: ShapeOptions = {
  defaultInstructions: "DEFAULT",
  aliasMap: {},
  allowedServices: [],
};

const encoder = new TextEncoder();

function relayError(run: () => unknown): RelayError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected RelayError: ${error}`);
    assert.doesNotMatch(error.message, /\.$/, "no trailing period");
    return error;
  }
  assert.fail("expected a RelayError");
}

function shape(
  body: Record<string, unknown>,
  options: Partial<ShapeOptions> = {},
) {
  return shapeRequest(body, { ...OPTIONS, ...options });
}

describe("readRequestJson", () => {
  it("parses a JSON object and keeps its text", () => {
    const text = '{"model":"m","n":1}';
    const body = readRequestJson(encoder.encode(text), 100);
    assert.deepEqual(body, { text, value: { model: "m", n: 1 } });
  });

  it("accepts a body of exactly maxBytes", () => {
    const bytes = encoder.encode('{"model":"m"}');
    assert.deepEqual(readRequestJson(bytes, bytes.byteLength).value, {
      model: "m",
    });
  });

  it("leaves a byte-order mark out of the text", () => {
    const body = readRequestJson(encoder.encode('\ufeff{"model":"m"}'), 100);
    assert.equal(body.text, '{"model":"m"}');
  });

  it("rejects a body larger than maxBytes with 413 request_too_large", () => {
    const bytes = encoder.encode('{"model":"m"}');
    const error = relayError(() =>
      readRequestJson(bytes, bytes.byteLength - 1)
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    assert.match(error.message, new RegExp(`${bytes.byteLength - 1} bytes`));
  });

  it("rejects text that is not JSON with 400 invalid_json", () => {
    const error = relayError(() =>
      readRequestJson(encoder.encode("{model:"), 100)
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_json");
  });

  it("rejects bytes that are not valid UTF-8 with 400 invalid_json", () => {
    const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
    const error = relayError(() => readRequestJson(bytes, 100));
    assert.equal(error.code, "invalid_json");
    assert.match(error.message, /UTF-8/);
  });

  it("rejects each kind of invalid UTF-8, in ASCII and in wider text, with 400 invalid_json", () => {
    const invalid: [string, number[]][] = [
      ["a lone continuation byte", [0x80]],
      ["a truncated sequence", [0xe2, 0x82]],
      ["an overlong encoding", [0xc0, 0xaf]],
      ["an encoded surrogate", [0xed, 0xa0, 0x80]],
      ["a code point past U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
      ["a byte never used", [0xfe]],
    ];
    for (const [what, bad] of invalid) {
      for (const around of ["x", "\u00e9", "\u4e2d", "\ufffd"]) {
        const [open, close] = [`{"input":"${around}`, `${around}"}`]
          .map((text) => [...encoder.encode(text)]);
        const bytes = new Uint8Array([...open, ...bad, ...close]);
        const error = relayError(() => readRequestJson(bytes, 100));
        assert.equal(error.code, "invalid_json", `${what} next to ${around}`);
        assert.match(error.message, /UTF-8/, `${what} next to ${around}`);
      }
    }
  });

  it("keeps a U+FFFD the buyer sent, and every other valid character", () => {
    const input = "\ufffd \u00e9 \u4e2d \u{1f600} \u0000\u007f\u0080\uffff";
    const { text, value } = readRequestJson(
      encoder.encode(JSON.stringify({ input })),
      100,
    );
    assert.equal(value.input, input);
    assert.equal(text, JSON.stringify({ input }));
  });

  it("rejects JSON that is not an object with 400 invalid_json", () => {
    for (const text of ["[1]", "null", '"x"', "3"]) {
      const error = relayError(() =>
        readRequestJson(encoder.encode(text), 100)
      );
      assert.equal(error.code, "invalid_json", text);
    }
  });

  it("rejects an empty body with 400 invalid_json", () => {
    const error = relayError(() => readRequestJson(new Uint8Array(0), 100));
    assert.equal(error.code, "invalid_json");
    assert.match(error.message, /empty/);
  });
});

describe("shapeRequest service and model", () => {
  it("takes the service from model when service is absent", () => {
    const shaped = shape({ model: "gpt-5.4", input: "Hi" });
    assert.equal(shaped.service, "gpt-5.4");
    assert.equal(shaped.model, "gpt-5.4");
    assert.equal(shaped.body.model, "gpt-5.4");
  });

  it("prefers service over model and removes service from the body", () => {
    const shaped = shape({ service: "svc", model: "other", input: "Hi" });
    assert.equal(shaped.service, "svc");
    assert.equal(shaped.body.model, "svc");
    assert.equal("service" in shaped.body, false);
  });

  it("trims the service", () => {
    assert.equal(shape({ model: "  gpt-5.4 \n" }).service, "gpt-5.4");
  });

  it("maps the announced service to the upstream model with the alias map", () => {
    const shaped = shape({ model: "codex-fast" }, {
      aliasMap: { "codex-fast": "gpt-5.4-mini" },
    });
    assert.equal(shaped.service, "codex-fast");
    assert.equal(shaped.model, "gpt-5.4-mini");
    assert.equal(shaped.body.model, "gpt-5.4-mini");
  });

  it("does not resolve aliases through inherited object keys", () => {
    assert.equal(shape({ model: "toString" }).model, "toString");
  });

  it("rejects a missing model with 400 missing_model", () => {
    const error = relayError(() => shape({ input: "Hi" }));
    assert.equal(error.status, 400);
    assert.equal(error.code, "missing_model");
    assert.match(error.message, /"model"/);
  });

  it("rejects an empty or blank model with 400 missing_model naming the field", () => {
    for (const body of [{ model: "" }, { model: "   " }, { service: " " }]) {
      const error = relayError(() => shape(body));
      assert.equal(error.code, "missing_model");
      const field = "service" in body ? "service" : "model";
      assert.match(error.message, new RegExp(`"${field}"`));
    }
  });

  it("rejects a model that is not a string with 400 invalid_request", () => {
    const error = relayError(() => shape({ model: 5 }));
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /"model".*number 5/);
  });

  it("rejects a service that is not a string with 400 invalid_request", () => {
    const error = relayError(() => shape({ service: ["a"], model: "m" }));
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /"service"/);
  });

  it("accepts any service when allowedServices is empty", () => {
    assert.equal(shape({ model: "anything" }).service, "anything");
  });

  it("accepts an allowed service", () => {
    const shaped = shape({ model: "b" }, { allowedServices: ["a", "b"] });
    assert.equal(shaped.service, "b");
  });

  it("rejects a service not allowed with 400 model_not_allowed naming the allowed ones", () => {
    const error = relayError(() =>
      shape({ model: "c" }, { allowedServices: ["a", "b"] })
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "model_not_allowed");
    assert.match(error.message, /"a", "b"/);
    assert.match(error.message, /found "c"/);
  });

  it("matches allowed services case-sensitively", () => {
    const error = relayError(() =>
      shape({ model: "GPT-5.4" }, { allowedServices: ["gpt-5.4"] })
    );
    assert.equal(error.code, "model_not_allowed");
  });
});

describe("shapeRequest stream and store", () => {
  it("always sets stream true and store false upstream", () => {
    const shaped = shape({ model: "m", stream: false, store: true });
    assert.equal(shaped.body.stream, true);
    assert.equal(shaped.body.store, false);
  });

  it("reports stream true only when the buyer sent stream true", () => {
    assert.equal(shape({ model: "m", stream: true }).stream, true);
    assert.equal(shape({ model: "m", stream: false }).stream, false);
    assert.equal(shape({ model: "m", stream: "true" }).stream, false);
    assert.equal(shape({ model: "m" }).stream, false);
  });

  it("exposes a non-empty string prompt_cache_key and passes it on", () => {
    const shaped = shape({ model: "m", prompt_cache_key: "conv-1" });
    assert.equal(shaped.promptCacheKey, "conv-1");
    assert.equal(shaped.body.prompt_cache_key, "conv-1");
  });

  it("keeps a prompt_cache_key that cannot be a header value, in the body and exposed", () => {
    for (const key of ["café-session", "é".repeat(64), "a\r\nb"]) {
      const shaped = shape({ model: "m", prompt_cache_key: key });
      assert.equal(shaped.promptCacheKey, key);
      assert.equal(shaped.body.prompt_cache_key, key);
    }
  });

  it("does not expose an empty prompt_cache_key", () => {
    assert.equal(
      shape({ model: "m", prompt_cache_key: "" }).promptCacheKey,
      undefined,
    );
  });
});

describe("upstreamSessionId", () => {
  it("keeps a prompt_cache_key that can be a header value as it is", async () => {
    const longest = "k".repeat(256);
    assert.equal(await upstreamSessionId("conv-1"), "conv-1");
    assert.equal(await upstreamSessionId(longest), longest);
  });

  it("derives the hex SHA-256 of a key that cannot be a header value, the same for the same key", async () => {
    const keys = [
      "café-session",
      "s".repeat(300),
      "a\r\nx-injected: 1",
      "ключ",
      "😀",
    ];
    for (const key of keys) {
      const id = await upstreamSessionId(key);
      assert.equal(id, createHash("sha256").update(key).digest("hex"), key);
      assert.match(id, /^[0-9a-f]{64}$/);
      assert.equal(await upstreamSessionId(key), id, "stable");
      assert.equal(new Headers({ "session-id": id }).get("session-id"), id);
    }
    const ids = await Promise.all(keys.map(upstreamSessionId));
    assert.equal(new Set(ids).size, keys.length);
  });

  it("gives a fresh UUID without a key", async () => {
    const [first, second] = [
      await upstreamSessionId(undefined),
      await upstreamSessionId(undefined),
    ];
    assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
    assert.notEqual(first, second);
  });
});

describe("shapeRequest instructions", () => {
  it("keeps non-empty instructions", () => {
    const shaped = shape({ model: "m", instructions: "Mine", input: "Hi" });
    assert.equal(shaped.body.instructions, "Mine");
  });

  it("uses the default instructions when there are none and no system text", () => {
    const shaped = shape({
      model: "m",
      input: [{ role: "user", content: "Hi" }],
    });
    assert.equal(shaped.body.instructions, "DEFAULT");
  });

  it("uses the default instructions for a string input without instructions", () => {
    const shaped = shape({ model: "m", input: "Hi" });
    assert.equal(shaped.body.instructions, "DEFAULT");
    assert.equal(shaped.body.input, "Hi");
  });

  it("replaces empty or non-string instructions", () => {
    assert.equal(
      shape({ model: "m", instructions: "" }).body.instructions,
      "DEFAULT",
    );
    assert.equal(
      shape({ model: "m", instructions: null }).body.instructions,
      "DEFAULT",
    );
    assert.equal(
      shape({ model: "m", instructions: 3 }).body.instructions,
      "DEFAULT",
    );
  });

  it("folds a leading system message with string content into instructions and removes it", () => {
    const shaped = shape({
      model: "m",
      input: [
        { role: "system", content: "Be brief" },
        { role: "user", content: "Hi" },
      ],
    });
    assert.equal(shaped.body.instructions, "Be brief");
    assert.deepEqual(shaped.body.input, [{ role: "user", content: "Hi" }]);
  });

  it("folds leading developer messages with type message", () => {
    const shaped = shape({
      model: "m",
      input: [
        {
          type: "message",
          role: "developer",
          content: [{ type: "input_text", text: "Rule" }],
        },
        { type: "message", role: "user", content: "Hi" },
      ],
    });
    assert.equal(shaped.body.instructions, "Rule");
    assert.deepEqual(shaped.body.input, [
      { type: "message", role: "user", content: "Hi" },
    ]);
  });

  it("joins parts with a newline and messages with a blank line", () => {
    assert.equal(INSTRUCTIONS_PART_SEPARATOR, "\n");
    assert.equal(INSTRUCTIONS_MESSAGE_SEPARATOR, "\n\n");
    const shaped = shape({
      model: "m",
      input: [
        {
          role: "system",
          content: [
            { type: "input_text", text: "A1" },
            { type: "text", text: "A2" },
          ],
        },
        { role: "developer", content: "B" },
        { role: "user", content: "Hi" },
      ],
    });
    assert.equal(shaped.body.instructions, "A1\nA2\n\nB");
  });

  it("folds only the leading run and turns later system messages into developer", () => {
    const shaped = shape({
      model: "m",
      input: [
        { role: "system", content: "Lead" },
        { role: "user", content: "Hi" },
        { role: "system", content: "Later" },
        { role: "developer", content: "Dev" },
      ],
    });
    assert.equal(shaped.body.instructions, "Lead");
    assert.deepEqual(shaped.body.input, [
      { role: "user", content: "Hi" },
      { role: "developer", content: "Later" },
      { role: "developer", content: "Dev" },
    ]);
  });

  it("keeps a leading message with a non-text part in input as developer", () => {
    const image = {
      type: "input_image",
      image_url: "data:image/png;base64,AA",
    };
    const shaped = shape({
      model: "m",
      input: [
        { role: "system", content: [{ type: "input_text", text: "x" }, image] },
        { role: "user", content: "Hi" },
      ],
    });
    assert.equal(shaped.body.instructions, "DEFAULT");
    assert.deepEqual(shaped.body.input, [
      {
        role: "developer",
        content: [{ type: "input_text", text: "x" }, image],
      },
      { role: "user", content: "Hi" },
    ]);
  });

  it("uses the default instructions when the leading messages hold no text", () => {
    const shaped = shape({
      model: "m",
      input: [{ role: "system", content: "" }, { role: "user", content: "Hi" }],
    });
    assert.equal(shaped.body.instructions, "DEFAULT");
    assert.deepEqual(shaped.body.input, [{ role: "user", content: "Hi" }]);
  });

  it("keeps given instructions and still turns system messages into developer", () => {
    const shaped = shape({
      model: "m",
      instructions: "Mine",
      input: [
        { type: "message", role: "system", content: "Sys" },
        { role: "user", content: "Hi" },
      ],
    });
    assert.equal(shaped.body.instructions, "Mine");
    assert.deepEqual(shaped.body.input, [
      { type: "message", role: "developer", content: "Sys" },
      { role: "user", content: "Hi" },
    ]);
  });

  it("does not treat a non-message item with role system as a message", () => {
    const item = { type: "function_call_output", role: "system", output: "x" };
    const shaped = shape({ model: "m", input: [item] });
    assert.equal(shaped.body.instructions, "DEFAULT");
    assert.deepEqual(shaped.body.input, [item]);
  });
});

describe("shapeRequest parameters", () => {
  const rejected = {
    max_output_tokens: 10,
    max_completion_tokens: 10,
    temperature: 0.2,
    top_p: 0.9,
    frequency_penalty: 0,
    presence_penalty: 0,
    truncation: "auto",
    user: "buyer",
    context_management: {},
    prompt_cache_retention: "24h",
    safety_identifier: "s",
    stream_options: { include_usage: true },
  };

  it("removes every parameter the backend rejects", () => {
    const shaped = shape({ model: "m", ...rejected });
    for (const name of Object.keys(rejected)) {
      assert.equal(name in shaped.body, false, name);
    }
  });

  it("keeps service_tier priority and removes any other service_tier", () => {
    assert.equal(
      shape({ model: "m", service_tier: "priority" }).body.service_tier,
      "priority",
    );
    assert.equal(
      "service_tier" in shape({ model: "m", service_tier: "flex" }).body,
      false,
    );
    assert.equal(
      "service_tier" in shape({ model: "m", service_tier: "auto" }).body,
      false,
    );
  });

  it("passes every other field untouched", () => {
    const tools = [{ type: "function", name: "f", parameters: {} }];
    const body = {
      model: "m",
      instructions: "I",
      input: "Hi",
      tools,
      tool_choice: "auto",
      parallel_tool_calls: true,
      reasoning: { effort: "high", summary: "auto" },
      include: ["reasoning.encrypted_content"],
      text: { verbosity: "low" },
      metadata: { a: "b" },
      unknown_future_field: { x: 1 },
    };
    const shaped = shape(body);
    assert.deepEqual(shaped.body, { ...body, stream: true, store: false });
    assert.equal(shaped.body.tools, tools);
  });
});

describe("shapeRequest input items", () => {
  it("strips id from input items", () => {
    const shaped = shape({
      model: "m",
      input: [
        { type: "message", id: "msg_1", role: "assistant", content: [] },
        {
          type: "function_call",
          id: "fc_1",
          call_id: "c1",
          name: "f",
          arguments: "{}",
        },
        { type: "reasoning", id: "rs_1", encrypted_content: "e", summary: [] },
      ],
    });
    const input = shaped.body.input as Record<string, unknown>[];
    assert.deepEqual(input.map((item) => "id" in item), [false, false, false]);
    assert.equal(input[1].call_id, "c1");
  });

  it("drops item_reference items", () => {
    const shaped = shape({
      model: "m",
      input: [
        { type: "item_reference", id: "msg_0" },
        { role: "user", content: "Hi" },
      ],
    });
    assert.deepEqual(shaped.body.input, [{ role: "user", content: "Hi" }]);
  });

  it("passes a string input as is", () => {
    assert.equal(shape({ model: "m", input: "Hello" }).body.input, "Hello");
  });

  it("leaves an absent input absent", () => {
    assert.equal("input" in shape({ model: "m" }).body, false);
  });

  it("does not mutate the buyer's object", () => {
    const body = {
      model: "alias",
      service: "alias",
      temperature: 1,
      input: [
        { role: "system", content: "S" },
        { type: "message", id: "msg_1", role: "user", content: "Hi" },
        { role: "system", content: "Later" },
      ],
    };
    const before = structuredClone(body);
    shape(body, { aliasMap: { alias: "real" } });
    assert.deepEqual(body, before);
  });
});

describe("shapeRequest validation", () => {
  it("rejects an input that is neither a string nor an array", () => {
    for (const input of [5, { role: "user" }, true]) {
      const error = relayError(() => shape({ model: "m", input }));
      assert.equal(error.status, 400);
      assert.equal(error.code, "invalid_request");
      assert.match(error.message, /"input"/);
    }
  });

  it("rejects an input item that is not an object, naming its index", () => {
    const error = relayError(() =>
      shape({ model: "m", input: [{ role: "user", content: "Hi" }, "x"] })
    );
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /"input\[1\]" to be an object, found a string/);
  });

  it("takes a prompt_cache_key of up to 64 characters, or null, and refuses a longer one or one that is not a string", () => {
    assert.equal(MAX_PROMPT_CACHE_KEY_LENGTH, 64);
    const longest = "k".repeat(64);
    assert.equal(
      shape({ model: "m", prompt_cache_key: longest }).promptCacheKey,
      longest,
    );
    assert.equal(
      shape({ model: "m", prompt_cache_key: null }).promptCacheKey,
      undefined,
    );
    const tooLong = relayError(() =>
      shape({ model: "m", prompt_cache_key: "k".repeat(65) })
    );
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.code, "string_above_max_length");
    assert.match(tooLong.message, /"prompt_cache_key".* 64 .* 65$/);
    for (const key of [{ a: "b" }, ["k"], 5]) {
      const error = relayError(() =>
        shape({ model: "m", prompt_cache_key: key })
      );
      assert.equal(error.code, "invalid_request");
      assert.match(error.message, /"prompt_cache_key" to be a string/);
    }
  });

  it("rejects tools that are not an array", () => {
    const error = relayError(() => shape({ model: "m", tools: { a: 1 } }));
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /"tools" to be an array/);
  });

  it("rejects include that is not an array, and reasoning or text that is not an object", () => {
    for (
      const [field, value] of [
        ["include", "x"],
        ["reasoning", "high"],
        ["text", []],
        ["tool_choice", 3],
      ] as const
    ) {
      const error = relayError(() => shape({ model: "m", [field]: value }));
      assert.equal(error.code, "invalid_request", field);
      assert.match(error.message, new RegExp(`"${field}"`));
    }
  });

  it("never throws a TypeError for odd but typed input items", () => {
    const shaped = shape({
      model: "m",
      input: [
        { role: "system", content: [null, 3] },
        { role: "developer", content: { text: "x" } },
        { role: "system" },
        {},
      ],
    });
    assert.equal(shaped.body.instructions, "DEFAULT");
    assert.equal((shaped.body.input as unknown[]).length, 4);
  });
});

/** Reads, shapes and encodes `text` as the provider does. */
function upstreamOf(text: string, options: Partial<ShapeOptions> = {}) {
  const raw = encoder.encode(text);
  const buyer = readRequestJson(raw, raw.byteLength);
  const shaped = shape(buyer.value, options);
  return { shaped, sent: encodeUpstreamBody(buyer, shaped.body) };
}

describe("encodeUpstreamBody", () => {
  it("sends the buyer's own text with the added fields appended", () => {
    const text =
      '{ "model": "m",\n  "instructions": "Be \\u00e9 brief", "n": 12345678901234567890, "input": [{"role":"user","content":"Hi"}], "stream": true }\n';
    const { shaped, sent } = upstreamOf(text);
    assert.equal(
      sent,
      '{ "model": "m",\n  "instructions": "Be \\u00e9 brief", "n": 12345678901234567890, "input": [{"role":"user","content":"Hi"}], "stream": true ,"store":false}',
    );
    assert.deepEqual(JSON.parse(sent), shaped.body);
  });

  it("appends stream, store and default instructions when the buyer left them out", () => {
    const { shaped, sent } = upstreamOf('{"model":"m","input":"Hi"}', {
      defaultInstructions: "Sé breve",
    });
    assert.equal(
      sent,
      '{"model":"m","input":"Hi","stream":true,"store":false,"instructions":"Sé breve"}',
    );
    assert.deepEqual(JSON.parse(sent), shaped.body);
  });

  it("sends the buyer's text as it is when nothing is added", () => {
    const text = '{"model":"m","instructions":"I","stream":true,"store":false}';
    assert.equal(upstreamOf(text).sent, text);
  });

  it("serialises the shaped object when shaping changed a buyer field", () => {
    const changed: [string, Partial<ShapeOptions>][] = [
      ['{"model":"alias","instructions":"I"}', { aliasMap: { alias: "real" } }],
      ['{"model":" m ","instructions":"I"}', {}],
      ['{"model":"m","service":"m","instructions":"I"}', {}],
      ['{"model":"m","instructions":"I","temperature":1}', {}],
      ['{"model":"m","instructions":"I","service_tier":"flex"}', {}],
      ['{"model":"m","instructions":"I","stream":false}', {}],
      ['{"model":"m","instructions":"I","store":true}', {}],
      ['{"model":"m","instructions":"","input":"Hi"}', {}],
      [
        '{"model":"m","instructions":"I","input":[{"id":"msg_1","role":"user","content":"Hi"}]}',
        {},
      ],
      [
        '{"model":"m","instructions":"I","input":[{"type":"item_reference","id":"x"}]}',
        {},
      ],
      [
        '{"model":"m","instructions":"I","input":[{"role":"user","content":"Hi"},{"role":"system","content":"S"}]}',
        {},
      ],
      [
        '{"model":"m","input":[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]}',
        {},
      ],
    ];
    for (const [text, options] of changed) {
      const { shaped, sent } = upstreamOf(text, options);
      assert.equal(sent, JSON.stringify(shaped.body), text);
    }
  });

  it("serialises a text that names a key twice, at any depth, and no other", () => {
    const repeated = [
      '{"model":"m","model":"other","instructions":"I"}',
      '{"model":"m","instructions":"I","input":[{"role":"system","role":"user","content":"Hi"}]}',
      '{"model":"m","instructions":"I","metadata":{"a":{"b":1,"b":2}}}',
      '{"model":"m","instructions":"I","model" :"other"}',
      '{"model":"m","instructions":"I","tools":[],"tools"\n:\t[]}',
    ];
    for (const text of repeated) {
      const { shaped, sent } = upstreamOf(text);
      assert.equal(sent, JSON.stringify(shaped.body), text);
    }
    const model = upstreamOf(
      '{"model":"m","model":"other","instructions":"I"}',
    );
    assert.equal(model.shaped.body.model, "other");
    // Colons in strings, escaped quotes before them, a key that ends with a
    // backslash: no key is repeated, the buyer's text goes.
    const kept = [
      JSON.stringify({
        model: "m",
        instructions: 'a: b ": c \\": d',
        input: "x:y",
      }),
      JSON.stringify({ model: "m", instructions: "I", metadata: { "k\\": 1 } }),
      '{ "model" : "m" , "instructions" : "I" }',
    ];
    for (const text of kept) {
      const { sent } = upstreamOf(text);
      assert.ok(sent.startsWith(text.slice(0, text.lastIndexOf("}"))), text);
    }
    // A string that starts with a colon counts as a key: serialised, which
    // is always right.
    const colon = upstreamOf('{"model":"m","instructions":":"}');
    assert.equal(colon.sent, JSON.stringify(colon.shaped.body));
  });

  it("always sends what parses to the shaped object (2,000 generated bodies)", () => {
    const random = prng(0x5eed);
    const pick = <T>(values: readonly T[]): T =>
      values[Math.floor(random() * values.length)];
    const item = () =>
      pick([
        { role: "user", content: "Hi" },
        { role: "system", content: "S" },
        { role: "developer", content: [{ type: "input_text", text: "D" }] },
        { type: "message", id: "msg_1", role: "assistant", content: [] },
        { type: "item_reference", id: "ref_1" },
        { type: "function_call_output", call_id: "c", output: "ö \u2028 😀" },
      ]);
    const fields: [string, () => unknown][] = [
      ["service", () => pick(["m", " m", "alias"])],
      ["instructions", () => pick(["I", "", 5, "\u0000"])],
      [
        "input",
        () => pick(["Hi", Array.from({ length: pick([0, 1, 3]) }, item)]),
      ],
      ["stream", () => pick([true, false, "yes"])],
      ["store", () => pick([false, true])],
      ["temperature", () => 0.5],
      ["service_tier", () => pick(["priority", "flex"])],
      ["metadata", () => ({ k: "v", n: 1e21 })],
      ["prompt_cache_key", () => "pck"],
    ];
    let verbatim = 0;
    for (let index = 0; index < 2000; index++) {
      const body: Record<string, unknown> = {
        model: pick(["m", "alias", " m "]),
      };
      for (const [name, value] of fields) {
        if (random() < 0.4) body[name] = value();
      }
      const space = pick(["", " ", "\n\t "]);
      const text = JSON.stringify(body, null, space === "" ? undefined : 1) +
        space;
      const { shaped, sent } = upstreamOf(text, {
        aliasMap: { alias: "real" },
      });
      if (sent !== JSON.stringify(shaped.body)) verbatim++;
      assert.deepEqual(JSON.parse(sent), shaped.body, text);
    }
    assert.ok(verbatim > 50, `the buyer's text was kept ${verbatim} times`);
  });
});

describe("buildUpstreamHeaders", () => {
  it("builds exactly the headers of today's Codex CLI over HTTP", () => {
    const identity = upstreamIdentity("codex_exec", "0.172.0", {
      os: "Debian",
      osVersion: "12.0.0",
      arch: "x86_64",
    });
    const headers = buildUpstreamHeaders(
      { accessToken: "tok", accountId: "acct" },
      "sess-1",
      identity,
    );
    assert.equal(headers["openai-beta"], undefined, "only on the WebSocket");
    assert.deepEqual(headers, {
      "authorization": "Bearer tok",
      "chatgpt-account-id": "acct",
      "content-type": "application/json",
      "accept": "text/event-stream",
      "originator": "codex_exec",
      "version": "0.172.0",
      "user-agent":
        `codex_exec/0.172.0 (Debian 12.0.0; x86_64) antseed-provider-openai-responses/${VERSION} (codex_exec; 0.172.0)`,
      "session-id": "sess-1",
      "thread-id": "sess-1",
    });
  });

  it("speaks as Codex CLI 0.171.0 by default", () => {
    const headers = buildUpstreamHeaders(
      { accessToken: "t", accountId: "a" },
      "s",
    );
    assert.equal(headers.originator, "codex_cli_rs");
    assert.equal(headers.version, "0.171.0");
    assert.match(headers["user-agent"], /^codex_cli_rs\/0\.171\.0 \(/);
  });

  it("keeps an odd machine description out of the user-agent", () => {
    const identity = upstreamIdentity("codex_cli_rs", "0.171.0", {
      os: "Linux\r\nx-injected: 1",
      osVersion: "6.1\u00e9",
      arch: "x86_64",
    });
    const headers = new Headers(
      buildUpstreamHeaders({ accessToken: "t", accountId: "a" }, "s", identity),
    );
    assert.equal(headers.get("session-id"), "s");
    assert.doesNotMatch(headers.get("user-agent")!, /[\r\n\u00e9]/);
  });
});
