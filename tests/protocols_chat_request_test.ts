import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  buildUpstreamHeaders,
  shapeRequest,
  UNSUPPORTED_PARAMETERS,
} from "../src/codex/request.ts";
import { RelayError } from "../src/errors.ts";
import {
  chatToResponsesRequest,
  DROPPED_PARAMETERS,
} from "../src/protocols/chat_request.ts";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { findUp } from "./_runtime.ts";

type Json = Record<string, unknown>;

const SHAPE = {
  defaultInstructions: "Default instructions",
  aliasMap: {},
  allowedServices: [],
};

function fixture(name: string): Json {
  const path = findUp(`tests/fixtures/clients/openai-node/${name}`);
  return JSON.parse(readFileSync(path, "utf8")).body;
}

function translate(body: Json) {
  return chatToResponsesRequest(body);
}

function chat(fields: Json = {}): Json {
  return {
    model: "gpt-5.4",
    messages: [{ role: "user", content: "Hi" }],
    ...fields,
  };
}

async function refusal(body: Json): Promise<RelayError> {
  try {
    await chatToResponsesRequest(body);
  } catch (error) {
    assert.ok(error instanceof RelayError, String(error));
    return error;
  }
  assert.fail("Expected a RelayError, found none");
}

/** What the backend requires of every body (spec/CODEX_BACKEND.md, body rules). */
function assertBackendRules(body: Json): void {
  assert.equal(body.store, false);
  assert.equal(body.stream, true);
  assert.equal(typeof body.instructions, "string");
  assert.notEqual(body.instructions, "");
  for (const name of [...UNSUPPORTED_PARAMETERS, "service_tier"]) {
    if (name === "service_tier" && body.service_tier === "priority") continue;
    assert.ok(!(name in body), `unsupported parameter ${name} sent`);
  }
  const input = body.input as Json[];
  assert.ok(Array.isArray(input));
  for (const item of input) {
    assert.notEqual(item.role, "system");
    assert.ok(!("id" in item));
  }
}

describe("chatToResponsesRequest with the openai-node fixtures", () => {
  it("turns chat-completions-tool-1 into a body the backend accepts", async () => {
    const chatBody = fixture("chat-completions-tool-1.json");
    const translated = await translate(chatBody);
    const shaped = shapeRequest(translated.body, SHAPE);
    assertBackendRules(shaped.body);
    assert.equal(shaped.body.instructions, "Be brief.");
    assert.deepEqual(shaped.body.input, [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "What is the weather in Paris?" }],
    }]);
    assert.deepEqual(shaped.body.tools, [{
      type: "function",
      name: "get_weather",
      description: "Weather of a city",
      parameters: {
        type: "object",
        properties: { city: { type: "string" } },
        required: ["city"],
        additionalProperties: false,
      },
      strict: false,
    }]);
    assert.equal(shaped.body.tool_choice, "auto");
    assert.equal(translated.stream, false);
    assert.equal(shaped.stream, false);
    assert.equal(translated.includeUsage, false);
    assert.deepEqual(translated.dropped, []);
  });

  it("turns chat-completions-tool-2 into a streaming body with include_usage", async () => {
    const translated = await translate(fixture("chat-completions-tool-2.json"));
    const shaped = shapeRequest(translated.body, SHAPE);
    assertBackendRules(shaped.body);
    assert.equal(shaped.body.instructions, "Default instructions");
    assert.equal(translated.stream, true);
    assert.equal(shaped.stream, true);
    assert.equal(translated.includeUsage, true);
    assert.ok(!("stream_options" in translated.body));
    assert.deepEqual(translated.dropped, []);
  });

  it("is accepted by the simulated backend for both fixtures", async () => {
    const backend = await startFakeCodexBackend({ rateLimitHeaders: false });
    try {
      for (
        const name of [
          "chat-completions-tool-1.json",
          "chat-completions-tool-2.json",
        ]
      ) {
        const shaped = shapeRequest(
          (await translate(fixture(name))).body,
          SHAPE,
        );
        const response = await fetch(backend.responsesUrl, {
          method: "POST",
          headers: buildUpstreamHeaders(
            { accessToken: makeAccessToken(), accountId: "acct_test" },
            crypto.randomUUID(),
          ),
          body: JSON.stringify(shaped.body),
        });
        const text = await response.text();
        assert.equal(response.status, 200, `${name}: ${text}`);
        assert.match(text, /event: response\.completed/);
      }
    } finally {
      await backend.close();
    }
  });

  it("does not modify the buyer's object", async () => {
    const body = fixture("chat-completions-tool-2.json");
    const before = structuredClone(body);
    await translate(body);
    assert.deepEqual(body, before);
  });
});

