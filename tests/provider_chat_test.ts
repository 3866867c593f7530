// POST /v1/chat/completions through the provider, as the seller node calls
// it: translated to the Responses API for the backend and back for the
// buyer, with the host contract kept (one start, one done chunk, a resolved
// body the node bills from).

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createProvider,
  DROPPED_HEADER,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeBehaviour,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import {
  callProvider as callThroughNode,
  parseBilledUsage,
} from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { loadClientFixture } from "./fixtures/clients.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const PATH = "/v1/chat/completions";

/** The node's own routing (the model named in a JSON body) is not under test here. */
function callProvider(
  ...[p, request]: Parameters<typeof callThroughNode>
): ReturnType<typeof callThroughNode> {
  return callThroughNode(p, request, { skipRouting: true });
}

let backend: FakeCodexBackend;

function provider(
  config: Record<string, string> = {},
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    ...config,
  }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), random: () => 0 });
}

function lastUpstream(): Record<string, unknown> {
  return backend.requests.filter((request) => request.method === "POST")
    .at(-1)!.body as Record<string, unknown>;
}

function chunks(text: string): unknown[] {
  return text.split("\n\n").filter((frame) => frame.startsWith("data: "))
    .map((frame) => frame.slice(6))
    .map((data) => data === "[DONE]" ? data : JSON.parse(data));
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => backend.reset());

