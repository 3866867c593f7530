// The official `openai` package (pinned in deno.json) driven through `serve`
// as a child process, as a buyer would use it against api.openai.com:
// `previous_response_id` over three turns, compressed request bodies (the
// Codex CLI's zstd body as recorded, a gzip one), and Chat Completions
// (plain, streaming with usage, a tool round trip, a JSON schema). Each test
// has its own serve, simulated backend and token endpoint.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import OpenAI from "openai";
import { loadClientFixture } from "./fixtures/clients.ts";
import {
  messageText,
  MODEL,
  type ServeHarness,
  upstreamBody,
  upstreamInput,
  upstreamTurns,
  userTexts,
  withServe,
} from "./fixtures/real_clients.ts";

function clientOf(harness: ServeHarness): OpenAI {
  return new OpenAI({
    baseURL: harness.v1Url,
    apiKey: "buyer-key",
    maxRetries: 0,
    timeout: 20_000,
  });
}

/** A backend answer that repeats every user text it was given, in order. */
function recallBehaviour(body: Record<string, unknown>) {
  return {
    kind: "text" as const,
    text: `Heard: ${userTexts(body).join(" | ")}`,
  };
}

const WEATHER_PARAMETERS = {
  type: "object",
  properties: { city: { type: "string" } },
  required: ["city"],
  additionalProperties: false,
};

describe("openai SDK: responses.create with previous_response_id", () => {
  it("continues a conversation over three turns, the third seeing the first", async () => {
    await withServe({ behaviour: recallBehaviour }, async (harness) => {
      const client = clientOf(harness);
      const first = await client.responses.create({
        model: MODEL,
        input: "My name is Ada.",
      });
      assert.equal(first.output_text, "Heard: My name is Ada.");
      const second = await client.responses.create({
        model: MODEL,
        input: "I live in Paris.",
        previous_response_id: first.id,
      });
      const third = await client.responses.create({
        model: MODEL,
        input: "What is my name and where do I live?",
        previous_response_id: second.id,
      });
      assert.equal(
        third.output_text,
        "Heard: My name is Ada. | I live in Paris. | What is my name and where do I live?",
      );
      assert.notEqual(third.id, second.id);

      // Upstream, turn 3 carries the whole conversation in order, and no
      // previous_response_id (the backend refuses it over HTTP).
      const turns = upstreamTurns(harness.backend);
      assert.equal(turns.length, 3);
      const last = upstreamBody(turns[2]);
      assert.equal("previous_response_id" in last, false);
      const texts = upstreamInput(turns[2])
        .filter((item) => item.role === "user" || item.role === "assistant")
        .map((item) => `${item.role}: ${messageText(item)}`);
      assert.deepEqual(texts, [
        "user: My name is Ada.",
        "assistant: Heard: My name is Ada.",
        "user: I live in Paris.",
        "assistant: Heard: My name is Ada. | I live in Paris.",
        "user: What is my name and where do I live?",
      ]);
    });
  });
});

describe("serve: compressed request bodies", () => {
  it("answers the Codex CLI's recorded zstd body like its plain form", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-openai-auth-zstd-3.json",
    );
    await withServe(
      { behaviour: { kind: "text", text: "hello from the backend" } },
      async (harness) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(fixture.headers)) {
          if (
            ["host", "content-length", "connection", "authorization"].includes(
              name,
            )
          ) continue;
          headers.set(name, value);
        }
        headers.set("authorization", "Bearer buyer-key");
        const response = await fetch(`${harness.v1Url}/responses`, {
          method: "POST",
          headers,
          body: fixture.bodyBytes() as Uint8Array<ArrayBuffer>,
        });
        const text = await response.text();
        assert.equal(response.status, 200, text);
        assert.match(text, /event: response\.completed/);
        assert.match(text, /hello from the backend/);

        const turns = upstreamTurns(harness.backend);
        assert.equal(turns.length, 1);
        assert.equal(turns[0].headers["content-encoding"], undefined);
        const body = upstreamBody(turns[0]);
        assert.equal(body.model, fixture.body!.model);
        assert.equal(userTexts(body).at(-1), "say hello");
      },
    );
  });

  it("answers a gzip body", async () => {
    await withServe({}, async (harness) => {
      const response = await fetch(`${harness.v1Url}/responses`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          authorization: "Bearer buyer-key",
        },
        body: new Uint8Array(
          gzipSync(JSON.stringify({ model: MODEL, input: "Hello in gzip" })),
        ),
      });
      const text = await response.text();
      assert.equal(response.status, 200, text);
      const body = JSON.parse(text) as { status: string; output: unknown[] };
      assert.equal(body.status, "completed");
      assert.match(JSON.stringify(body.output), /"text":"Echo: Hello in gzip"/);
      const turns = upstreamTurns(harness.backend);
      assert.deepEqual(userTexts(upstreamBody(turns[0])), ["Hello in gzip"]);
    });
  });
});

