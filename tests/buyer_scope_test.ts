// Buyers never share a conversation or a prompt cache: the upstream
// `prompt_cache_key`, the `session-id`/`thread-id` headers and the pool's
// affinity are derived from the buyer's key within the buyer's scope; a
// request without a key gets the buyer's own; a request that names no buyer
// shares nothing; the buyer's raw key never goes upstream.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../src/config.ts";
import {
  type PreparedRequest,
  prepareRequest,
} from "../src/provider/prepare.ts";
import type { Route } from "../src/provider/routes.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_scope";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const UUID =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SETTINGS = parseConfig({});
const encoder = new TextEncoder();

let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => backend.reset());

function provider(): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: "/home/seller/.codex/auth.json",
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), onLog: () => {} });
}

function prepare(
  body: Record<string, unknown> | string,
  headers: Record<string, string> = {},
  route: Route = "responses",
): Promise<PreparedRequest> {
  return prepareRequest(
    {
      requestId: "r",
      method: "POST",
      path: route === "responses" ? "/v1/responses" : "/v1/chat/completions",
      headers: { "content-type": "application/json", ...headers },
      body: encoder.encode(
        typeof body === "string" ? body : JSON.stringify(body),
      ),
    },
    SETTINGS,
    undefined,
    route,
  );
}

function upstreamKey(prepared: PreparedRequest): unknown {
  return JSON.parse(prepared.body).prompt_cache_key;
}

function buyer(peer: string): Record<string, string> {
  return { "x-antseed-buyer-peer-id": peer };
}

function responsePosts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

describe("the upstream conversation of a buyer", () => {
  it("differs between two buyers who both send prompt_cache_key default: key, session-id, thread-id, affinity", async () => {
    const p = provider();
    for (const peer of ["peer-alice", "peer-bob"]) {
      const result = await callProvider(p, {
        body: { model: "gpt-5.4", input: "Hi", prompt_cache_key: "default" },
      }, { buyerPeerId: peer });
      assert.equal(result.status, 200, result.text);
    }
    const [alice, bob] = responsePosts();
    const key = (post: typeof alice) =>
      (post.body as Record<string, unknown>).prompt_cache_key;
    assert.notEqual(key(alice), key(bob));
    assert.notEqual(alice.headers["session-id"], bob.headers["session-id"]);
    assert.notEqual(alice.headers["thread-id"], bob.headers["thread-id"]);
    for (const post of [alice, bob]) {
      assert.match(post.headers["session-id"], UUID);
      assert.equal(post.headers["thread-id"], post.headers["session-id"]);
      assert.equal(key(post), post.headers["session-id"]);
    }
    const a = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "default" },
      buyer("peer-alice"),
    );
    const b = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "default" },
      buyer("peer-bob"),
    );
    assert.notEqual(a.affinity, b.affinity);
    assert.equal(a.affinity, a.sessionId);
  });

  it("is the same for the same buyer and key, every time", async () => {
    const first = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "conv-1" },
      buyer("peer-alice"),
    );
    const again = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "conv-1", input: "later" },
      buyer("peer-alice"),
    );
    const other = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "conv-2" },
      buyer("peer-alice"),
    );
    assert.match(first.sessionId, UUID);
    assert.equal(again.sessionId, first.sessionId);
    assert.equal(upstreamKey(again), upstreamKey(first));
    assert.equal(again.affinity, first.affinity);
    assert.notEqual(other.sessionId, first.sessionId);
  });

  it("gives a request without a key the buyer's own stable key, sent upstream", async () => {
    const first = await prepare({ model: "gpt-5.4" }, buyer("peer-alice"));
    const again = await prepare(
      { model: "gpt-5.4", input: "next" },
      buyer("peer-alice"),
    );
    const bob = await prepare({ model: "gpt-5.4" }, buyer("peer-bob"));
    assert.match(first.sessionId, UUID);
    assert.equal(upstreamKey(first), first.sessionId);
    assert.equal(again.sessionId, first.sessionId);
    assert.equal(first.affinity, undefined, "spread over the logins");
    assert.notEqual(bob.sessionId, first.sessionId);
    // Not the key of any prompt_cache_key the buyer could pick; an empty
    // one is no key.
    for (const key of ["own", "default", "0:|own|"]) {
      const keyed = await prepare(
        { model: "gpt-5.4", prompt_cache_key: key },
        buyer("peer-alice"),
      );
      assert.notEqual(keyed.sessionId, first.sessionId, key);
    }
    const empty = await prepare(
      { model: "gpt-5.4", prompt_cache_key: "" },
      buyer("peer-alice"),
    );
    assert.equal(empty.sessionId, first.sessionId);
  });

  it("shares nothing between requests that name no buyer, even with the same key", async () => {
    const body = { model: "gpt-5.4", prompt_cache_key: "default" };
    const one = await prepare(body);
    const two = await prepare(body);
    assert.match(one.sessionId, UUID);
    assert.notEqual(one.sessionId, two.sessionId);
    assert.notEqual(upstreamKey(one), upstreamKey(two));
    assert.equal(upstreamKey(one), one.sessionId);
    assert.equal(one.affinity, undefined);
  });

  it("scopes the affinity of a buyer's session header", async () => {
    const headers = { "session-id": "shared-session" };
    const alice = await prepare({ model: "gpt-5.4" }, {
      ...headers,
      ...buyer("peer-alice"),
    });
    const aliceAgain = await prepare({ model: "gpt-5.4" }, {
      session_id: "shared-session",
      ...buyer("peer-alice"),
    });
    const bob = await prepare({ model: "gpt-5.4" }, {
      ...headers,
      ...buyer("peer-bob"),
    });
    assert.notEqual(alice.affinity, "shared-session");
    assert.notEqual(alice.affinity, bob.affinity);
    assert.equal(aliceAgain.affinity, alice.affinity);
    const none = await prepare({ model: "gpt-5.4" }, headers);
    assert.equal(none.affinity, undefined);
  });

  it("scopes the key of a Chat Completions buyer too", async () => {
    const body = {
      model: "gpt-5.4",
      messages: [{ role: "user", content: "Hi" }],
      prompt_cache_key: "default",
    };
    const alice = await prepare(body, buyer("peer-alice"), "chat_completions");
    const bob = await prepare(body, buyer("peer-bob"), "chat_completions");
    assert.match(alice.sessionId, UUID);
    assert.equal(upstreamKey(alice), alice.sessionId);
    assert.notEqual(alice.sessionId, bob.sessionId);
  });
});

