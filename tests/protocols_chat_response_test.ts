import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chatUsage,
  completionId,
  finishReason,
  responseToChatCompletion,
} from "../src/protocols/chat_response.ts";
import { parseBilledUsage } from "./fakes/seller_node.ts";

type Json = Record<string, unknown>;

const OPTIONS = { model: "codex", created: 1_700_000_000 };

const USAGE = {
  input_tokens: 120,
  input_tokens_details: { cached_tokens: 100 },
  output_tokens: 30,
  output_tokens_details: { reasoning_tokens: 12 },
  total_tokens: 150,
};

function message(...content: Json[]): Json {
  return {
    id: "msg_1",
    type: "message",
    status: "completed",
    role: "assistant",
    content,
  };
}

function text(value: string): Json {
  return { type: "output_text", text: value, annotations: [] };
}

function call(callId: string, name: string, args: string): Json {
  return {
    id: `fc_${callId}`,
    type: "function_call",
    status: "completed",
    call_id: callId,
    name,
    arguments: args,
  };
}

function response(fields: Json): Json {
  return {
    id: "resp_0123abcd",
    object: "response",
    created_at: 1_690_000_000,
    status: "completed",
    output: [],
    usage: USAGE,
    ...fields,
  };
}

describe("responseToChatCompletion", () => {
  it("makes one chat.completion of a text answer", () => {
    const completion = responseToChatCompletion(
      response({
        output: [
          { id: "rs_1", type: "reasoning", summary: [] },
          message(text("Hello, "), text("world")),
        ],
      }),
      OPTIONS,
    );
    assert.deepEqual(completion, {
      id: "chatcmpl-0123abcd",
      object: "chat.completion",
      created: 1_700_000_000,
      model: "codex",
      choices: [{
        index: 0,
        message: {
          role: "assistant",
          content: "Hello, world",
          refusal: null,
          annotations: [],
        },
        logprobs: null,
        finish_reason: "stop",
      }],
      usage: {
        prompt_tokens: 120,
        completion_tokens: 30,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 100, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 12,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      system_fingerprint: null,
    });
  });

  it("concatenates the text of several message items", () => {
    const completion = responseToChatCompletion(
      response({ output: [message(text("a")), message(text("b"))] }),
      OPTIONS,
    );
    assert.equal(completion.choices[0].message.content, "ab");
  });

  it("makes tool_calls of function_call items, with content null and finish_reason tool_calls", () => {
    const completion = responseToChatCompletion(
      response({
        output: [
          call("call_1", "get_weather", '{"city":"Paris"}'),
          call("call_2", "get_time", "{}"),
        ],
      }),
      OPTIONS,
    );
    const choice = completion.choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, null);
    assert.deepEqual(choice.message.tool_calls, [
      {
        id: "call_1",
        type: "function",
        function: { name: "get_weather", arguments: '{"city":"Paris"}' },
      },
      {
        id: "call_2",
        type: "function",
        function: { name: "get_time", arguments: "{}" },
      },
    ]);
  });

  it("keeps text that comes with a function call", () => {
    const completion = responseToChatCompletion(
      response({ output: [message(text("Checking")), call("c", "f", "{}")] }),
      OPTIONS,
    );
    assert.equal(completion.choices[0].message.content, "Checking");
    assert.equal(completion.choices[0].message.tool_calls?.length, 1);
  });

  it("has no tool_calls field when there are none", () => {
    const completion = responseToChatCompletion(
      response({ output: [message(text("x"))] }),
      OPTIONS,
    );
    assert.ok(!("tool_calls" in completion.choices[0].message));
  });

  it("puts refusal parts in message.refusal with content null", () => {
    const completion = responseToChatCompletion(
      response({
        output: [message({ type: "refusal", refusal: "I can't help" })],
      }),
      OPTIONS,
    );
    assert.equal(completion.choices[0].message.refusal, "I can't help");
    assert.equal(completion.choices[0].message.content, null);
    assert.equal(completion.choices[0].finish_reason, "stop");
  });

  it("gives an empty answer an empty string content", () => {
    const completion = responseToChatCompletion(response({}), OPTIONS);
    assert.equal(completion.choices[0].message.content, "");
  });

  it("answers length for an answer cut at max_output_tokens, even with a call", () => {
    const completion = responseToChatCompletion(
      response({
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        output: [call("c", "f", '{"a":')],
      }),
      OPTIONS,
    );
    assert.equal(completion.choices[0].finish_reason, "length");
  });

  it("answers content_filter for an answer cut by the content filter", () => {
    const completion = responseToChatCompletion(
      response({
        status: "incomplete",
        incomplete_details: { reason: "content_filter" },
        output: [message(text("partial"))],
      }),
      OPTIONS,
    );
    assert.equal(completion.choices[0].finish_reason, "content_filter");
  });

  it("takes created from the Response when none is given", () => {
    const completion = responseToChatCompletion(response({}), {
      model: "codex",
    });
    assert.equal(completion.created, 1_690_000_000);
  });

  it("has no usage when the Response has none", () => {
    const completion = responseToChatCompletion(
      response({ usage: null }),
      OPTIONS,
    );
    assert.ok(!("usage" in completion));
  });

  it("bills the chat.completion body as the node parses it", () => {
    const completion = responseToChatCompletion(response({}), OPTIONS);
    const billed = parseBilledUsage({
      requestId: "r",
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: new TextEncoder().encode(JSON.stringify(completion)),
    });
    assert.deepEqual(billed, { input: 120, output: 30, cached: 100 });
  });
});

describe("chatUsage", () => {
  it("reads null details as 0 and sums a missing total", () => {
    assert.deepEqual(
      chatUsage({
        input_tokens: 5,
        input_tokens_details: null,
        output_tokens: 2,
        output_tokens_details: null,
      }),
      {
        prompt_tokens: 5,
        completion_tokens: 2,
        total_tokens: 7,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
    );
  });

  it("is undefined without a usage object", () => {
    assert.equal(chatUsage(null), undefined);
    assert.equal(chatUsage(undefined), undefined);
  });
});

describe("finishReason", () => {
  it("is stop for an incomplete answer with another reason", () => {
    assert.equal(
      finishReason({
        status: "incomplete",
        incomplete_details: { reason: "other" },
      }, false),
      "stop",
    );
  });
});

describe("completionId", () => {
  it("strips resp_ and keeps other ids whole", () => {
    assert.equal(completionId("resp_abc"), "chatcmpl-abc");
    assert.equal(completionId("xyz"), "chatcmpl-xyz");
  });

  it("makes a random id when there is none", () => {
    const id = completionId(undefined);
    assert.match(id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.notEqual(completionId(undefined), id);
  });
});
