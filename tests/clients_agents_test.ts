// The OpenAI Agents SDK (`@openai/agents`, pinned in deno.json) driven
// through `serve` as a child process: an agent with one function tool, run
// to its final output (plain and streamed), and continued with
// `previousResponseId`. Tracing is off and `globalThis.fetch` is guarded:
// the SDK exports traces to api.openai.com by default, and nothing may leave
// this machine. Each test has its own serve, simulated backend and token
// endpoint; the backend's default behaviour calls the first tool, then
// answers `The tool returned: <output>`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import {
  Agent,
  getGlobalTraceProvider,
  OpenAIProvider,
  Runner,
  setTracingDisabled,
  tool,
} from "@openai/agents";
import { z } from "zod";
import {
  guardNetwork,
  MODEL,
  type NetworkGuard,
  type ServeHarness,
  upstreamInput,
  upstreamTurns,
  userTexts,
  withServe,
} from "./fixtures/real_clients.ts";

let guard: NetworkGuard;

before(() => {
  guard = guardNetwork();
  setTracingDisabled(true);
});

after(() => {
  guard.restore();
});

/** A runner whose model provider talks to serve only, with tracing off. */
function runnerOf(harness: ServeHarness): Runner {
  const client = new OpenAI({
    baseURL: harness.v1Url,
    apiKey: "buyer-key",
    maxRetries: 0,
    timeout: 20_000,
  });
  return new Runner({
    modelProvider: new OpenAIProvider({ openAIClient: client }),
    tracingDisabled: true,
  });
}

function weatherAgent(calls: string[]): Agent {
  return new Agent({
    name: "Weather assistant",
    instructions: "Answer questions about the weather with the tool.",
    model: MODEL,
    tools: [
      tool({
        name: "get_weather",
        description: "Weather of a city",
        parameters: z.object({ city: z.string() }),
        execute: ({ city }) => {
          calls.push(city);
          return `sunny in ${city}`;
        },
      }),
    ],
  });
}

/** Asserts that nothing went off this machine, traces flushed first. */
async function assertNothingLeft(): Promise<void> {
  await getGlobalTraceProvider().forceFlush();
  assert.deepEqual(guard.offMachine, []);
}

describe("Agents SDK: an agent with one function tool", () => {
  it("runs to the final output after calling the tool", async () => {
    await withServe({}, async (harness) => {
      const calls: string[] = [];
      const result = await runnerOf(harness).run(
        weatherAgent(calls),
        "What is the weather in Paris?",
      );
      assert.deepEqual(calls, ["Paris"]);
      assert.match(
        String(result.finalOutput),
        /^The tool returned: .*sunny in Paris/,
      );
      const turns = upstreamTurns(harness.backend);
      assert.equal(turns.length, 2);
      assert.equal(
        upstreamInput(turns[1]).at(-1)?.type,
        "function_call_output",
      );
      await assertNothingLeft();
    });
  });

  it("streams a run to the same final output", async () => {
    await withServe({}, async (harness) => {
      const calls: string[] = [];
      const result = await runnerOf(harness).run(
        weatherAgent(calls),
        "What is the weather in Paris?",
        { stream: true },
      );
      let text = "";
      for await (const delta of result.toTextStream()) text += delta;
      await result.completed;
      assert.equal(result.error, null);
      assert.deepEqual(calls, ["Paris"]);
      assert.match(text, /^The tool returned: .*sunny in Paris/);
      assert.equal(result.finalOutput, text);
      await assertNothingLeft();
    });
  });

  it("continues a run with previousResponseId", async () => {
    await withServe({}, async (harness) => {
      const calls: string[] = [];
      const runner = runnerOf(harness);
      const agent = weatherAgent(calls);
      const first = await runner.run(agent, "What is the weather in Paris?");
      assert.ok(first.lastResponseId, "no lastResponseId");
      harness.backend.setDefault((body) => ({
        kind: "text",
        text: `Heard: ${userTexts(body).join(" | ")}`,
      }));
      const second = await runner.run(agent, "And what did I ask first?", {
        previousResponseId: first.lastResponseId,
      });
      assert.equal(
        second.finalOutput,
        "Heard: What is the weather in Paris? | And what did I ask first?",
      );
      await assertNothingLeft();
    });
  });
});