describe("what reaches the backend", () => {
  it("never carries the buyer's key, in any header or in the body", async () => {
    const p = provider();
    const secret = "alice-private-conversation-key";
    const requests = [
      { body: { model: "gpt-5.4", input: "Hi", prompt_cache_key: secret } },
      {
        body: {
          model: "gpt-5.4",
          input: "Hi",
          prompt_cache_key: secret,
          stream: true,
        },
      },
      {
        headers: { "session-id": secret, session_id: secret },
        body: { model: "gpt-5.4", input: "Hi" },
      },
    ];
    for (const request of requests) {
      const result = await callProvider(p, request);
      assert.equal(result.status, 200, result.text);
    }
    assert.equal(responsePosts().length, 3);
    for (const post of responsePosts()) {
      const sent = JSON.stringify(post.body) + JSON.stringify(post.headers);
      assert.equal(sent.includes(secret), false, sent);
    }
  });

  it("keeps the buyer's own text when only the key changes (its numbers keep their digits)", async () => {
    const text =
      '{"model":"gpt-5.4","input":"Hi","metadata":{"n":"1"},"top_logprobs":1.50,"prompt_cache_key":"conv-1"}';
    const prepared = await prepare(text, buyer("peer-alice"));
    assert.ok(prepared.body.includes('"top_logprobs":1.50'), prepared.body);
    assert.ok(
      prepared.body.includes(`"prompt_cache_key":"${prepared.sessionId}"`),
      prepared.body,
    );
    assert.equal(prepared.body.includes("conv-1"), false);
  });

  it("replaces the top-level key only when the same key name also appears nested", async () => {
    const body = {
      model: "gpt-5.4",
      input: "Hi",
      metadata: { prompt_cache_key: "conv-1" },
      prompt_cache_key: "conv-1",
    };
    const prepared = await prepare(body, buyer("peer-alice"));
    const sent = JSON.parse(prepared.body);
    assert.match(prepared.sessionId, UUID);
    assert.equal(sent.prompt_cache_key, prepared.sessionId);
    assert.deepEqual(sent.metadata, { prompt_cache_key: "conv-1" });
  });
});