describe("chatToResponsesRequest messages", () => {
  it("makes system and developer messages developer messages that shapeRequest folds into instructions", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "system", content: "One" },
        { role: "developer", content: [{ type: "text", text: "Two" }] },
        { role: "user", content: "Hi" },
      ],
    }));
    assert.deepEqual((body.input as Json[]).slice(0, 2), [
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "One" }],
      },
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "Two" }],
      },
    ]);
    const shaped = shapeRequest(body, SHAPE);
    assert.equal(shaped.body.instructions, "One\n\nTwo");
    assert.equal((shaped.body.input as Json[]).length, 1);
  });

  it("keeps a system message after the first user message in place, as developer", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Hi" },
        { role: "system", content: "Later rule" },
      ],
    }));
    const shaped = shapeRequest(body, SHAPE);
    assert.equal(shaped.body.instructions, "Default instructions");
    assert.deepEqual((shaped.body.input as Json[])[1], {
      type: "message",
      role: "developer",
      content: [{ type: "input_text", text: "Later rule" }],
    });
  });

  it("turns user text and image_url parts into input_text and input_image", async () => {
    const { body } = await translate(chat({
      messages: [{
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "https://x.test/a.png" } },
          {
            type: "image_url",
            image_url: { url: "data:image/png;base64,AAAA", detail: "low" },
          },
        ],
      }],
    }));
    assert.deepEqual(body.input, [{
      type: "message",
      role: "user",
      content: [
        { type: "input_text", text: "What is this?" },
        {
          type: "input_image",
          image_url: "https://x.test/a.png",
          detail: "auto",
        },
        {
          type: "input_image",
          image_url: "data:image/png;base64,AAAA",
          detail: "low",
        },
      ],
    }]);
  });

  it("turns assistant text into an output_text part", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello" },
        { role: "user", content: "Again" },
      ],
    }));
    assert.deepEqual((body.input as Json[])[1], {
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello" }],
    });
  });

  it("turns an assistant refusal into output_text", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: null, refusal: "I cannot" },
      ],
    }));
    assert.deepEqual((body.input as Json[])[1], {
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "I cannot" }],
    });
  });

  it("round-trips a tool call: assistant tool_calls and the tool message share the call_id", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Weather in Paris?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{
            id: "call_abc",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Paris"}' },
          }],
        },
        { role: "tool", tool_call_id: "call_abc", content: "sunny" },
      ],
    }));
    assert.deepEqual((body.input as Json[]).slice(1), [
      {
        type: "function_call",
        call_id: "call_abc",
        name: "get_weather",
        arguments: '{"city":"Paris"}',
      },
      { type: "function_call_output", call_id: "call_abc", output: "sunny" },
    ]);
  });

  it("puts an assistant's text before its function calls", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Hi" },
        {
          role: "assistant",
          content: "Let me check",
          tool_calls: [{
            id: "call_1",
            type: "function",
            function: { name: "f", arguments: "{}" },
          }],
        },
      ],
    }));
    const types = (body.input as Json[]).slice(1).map((item) => item.type);
    assert.deepEqual(types, ["message", "function_call"]);
  });

  it("joins a tool message's text parts into one output string", async () => {
    const { body } = await translate(chat({
      messages: [
        { role: "user", content: "Hi" },
        {
          role: "assistant",
          tool_calls: [{
            id: "call_1",
            type: "function",
            function: { name: "f", arguments: "{}" },
          }],
        },
        {
          role: "tool",
          tool_call_id: "call_1",
          content: [{ type: "text", text: "a" }, { type: "text", text: "b" }],
        },
      ],
    }));
    assert.deepEqual((body.input as Json[])[2], {
      type: "function_call_output",
      call_id: "call_1",
      output: "ab",
    });
  });

  it("drops a message's name and lists it once", async () => {
    const { body, dropped } = await translate(chat({
      messages: [
        { role: "user", content: "Hi", name: "alice" },
        { role: "user", content: "Again", name: "bob" },
      ],
    }));
    assert.deepEqual(dropped, ["messages[].name"]);
    assert.ok(!("name" in (body.input as Json[])[0]));
  });

  it("refuses a tool message without tool_call_id", async () => {
    const error = await refusal(chat({
      messages: [{ role: "tool", content: "x" }],
    }));
    assert.equal(error.status, 400);
    assert.equal(error.code, "invalid_request");
    assert.equal(error.details.param, "messages[0].tool_call_id");
  });

  it("refuses an unknown role", async () => {
    const error = await refusal(
      chat({ messages: [{ role: "robot", content: "x" }] }),
    );
    assert.equal(error.code, "invalid_request");
    assert.match(error.message, /messages\[0\]\.role/);
  });

  it("refuses the deprecated function role", async () => {
    const error = await refusal(chat({
      messages: [{ role: "function", name: "f", content: "x" }],
    }));
    assert.equal(error.code, "unsupported_parameter");
  });

  it("refuses audio and file parts", async () => {
    for (const part of [{ type: "input_audio" }, { type: "file" }]) {
      const error = await refusal(chat({
        messages: [{ role: "user", content: [part] }],
      }));
      assert.equal(error.code, "unsupported_parameter", part.type);
      assert.equal(error.details.param, "messages[0].content[0].type");
    }
  });

  it("refuses an empty or missing messages array", async () => {
    assert.equal(
      (await refusal(chat({ messages: [] }))).code,
      "invalid_request",
    );
    assert.equal(
      (await refusal({ model: "gpt-5.4" })).message,
      'Expected a "messages" array in the request body, found none',
    );
  });
});