describe("Chat Completions through the provider", () => {
  it("announces both protocols for every service", () => {
    assert.deepEqual(provider().serviceApiProtocols, {
      "gpt-5.4": ["openai-responses", "openai-chat-completions"],
    });
  });

  it("answers one chat.completion with usage, and the node bills it", async () => {
    backend.enqueue({ kind: "text", text: "Hello there" });
    const result = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [
          { role: "system", content: "Be brief" },
          { role: "user", content: "Hi" },
        ],
        temperature: 0.3,
      },
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(result.mode, "whole");
    const completion = JSON.parse(result.text);
    assert.equal(completion.object, "chat.completion");
    assert.equal(completion.model, "gpt-5.4");
    assert.equal(completion.choices[0].message.role, "assistant");
    assert.equal(completion.choices[0].message.content, "Hello there");
    assert.equal(completion.choices[0].finish_reason, "stop");
    assert.ok(completion.usage.prompt_tokens > 0);
    assert.equal(
      completion.usage.total_tokens,
      completion.usage.prompt_tokens + completion.usage.completion_tokens,
    );
    assert.equal(result.headers[DROPPED_HEADER], "temperature");
    const upstream = lastUpstream();
    assert.equal(upstream.instructions, "Be brief");
    assert.equal(upstream.temperature, undefined);
    assert.equal(result.usage!.input, completion.usage.prompt_tokens);
    assert.equal(result.usage!.output, completion.usage.completion_tokens);
  });

  it("streams chat.completion.chunk lines with the usage chunk, then [DONE], one start and one done chunk", async () => {
    backend.enqueue({ kind: "text", text: "Streamed words here" });
    const result = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
        stream_options: { include_usage: true },
      },
    });
    assert.equal(result.mode, "stream");
    assert.deepEqual(result.violations, []);
    assert.equal(result.startCalls, 1);
    assert.equal(result.doneCount, 1);
    const lines = chunks(result.text);
    assert.equal(lines.at(-1), "[DONE]");
    // deno-lint-ignore no-explicit-any
    const objects = lines.slice(0, -1) as Record<string, any>[];
    assert.ok(
      objects.every((chunk) => chunk.object === "chat.completion.chunk"),
    );
    const text = objects.map((chunk) => chunk.choices[0]?.delta?.content ?? "")
      .join("");
    assert.equal(text, "Streamed words here");
    const finish = objects.find((chunk) => chunk.choices[0]?.finish_reason);
    assert.equal(finish?.choices[0].finish_reason, "stop");
    const usage = objects.at(-1)!;
    assert.deepEqual(usage.choices, []);
    assert.ok(usage.usage.completion_tokens > 0);
    assert.ok(result.usage!.output > 0);
    assert.equal(result.usage!.output, usage.usage.completion_tokens);
  });

  it("bills a stream whose buyer did not ask for the usage chunk", async () => {
    const result = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
      },
    });
    assert.doesNotMatch(result.text, /"usage"/);
    assert.ok(result.usage!.output > 0, "the resolved body carries the usage");
    assert.deepEqual(parseBilledUsage(result.resolved!), result.usage);
  });

  for (const kind of ["no_terminal", "reset_mid_stream"] as const) {
    it(`resolves a stream that reported no usage with what the buyer got (${kind})`, async () => {
      backend.enqueue({ kind });
      const result = await callProvider(provider(), {
        path: PATH,
        body: {
          model: "gpt-5.4",
          messages: [{ role: "user", content: "Hi" }],
          stream: true,
        },
      });
      assert.equal(chunks(result.text).at(-1), "[DONE]");
      // The node's metering estimates from these bytes when there is no
      // usage; the error chunk names how the stream ended.
      assert.equal(
        new TextDecoder().decode(result.resolved!.body),
        result.text,
      );
      assert.match(
        result.text,
        kind === "no_terminal"
          ? /upstream_stream_incomplete/
          : /upstream_stream_error/,
      );
    });
  }

  it("translates a tool call and its result both ways", async () => {
    backend.enqueue({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
      callId: "call_1",
    });
    const tools = [{
      type: "function",
      function: {
        name: "get_weather",
        parameters: {
          type: "object",
          properties: { city: { type: "string" } },
        },
      },
    }];
    const first = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "Weather?" }],
        tools,
      },
    });
    const message = JSON.parse(first.text).choices[0];
    assert.equal(message.finish_reason, "tool_calls");
    assert.deepEqual(message.message.tool_calls, [{
      id: "call_1",
      type: "function",
      function: { name: "get_weather", arguments: '{"city":"Paris"}' },
    }]);
    assert.equal(
      (lastUpstream().tools as Record<string, unknown>[])[0].name,
      "get_weather",
    );
    const second = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        tools,
        messages: [
          { role: "user", content: "Weather?" },
          {
            role: "assistant",
            content: null,
            tool_calls: message.message.tool_calls,
          },
          { role: "tool", tool_call_id: "call_1", content: "Sunny" },
        ],
      },
    });
    assert.equal(second.status, 200, second.text);
    const input = lastUpstream().input as Record<string, unknown>[];
    assert.deepEqual(
      input.filter((item) => item.type !== "message").map((item) => [
        item.type,
        item.call_id,
      ]),
      [["function_call", "call_1"], ["function_call_output", "call_1"]],
    );
  });

  it("refuses n > 1 with 400 unsupported_parameter, without the backend", async () => {
    const result = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "Hi" }],
        n: 2,
      },
    });
    assert.equal(result.status, 400);
    assert.equal(JSON.parse(result.text).error.code, "unsupported_parameter");
    assert.equal(backend.requests.length, 0);
  });

  it("keeps the OpenAI error shape and codes of the Responses path", async () => {
    backend.enqueue({
      kind: "status",
      status: 400,
      body: { detail: "Bad thing" },
    });
    const result = await callProvider(provider(), {
      path: PATH,
      body: { model: "gpt-5.4", messages: [{ role: "user", content: "Hi" }] },
    });
    assert.equal(result.status, 400);
    const error = JSON.parse(result.text).error;
    assert.equal(error.code, "upstream_bad_request");
    assert.match(error.message, /Bad thing/);
  });

  /**
   * A streamed Chat Completions answer whose upstream fails as `behaviour`
   * says: its text, and the error chunk before the closing `[DONE]`.
   */
  async function streamedFailure(behaviour: FakeBehaviour) {
    backend.enqueue(behaviour);
    const result = await callProvider(provider(), {
      path: PATH,
      body: {
        model: "gpt-5.4",
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
      },
    });
    const lines = chunks(result.text);
    assert.equal(lines.at(-1), "[DONE]");
    assert.equal(result.doneCount, 1);
    const error = lines.find((line) =>
      typeof line === "object" && line !== null && "error" in line
    ) as { error: { code: string } } | undefined;
    return { text: result.text, code: error?.error.code };
  }

  it("turns a failure inside the stream into an error chunk, then [DONE]", async () => {
    const { code } = await streamedFailure({
      kind: "failed",
      code: "server_is_overloaded",
    });
    assert.equal(code, "server_is_overloaded");
  });

  it("says nothing of the seller's subscription when the usage limit arrives inside the stream", async () => {
    const { code, text } = await streamedFailure({
      kind: "usage_limit_in_stream",
      as: "error",
      resetsInSeconds: 600,
    });
    assert.equal(code, "usage_limit_reached");
    assert.ok(!/plan|x-codex|promo/i.test(text), text);
  });

  for (
    const name of [
      "chat-completions-tool-1.json",
      "chat-completions-tool-2.json",
    ]
  ) {
    it(`serves the OpenAI SDK's recorded ${name}`, async () => {
      const fixture = loadClientFixture(`openai-node/${name}`);
      const result = await callProvider(
        provider({ ANTSEED_ALLOWED_SERVICES: "" }),
        {
          path: PATH,
          headers: { "content-type": "application/json" },
          body: fixture.bodyBytes(),
        },
      );
      assert.equal(result.status, 200, result.text);
      const upstream = lastUpstream();
      assert.equal(upstream.store, false);
      assert.equal(upstream.stream, true);
      assert.equal(typeof upstream.instructions, "string");
      assert.ok(
        !(upstream.input as Record<string, unknown>[]).some((item) =>
          item.role === "system"
        ),
      );
    });
  }
});
