// The AI SDK (`ai` + `@ai-sdk/openai`, pinned in deno.json) driven through
// `serve` as a child process: the Responses model (`openai(id)`) in its
// multi-step tool loop with reasoning on (step 2 sends an `item_reference`
// to step 1's reasoning item), `streamText`, and the Chat Completions model
// (`openai.chat(id)`) with a tool. Each test has its own serve, simulated
// backend and token endpoint; the backend's default behaviour calls the
// first tool, then answers `The tool returned: <output>`.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { createOpenAI } from "@ai-sdk/openai";
import { z } from "zod";
import {
  MODEL,
  type ServeHarness,
  upstreamInput,
  upstreamTurns,
  withServe,
} from "./fixtures/real_clients.ts";

/** The provider pointed at serve, and the JSON bodies the AI SDK sent it. */
function providerOf(harness: ServeHarness) {
  const sent: Record<string, unknown>[] = [];
  const provider = createOpenAI({
    baseURL: harness.v1Url,
    apiKey: "buyer-key",
    fetch: (input, init) => {
      if (typeof init?.body === "string") sent.push(JSON.parse(init.body));
      return fetch(input, init);
    },
  });
  return { provider, sent };
}

function weatherTools(calls: string[]) {
  return {
    get_weather: tool({
      description: "Weather of a city",
      inputSchema: z.object({ city: z.string() }),
      execute: ({ city }: { city: string }) => {
        calls.push(city);
        return Promise.resolve(`sunny in ${city}`);
      },
    }),
  };
}

const REASONING = {
  openai: { reasoningEffort: "low", reasoningSummary: "detailed" },
};

function inputItems(body: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(body.input) ? body.input : [];
}

/**
 * Asserts that step 2 referred to step 1's reasoning item by id and that the
 * backend got the item in full instead (filled from serve's store).
 */
function assertReasoningFilled(
  harness: ServeHarness,
  sent: Record<string, unknown>[],
): void {
  const reference = inputItems(sent[1]).find((item) =>
    item.type === "item_reference"
  );
  assert.ok(reference, "the AI SDK sent no item_reference in step 2");
  const upstream = upstreamInput(upstreamTurns(harness.backend)[1]);
  assert.deepEqual(
    upstream.filter((item) => item.type === "item_reference"),
    [],
    "an item_reference reached the backend",
  );
  const reasoning = upstream.find((item) => item.type === "reasoning");
  assert.ok(reasoning, "step 2 reached the backend without its reasoning item");
  assert.equal(
    reasoning.encrypted_content,
    `gAAAAABsimulated-reasoning-${reference.id}`,
  );
  const order = upstream.map((item) => item.type ?? item.role);
  assert.ok(
    order.indexOf("reasoning") < order.indexOf("function_call"),
    `expected the reasoning before the function call, found ${order}`,
  );
}

describe("AI SDK: the Responses model", () => {
  it("generateText completes its multi-step tool loop with reasoning on", async () => {
    await withServe({}, async (harness) => {
      const { provider, sent } = providerOf(harness);
      const calls: string[] = [];
      const result = await generateText({
        model: provider(MODEL),
        prompt: "What is the weather in Paris?",
        tools: weatherTools(calls),
        stopWhen: stepCountIs(5),
        providerOptions: REASONING,
      });
      assert.deepEqual(calls, ["Paris"]);
      assert.equal(result.steps.length, 2);
      assert.equal(result.text, "The tool returned: sunny in Paris");
      assert.equal(result.finishReason, "stop");
      assertReasoningFilled(harness, sent);
    });
  });

  it("streamText completes its multi-step tool loop with reasoning on", async () => {
    await withServe({}, async (harness) => {
      const { provider, sent } = providerOf(harness);
      const calls: string[] = [];
      const errors: unknown[] = [];
      const result = streamText({
        model: provider(MODEL),
        prompt: "What is the weather in Paris?",
        tools: weatherTools(calls),
        stopWhen: stepCountIs(5),
        providerOptions: REASONING,
        onError: ({ error }) => void errors.push(error),
      });
      let text = "";
      for await (const delta of result.textStream) text += delta;
      assert.deepEqual(errors.map(String), []);
      assert.deepEqual(calls, ["Paris"]);
      assert.equal(text, "The tool returned: sunny in Paris");
      assert.equal((await result.steps).length, 2);
      assertReasoningFilled(harness, sent);
    });
  });

  it("streamText's text deltas add up to the final text", async () => {
    await withServe({}, async (harness) => {
      const { provider } = providerOf(harness);
      const errors: unknown[] = [];
      const result = streamText({
        model: provider(MODEL),
        prompt: "Stream this through the AI SDK",
        onError: ({ error }) => void errors.push(error),
      });
      let text = "";
      let deltas = 0;
      for await (const delta of result.textStream) {
        text += delta;
        deltas++;
      }
      assert.deepEqual(errors.map(String), []);
      assert.ok(deltas > 1, "expected several deltas");
      assert.equal(text, "Echo: Stream this through the AI SDK");
      assert.equal(await result.text, text);
      assert.equal(await result.finishReason, "stop");
      assert.ok(((await result.usage).outputTokens ?? 0) > 0);
    });
  });
});

describe("AI SDK: the Chat Completions model (openai.chat)", () => {
  it("generateText completes its multi-step tool loop", async () => {
    await withServe({}, async (harness) => {
      const { provider, sent } = providerOf(harness);
      const calls: string[] = [];
      const result = await generateText({
        model: provider.chat(MODEL),
        prompt: "What is the weather in Paris?",
        tools: weatherTools(calls),
        stopWhen: stepCountIs(5),
      });
      assert.deepEqual(calls, ["Paris"]);
      assert.equal(result.steps.length, 2);
      assert.equal(result.text, "The tool returned: sunny in Paris");
      assert.ok(Array.isArray(sent[0].messages), "not a chat request");
    });
  });

  it("streamText completes its multi-step tool loop", async () => {
    await withServe({}, async (harness) => {
      const { provider } = providerOf(harness);
      const calls: string[] = [];
      const errors: unknown[] = [];
      const result = streamText({
        model: provider.chat(MODEL),
        prompt: "What is the weather in Paris?",
        tools: weatherTools(calls),
        stopWhen: stepCountIs(5),
        onError: ({ error }) => void errors.push(error),
      });
      let text = "";
      for await (const delta of result.textStream) text += delta;
      assert.deepEqual(errors.map(String), []);
      assert.deepEqual(calls, ["Paris"]);
      assert.equal(text, "The tool returned: sunny in Paris");
      assert.equal((await result.steps).length, 2);
      assert.ok(((await result.totalUsage).outputTokens ?? 0) > 0);
    });
  });
});