describe("chatToResponsesRequest parameters", () => {
  it("flattens function tools and keeps them non-strict unless asked", async () => {
    const { body } = await translate(chat({
      tools: [
        { type: "function", function: { name: "a" } },
        {
          type: "function",
          function: {
            name: "b",
            description: "B",
            parameters: { type: "object" },
            strict: true,
          },
        },
      ],
    }));
    assert.deepEqual(body.tools, [
      {
        type: "function",
        name: "a",
        parameters: { type: "object", properties: {} },
        strict: false,
      },
      {
        type: "function",
        name: "b",
        description: "B",
        parameters: { type: "object" },
        strict: true,
      },
    ]);
  });

  it("refuses custom tools", async () => {
    const error = await refusal(chat({
      tools: [{ type: "custom", custom: { name: "x" } }],
    }));
    assert.equal(error.code, "unsupported_parameter");
    assert.equal(error.details.param, "tools[0].type");
  });

  it("maps tool_choice strings as they are and a named function flat", async () => {
    for (const choice of ["auto", "none", "required"]) {
      assert.equal(
        (await translate(chat({ tool_choice: choice }))).body.tool_choice,
        choice,
      );
    }
    assert.deepEqual(
      (await translate(chat({
        tool_choice: { type: "function", function: { name: "get_weather" } },
      }))).body.tool_choice,
      { type: "function", name: "get_weather" },
    );
  });

  it("refuses an allowed_tools tool_choice", async () => {
    const error = await refusal(chat({
      tool_choice: {
        type: "allowed_tools",
        allowed_tools: { mode: "auto", tools: [] },
      },
    }));
    assert.equal(error.code, "unsupported_parameter");
  });

  it("keeps parallel_tool_calls", async () => {
    assert.equal(
      (await translate(chat({ parallel_tool_calls: false }))).body
        .parallel_tool_calls,
      false,
    );
  });

  it("maps response_format json_schema to text.format", async () => {
    const schema = {
      type: "object",
      properties: { a: { type: "string" } },
      required: ["a"],
      additionalProperties: false,
    };
    const { body } = await translate(chat({
      response_format: {
        type: "json_schema",
        json_schema: { name: "answer", schema, strict: true },
      },
    }));
    assert.deepEqual(body.text, {
      format: { type: "json_schema", name: "answer", schema, strict: true },
    });
  });

  it("maps response_format json_object to text.format and text to nothing", async () => {
    assert.deepEqual(
      (await translate(chat({ response_format: { type: "json_object" } }))).body
        .text,
      { format: { type: "json_object" } },
    );
    const plain = await translate(chat({ response_format: { type: "text" } }));
    assert.ok(!("text" in plain.body));
    assert.deepEqual(plain.dropped, []);
  });

  it("refuses a json_schema response_format without a name", async () => {
    const error = await refusal(chat({
      response_format: { type: "json_schema", json_schema: { schema: {} } },
    }));
    assert.equal(error.code, "invalid_request");
    assert.equal(error.details.param, "response_format.json_schema.name");
  });

  it("maps verbosity to text.verbosity next to the format", async () => {
    const { body } = await translate(chat({
      verbosity: "low",
      response_format: { type: "json_object" },
    }));
    assert.deepEqual(body.text, {
      format: { type: "json_object" },
      verbosity: "low",
    });
  });

  it("maps reasoning_effort to reasoning.effort", async () => {
    assert.deepEqual(
      (await translate(chat({ reasoning_effort: "high" }))).body.reasoning,
      { effort: "high" },
    );
  });

  it("passes prompt_cache_key through", async () => {
    const { body } = await translate(
      chat({ prompt_cache_key: "conversation-1" }),
    );
    assert.equal(body.prompt_cache_key, "conversation-1");
    assert.equal(
      shapeRequest(body, SHAPE).promptCacheKey,
      "conversation-1",
    );
  });

  it("keeps service_tier priority and drops the others", async () => {
    assert.equal(
      (await translate(chat({ service_tier: "priority" }))).body.service_tier,
      "priority",
    );
    const auto = await translate(chat({ service_tier: "auto" }));
    assert.ok(!("service_tier" in auto.body));
    assert.deepEqual(auto.dropped, ["service_tier"]);
  });

  it("drops every parameter of DROPPED_PARAMETERS and lists it", async () => {
    const values: Json = {
      max_tokens: 10,
      max_completion_tokens: 10,
      temperature: 0.2,
      top_p: 0.9,
      frequency_penalty: 0.1,
      presence_penalty: 0.1,
      logit_bias: { "50256": -100 },
      seed: 7,
      user: "buyer-1",
      safety_identifier: "hash",
      metadata: { a: "b" },
      store: true,
      prediction: { type: "content", content: "x" },
      prompt_cache_retention: "24h",
      prompt_cache_options: { mode: "implicit" },
    };
    assert.deepEqual(
      Object.keys(values).sort(),
      [...DROPPED_PARAMETERS].sort(),
    );
    const { body, dropped } = await translate(chat(values));
    assert.deepEqual(dropped, Object.keys(values));
    for (const name of DROPPED_PARAMETERS) assert.ok(!(name in body), name);
    assertBackendRules(shapeRequest(body, SHAPE).body);
  });

  it("accepts n 1, logprobs false, top_logprobs 0, text modalities and an empty stop, and lists them", async () => {
    const { dropped } = await translate(chat({
      n: 1,
      logprobs: false,
      top_logprobs: 0,
      modalities: ["text"],
      stop: [],
    }));
    assert.deepEqual(dropped, [
      "n",
      "logprobs",
      "top_logprobs",
      "modalities",
      "stop",
    ]);
  });

  it("treats null parameters as absent", async () => {
    const { dropped, body } = await translate(chat({
      temperature: null,
      n: null,
      audio: null,
      stream_options: null,
      response_format: null,
    }));
    assert.deepEqual(dropped, []);
    assert.ok(!("text" in body));
  });

  it("refuses n greater than 1", async () => {
    const error = await refusal(chat({ n: 2 }));
    assert.equal(error.status, 400);
    assert.equal(error.code, "unsupported_parameter");
    assert.equal(error.details.param, "n");
    assert.equal(
      error.message,
      'Expected "n" to be 1: one choice per request is supported, found the number 2',
    );
  });

  it("refuses logprobs and top_logprobs", async () => {
    assert.equal(
      (await refusal(chat({ logprobs: true }))).details.param,
      "logprobs",
    );
    assert.equal(
      (await refusal(chat({ top_logprobs: 3 }))).details.param,
      "top_logprobs",
    );
  });

  it("refuses audio output", async () => {
    const error = await refusal(
      chat({ audio: { voice: "alloy", format: "mp3" } }),
    );
    assert.equal(error.code, "unsupported_parameter");
    assert.equal(error.details.param, "audio");
    assert.match(error.message, /audio output is not supported/);
    assert.equal(
      (await refusal(chat({ modalities: ["text", "audio"] }))).details.param,
      "modalities",
    );
  });

  it("refuses a stop sequence", async () => {
    const error = await refusal(chat({ stop: ["\nObservation"] }));
    assert.equal(error.code, "unsupported_parameter");
    assert.equal(error.details.param, "stop");
  });

  it("refuses the deprecated functions and function_call, web search and moderation", async () => {
    for (
      const [name, value] of [
        ["functions", [{ name: "f" }]],
        ["function_call", "auto"],
        ["web_search_options", {}],
        ["moderation", { model: "omni-moderation-latest" }],
      ] as const
    ) {
      const error = await refusal(chat({ [name]: value }));
      assert.equal(error.code, "unsupported_parameter", name);
      assert.equal(error.details.param, name);
    }
  });

  it("refuses an unknown parameter", async () => {
    const error = await refusal(chat({ input: "Responses field" }));
    assert.equal(error.code, "unsupported_parameter");
    assert.equal(
      error.message,
      'Expected only Chat Completions parameters, found "input"',
    );
  });

  it("keeps service for the node's routing", async () => {
    const { body } = await translate(chat({ service: "codex" }));
    assert.equal(body.service, "codex");
  });

  it("refuses a stream that is not a boolean", async () => {
    assert.equal(
      (await refusal(chat({ stream: "yes" }))).details.param,
      "stream",
    );
  });

  it("errors have the OpenAI shape with param", async () => {
    assert.deepEqual((await refusal(chat({ n: 3 }))).toJSON(), {
      error: {
        message:
          'Expected "n" to be 1: one choice per request is supported, found the number 3',
        type: "invalid_request_error",
        code: "unsupported_parameter",
        param: "n",
      },
    });
  });
});