describe("openai SDK: chat.completions.create", () => {
  it("answers a plain completion with text and usage", async () => {
    await withServe({}, async (harness) => {
      const completion = await clientOf(harness).chat.completions.create({
        model: MODEL,
        messages: [
          { role: "system", content: "Answer briefly." },
          { role: "user", content: "Hello chat" },
        ],
      });
      assert.equal(completion.object, "chat.completion");
      assert.equal(completion.choices.length, 1);
      assert.equal(completion.choices[0].message.role, "assistant");
      assert.equal(completion.choices[0].message.content, "Echo: Hello chat");
      assert.equal(completion.choices[0].finish_reason, "stop");
      assert.ok((completion.usage?.prompt_tokens ?? 0) > 0);
      assert.ok((completion.usage?.completion_tokens ?? 0) > 0);
      const body = upstreamBody(upstreamTurns(harness.backend)[0]);
      assert.deepEqual(userTexts(body), ["Hello chat"]);
    });
  });

  it("streams deltas that add up to the text, then a usage chunk", async () => {
    await withServe({}, async (harness) => {
      const stream = await clientOf(harness).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "Stream chat" }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let deltas = 0;
      let finish: string | null = null;
      let usage: OpenAI.CompletionUsage | null | undefined;
      let chunksAfterUsage = 0;
      for await (const chunk of stream) {
        if (usage) chunksAfterUsage++;
        assert.equal(chunk.object, "chat.completion.chunk");
        for (const choice of chunk.choices) {
          if (choice.delta.content) {
            text += choice.delta.content;
            deltas++;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
        if (chunk.usage) {
          assert.deepEqual(chunk.choices, []);
          usage = chunk.usage;
        }
      }
      assert.equal(text, "Echo: Stream chat");
      assert.ok(deltas > 1, "expected several deltas");
      assert.equal(finish, "stop");
      assert.ok(usage, "no usage chunk");
      assert.ok(usage.completion_tokens > 0);
      assert.equal(chunksAfterUsage, 0, "the usage chunk is the last one");
    });
  });

  it("round-trips a tool call", async () => {
    await withServe({}, async (harness) => {
      const client = clientOf(harness);
      const tools: OpenAI.Chat.ChatCompletionTool[] = [{
        type: "function",
        function: {
          name: "get_weather",
          description: "Weather of a city",
          parameters: WEATHER_PARAMETERS,
        },
      }];
      const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
        { role: "user", content: "What is the weather in Paris?" },
      ];
      const first = await client.chat.completions.create({
        model: MODEL,
        messages,
        tools,
      });
      assert.equal(first.choices[0].finish_reason, "tool_calls");
      const calls = first.choices[0].message.tool_calls ?? [];
      assert.equal(calls.length, 1);
      const call = calls[0];
      assert.ok(call.type === "function");
      assert.equal(call.function.name, "get_weather");
      assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });

      const second = await client.chat.completions.create({
        model: MODEL,
        tools,
        messages: [
          ...messages,
          first.choices[0].message,
          { role: "tool", tool_call_id: call.id, content: "sunny, 22 C" },
        ],
      });
      assert.equal(second.choices[0].finish_reason, "stop");
      assert.equal(
        second.choices[0].message.content,
        "The tool returned: sunny, 22 C",
      );
      const input = upstreamInput(upstreamTurns(harness.backend)[1]);
      const output = input.at(-1)!;
      assert.equal(output.type, "function_call_output");
      assert.equal(output.call_id, call.id);
    });
  });

  it("answers with JSON that follows a json_schema response_format", async () => {
    const answer = { city: "Paris", country: "France" };
    await withServe(
      { behaviour: { kind: "text", text: JSON.stringify(answer) } },
      async (harness) => {
        const schema = {
          type: "object",
          properties: {
            city: { type: "string" },
            country: { type: "string" },
          },
          required: ["city", "country"],
          additionalProperties: false,
        };
        const completion = await clientOf(harness).chat.completions.create({
          model: MODEL,
          messages: [{ role: "user", content: "Where is the Louvre?" }],
          response_format: {
            type: "json_schema",
            json_schema: { name: "place", strict: true, schema },
          },
        });
        const content = completion.choices[0].message.content ?? "";
        assert.deepEqual(JSON.parse(content), answer);
        const body = upstreamBody(upstreamTurns(harness.backend)[0]);
        assert.deepEqual(body.text, {
          format: { type: "json_schema", name: "place", strict: true, schema },
        });
      },
    );
  });
});
