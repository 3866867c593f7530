// Long non-streaming answers through the seller-node emulation with the
// buyer's timeouts, scaled down (1 s = 10 ms): a 35 s answer is held, then
// committed as a JSON stream, and reaches the buyer complete; a fast one
// goes whole; a failure after the commit ends as the documented object.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { createServerHandler } from "../src/serve/handler.ts";
import { type BuyerResult, callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
/** The node's 30 s, 90 s, 60 s and 5 minutes, scaled. */
const BUYER = {
  firstAnswerMs: 300,
  firstAnswerStreamingMs: 900,
  betweenChunksMs: 600,
  streamMs: 3000,
};
/** 35 s, scaled. */
const SLOW_MS = 350;

let backend: FakeCodexBackend;

function provider(
  config: Record<string, string> = {},
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    OPENAI_RESPONSES_HOLD_MS: "200",
    OPENAI_RESPONSES_HOLD_KEEPALIVE_MS: "150",
    ...config,
  }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), random: () => 0 });
}

/** The start came within the first window and no gap exceeded the window between chunks. */
function assertInTime(result: BuyerResult): void {
  assert.equal(result.buyerFailure, undefined);
  assert.ok(result.startedAt! - result.sentAt < BUYER.firstAnswerMs);
  let last = result.startedAt!;
  for (const chunk of [...result.chunks, { at: result.settledAt }]) {
    assert.ok(chunk.at - last < BUYER.betweenChunksMs - 50);
    last = chunk.at;
  }
  assert.deepEqual(result.violations, []);
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

describe("non-streaming answers that outlast the buyer's first window", () => {
  it("a 35 s Responses answer arrives complete, billed from the resolved body", async () => {
    backend.enqueue({
      kind: "text",
      text: "slow",
      pauseAfterEvents: 1,
      pauseMs: SLOW_MS,
    });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    }, { buyer: BUYER });
    assertInTime(result);
    assert.equal(result.mode, "stream");
    assert.equal(result.status, 200);
    assert.equal(result.headers["content-type"], "application/json");
    const body = JSON.parse(result.text);
    assert.equal(body.object, "response");
    assert.equal(body.status, "completed");
    assert.ok(result.usage && result.usage.output > 0);
    assert.equal(result.usage.output, body.usage.output_tokens);
  });

  it("a 35 s Chat Completions answer arrives complete", async () => {
    backend.enqueue({
      kind: "text",
      text: "slow",
      pauseAfterEvents: 1,
      pauseMs: SLOW_MS,
    });
    const result = await callProvider(provider(), {
      path: "/v1/chat/completions",
      body: { model: "gpt-5.4", messages: [{ role: "user", content: "hi" }] },
    }, { buyer: BUYER });
    assertInTime(result);
    const body = JSON.parse(result.text);
    assert.equal(body.object, "chat.completion");
    assert.equal(body.choices[0].message.content, "slow");
    assert.ok(result.usage && result.usage.output > 0);
  });

  it("a quick answer arrives whole, with no stream start", async () => {
    backend.enqueue({ kind: "text", text: "quick" });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    }, { buyer: BUYER });
    assert.equal(result.mode, "whole");
    assert.equal(result.startCalls, 0);
    assert.equal(JSON.parse(result.text).status, "completed");
  });

  it("an upstream failure after the commit ends as a failed Response object with its code and the buyer's own fields", async () => {
    backend.enqueue({ kind: "stall", afterEvents: 1 });
    const result = await callProvider(
      provider({ OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "400" }),
      {
        body: {
          model: "gpt-5.4",
          input: "hi",
          instructions: "Be brief.",
          prompt_cache_key: "conv-held",
        },
      },
      { buyer: BUYER },
    );
    assertInTime(result);
    assert.equal(result.status, 200);
    const body = JSON.parse(result.text);
    assert.equal(body.object, "response");
    assert.equal(body.status, "failed");
    assert.equal(body.error.code, "upstream_idle_timeout");
    assert.equal(body.instructions, "Be brief.");
    assert.equal(body.prompt_cache_key, "conv-held");
    assert.equal(body.previous_response_id, null);
    assert.equal(body.store, true);
  });

  it("a usage limit before the commit still answers 429 with retry-after", async () => {
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 1 });
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "hi" },
    }, { buyer: BUYER });
    assert.equal(result.mode, "whole");
    assert.equal(result.status, 429);
    assert.ok(result.headers["retry-after"]);
    assert.equal(JSON.parse(result.text).error.code, "usage_limit_reached");
  });

  it("serve holds nothing: a slow failure keeps its own status", async () => {
    backend.reset();
    backend.enqueue({ kind: "stall", afterEvents: 1 });
    const handler = createServerHandler(
      provider({ OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "400" }),
    );
    const response = await handler(
      new Request("http://127.0.0.1/v1/responses", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-5.4", input: "hi" }),
      }),
    );
    const body = await response.json();
    assert.equal(response.status, 504);
    assert.equal(body.error.code, "upstream_idle_timeout");
  });
});
