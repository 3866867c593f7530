// Compaction v2 through the provider: the Codex CLI (and any Responses
// client) ends its history with {"type":"compaction_trigger"} and gets one
// `compaction` item back, which it sends later in place of that history.
// Shaping passes both through (ids removed as for every item), the store
// keeps the compaction item and a later turn's conversation starts at it.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { shapeRequest } from "../src/codex/request.ts";
import { ResponseStore } from "../src/state/response_store.ts";
import { RelayError } from "../src/errors.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider as callThroughNode } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const TRIGGER = { type: "compaction_trigger" };
const SCOPE = "buyer-a";

function user(text: string, id?: string): Record<string, unknown> {
  const item: Record<string, unknown> = {
    type: "message",
    role: "user",
    content: [{ type: "input_text", text }],
  };
  if (id !== undefined) item.id = id;
  return item;
}

function assistant(text: string, id: string): Record<string, unknown> {
  return {
    id,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [] }],
  };
}

/** A compaction item; `null` content leaves `encrypted_content` out. */
function compaction(
  id: string,
  content: string | null = `gAAAAABcompacted-${id}`,
): Record<string, unknown> {
  const item: Record<string, unknown> = { type: "compaction", id };
  if (content !== null) item.encrypted_content = content;
  return item;
}

function withoutId(item: Record<string, unknown>): Record<string, unknown> {
  const { id: _id, ...rest } = item;
  return rest;
}

const SHAPE = {
  defaultInstructions: "Be helpful",
  aliasMap: {},
  allowedServices: [],
};

describe("shaping passes compaction items through", () => {
  it("keeps compaction_trigger, compaction and compaction_summary items, removing only their ids", () => {
    const input = [
      user("Earlier", "msg_1"),
      {
        type: "compaction_summary",
        id: "cmp_old",
        encrypted_content: "gAAAAABolder",
      },
      compaction("cmp_1"),
      user("Go on"),
      { ...TRIGGER, id: "ct_1" },
    ];
    const { body } = shapeRequest({
      model: "gpt-5.4",
      instructions: "Be brief",
      input,
    }, SHAPE);
    assert.deepEqual(body.input, input.map(withoutId));
  });

  it("leaves an input without ids as it is (the same array)", () => {
    const input = [user("Hi"), withoutId(compaction("cmp_1")), TRIGGER];
    const { body } = shapeRequest({ model: "gpt-5.4", input }, SHAPE);
    assert.equal(body.input, input);
  });
});

/** A turn answered by a compaction: the history and the trigger, one compaction item. */
function compactedTurn(store: ResponseStore, responseId = "resp_2") {
  store.put(SCOPE, {
    responseId: "resp_1",
    input: [user("Remember 42", "msg_u1")],
    output: [assistant("I will remember 42", "msg_a1")],
  });
  store.put(SCOPE, {
    responseId,
    input: [user("Now compact"), TRIGGER],
    output: [compaction("cmp_1")],
    previousResponseId: "resp_1",
  });
}

describe("the store replays a compaction item in place of the history", () => {
  it("starts the conversation of a later turn at the compaction item", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Which number?",
      previous_response_id: "resp_2",
    });
    assert.deepEqual(next.body.input, [
      compaction("cmp_1"),
      user("Which number?"),
    ]);
    const { body } = shapeRequest(next.body, SHAPE);
    assert.deepEqual(body.input, [
      withoutId(compaction("cmp_1")),
      user("Which number?"),
    ]);
  });

  it("keeps the turns after the compaction, in order", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    store.put(SCOPE, {
      responseId: "resp_3",
      input: [user("Third question")],
      output: [assistant("Third answer", "msg_a3")],
      previousResponseId: "resp_2",
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: [user("Fourth question")],
      previous_response_id: "resp_3",
    });
    assert.deepEqual(next.body.input, [
      compaction("cmp_1"),
      user("Third question"),
      assistant("Third answer", "msg_a3"),
      user("Fourth question"),
    ]);
    assert.equal(next.expandedItems, 3);
  });

  it("starts at the newest of two compactions", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    store.put(SCOPE, {
      responseId: "resp_3",
      input: [user("More"), TRIGGER],
      output: [compaction("cmp_2")],
      previousResponseId: "resp_2",
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_3",
    });
    assert.deepEqual(next.body.input, [compaction("cmp_2"), user("Go on")]);
  });

  it("needs no turn from before the compaction: an older one may be gone", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    assert.equal(store.delete(SCOPE, "resp_1"), true);
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Which number?",
      previous_response_id: "resp_2",
    });
    assert.deepEqual(next.body.input, [
      compaction("cmp_1"),
      user("Which number?"),
    ]);
  });

  it("counts only what goes upstream against the body limit", async () => {
    const store = new ResponseStore();
    const history = "x".repeat(20_000);
    store.put(SCOPE, {
      responseId: "resp_big",
      input: [user(history), TRIGGER],
      output: [compaction("cmp_1")],
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_big",
    }, { maxBodyBytes: 1_000, bodyBytes: 100 });
    assert.deepEqual(next.body.input, [compaction("cmp_1"), user("Go on")]);
  });

  it("still refuses a compacted conversation past the body limit", async () => {
    const store = new ResponseStore();
    store.put(SCOPE, {
      responseId: "resp_big",
      input: [user("Before"), TRIGGER],
      output: [compaction("cmp_1", "c".repeat(5_000))],
    });
    await assert.rejects(
      store.expand(SCOPE, {
        model: "gpt-5.4",
        input: "Go on",
        previous_response_id: "resp_big",
      }, { maxBodyBytes: 4_000, bodyBytes: 100 }),
      (error: unknown) =>
        error instanceof RelayError && error.status === 413 &&
        error.code === "request_too_large",
    );
  });

  it("starts at a compaction item of a turn kept raw, once read", async () => {
    const store = new ResponseStore();
    const encoder = new TextEncoder();
    store.putRaw(SCOPE, {
      responseId: "resp_raw",
      request: encoder.encode(JSON.stringify({
        model: "gpt-5.4",
        input: [user("Long history"), TRIGGER],
      })),
      response: encoder.encode(JSON.stringify({
        type: "response.completed",
        response: { id: "resp_raw", output: [compaction("cmp_raw")] },
      })),
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_raw",
    });
    assert.deepEqual(next.body.input, [compaction("cmp_raw"), user("Go on")]);
  });

  it("starts at the newest compaction of turns kept raw", async () => {
    const store = new ResponseStore();
    const encoder = new TextEncoder();
    const rawTurn = (
      responseId: string,
      input: unknown[],
      output: unknown[],
      previousResponseId?: string,
    ) => ({
      responseId,
      previousResponseId,
      request: encoder.encode(JSON.stringify({ model: "gpt-5.4", input })),
      response: encoder.encode(
        JSON.stringify({ id: responseId, output }),
      ),
    });
    store.putRaw(
      SCOPE,
      rawTurn("resp_r1", [user("First"), TRIGGER], [compaction("cmp_r1")]),
    );
    store.putRaw(
      SCOPE,
      rawTurn(
        "resp_r2",
        [user("Second"), TRIGGER],
        [compaction("cmp_r2")],
        "resp_r1",
      ),
    );
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_r2",
    });
    assert.deepEqual(next.body.input, [compaction("cmp_r2"), user("Go on")]);
  });

  it("does not cut at a compaction item without its content, and drops it", async () => {
    const store = new ResponseStore();
    store.put(SCOPE, {
      responseId: "resp_1",
      input: [user("Keep me"), TRIGGER],
      output: [compaction("cmp_empty", null)],
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(next.body.input, [
      user("Keep me"),
      TRIGGER,
      user("Go on"),
    ]);
    assert.equal(next.droppedItems, 1);
  });

  it("does not cut at a compaction item the buyer sent in a turn's input", async () => {
    const store = new ResponseStore();
    const sent = withoutId(compaction("cmp_0"));
    store.put(SCOPE, {
      responseId: "resp_1",
      input: [user("Retained"), sent, user("Question")],
      output: [assistant("Answer", "msg_a1")],
    });
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(next.body.input, [
      user("Retained"),
      sent,
      user("Question"),
      assistant("Answer", "msg_a1"),
      user("Go on"),
    ]);
  });

  it("fills an item_reference to the compaction item", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: [{ type: "item_reference", id: "cmp_1" }, user("Go on")],
    });
    assert.deepEqual(next.body.input, [compaction("cmp_1"), user("Go on")]);
    assert.equal(next.filledItems, 1);
  });

  it("fills a compaction item sent by id alone, as an id-only reasoning item", async () => {
    const store = new ResponseStore();
    compactedTurn(store);
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: [{ type: "compaction", id: "cmp_1" }, user("Go on")],
    });
    assert.deepEqual(next.body.input, [compaction("cmp_1"), user("Go on")]);
    assert.equal(next.filledItems, 1);
  });

  it("drops a compaction item sent by id alone that the store does not know", async () => {
    const store = new ResponseStore();
    const next = await store.expand(SCOPE, {
      model: "gpt-5.4",
      input: [{ type: "compaction", id: "cmp_unknown" }, user("Go on")],
    });
    assert.deepEqual(next.body.input, [user("Go on")]);
    assert.equal(next.droppedItems, 1);
  });
});

describe("compaction through the provider against the simulated backend", () => {
  const ACCOUNT = "acct_test";
  const TOKEN = makeAccessToken({ accountId: ACCOUNT });
  const BUYER = { "x-antseed-buyer-peer-id": "peer-a" };
  let backend: FakeCodexBackend;

  before(async () => {
    backend = await startFakeCodexBackend();
  });
  after(async () => {
    await backend.close();
  });
  beforeEach(() => {
    backend.reset();
  });

  function provider(): OpenAIResponsesProvider {
    return createProvider({ OPENAI_RESPONSES_BASE_URL: backend.baseUrl }, {
      tokenSource: fixedTokens(ACCOUNT, TOKEN),
      random: () => 0,
    });
  }

  async function turn(
    p: OpenAIResponsesProvider,
    body: Record<string, unknown>,
  ) {
    const result = await callThroughNode(p, { headers: BUYER, body }, {
      skipRouting: true,
      buyerPeerId: BUYER["x-antseed-buyer-peer-id"],
    });
    return { result, text: result.text };
  }

  function upstreamInputs(): unknown[] {
    return backend.requests
      .filter((request) =>
        request.method === "POST" && request.path.endsWith("/codex/responses")
      )
      .map((request) => (request.body as Record<string, unknown>).input);
  }

  const HISTORY = [
    user("Remember the number 42", "msg_u1"),
    assistant("I will remember 42.", "msg_a1"),
  ];

  for (const stream of [false, true]) {
    it(
      `keeps the compaction item of a ${
        stream ? "streamed" : "JSON"
      } turn and sends it, without its id, in place of the history`,
      async () => {
        const p = provider();
        const one = await turn(p, {
          model: "gpt-5.4",
          input: [...HISTORY, TRIGGER],
          stream,
        });
        assert.equal(one.result.status, 200, one.text);
        const item = stream
          ? /"item":(\{"type":"compaction"[^}]*\})/.exec(one.text)?.[1]
          : JSON.stringify(JSON.parse(one.text).output[0]);
        assert.ok(item, one.text);
        const compacted = JSON.parse(item) as Record<string, unknown>;
        assert.equal(compacted.type, "compaction", one.text);
        assert.match(String(compacted.id), /^cmp_/);
        const responseId = /"id":"(resp_[^"]+)"/.exec(one.text)?.[1];
        assert.ok(responseId, one.text);
        assert.deepEqual(upstreamInputs()[0], [
          ...HISTORY.map(withoutId),
          TRIGGER,
        ]);

        const two = await turn(p, {
          model: "gpt-5.4",
          input: "Which number?",
          previous_response_id: responseId,
        });
        assert.equal(two.result.status, 200, two.text);
        assert.deepEqual(upstreamInputs()[1], [
          withoutId(compacted),
          user("Which number?"),
        ]);
      },
    );
  }

  it("answers the compaction turn as a JSON Response holding the one compaction item", async () => {
    const one = await turn(provider(), {
      model: "gpt-5.4",
      input: [...HISTORY, TRIGGER],
    });
    assert.equal(one.result.status, 200, one.text);
    const output = JSON.parse(one.text).output as Record<string, unknown>[];
    assert.equal(output.length, 1, one.text);
    assert.equal(output[0].type, "compaction");
    assert.match(String(output[0].encrypted_content), /^gAAAAAB/);
  });

  it("fills an item_reference to the compaction item", async () => {
    const p = provider();
    const one = await turn(p, {
      model: "gpt-5.4",
      input: [...HISTORY, TRIGGER],
    });
    const compacted = JSON.parse(one.text).output[0] as Record<string, unknown>;
    const two = await turn(p, {
      model: "gpt-5.4",
      input: [{ type: "item_reference", id: compacted.id }, user("Go on")],
    });
    assert.equal(two.result.status, 200, two.text);
    assert.deepEqual(upstreamInputs()[1], [
      withoutId(compacted),
      user("Go on"),
    ]);
  });

  it("passes a compaction item the client sends back, without its id", async () => {
    const p = provider();
    const sent = [
      user("Retained", "msg_u1"),
      compaction("cmp_client"),
      user("Go on"),
    ];
    const result = await turn(p, {
      model: "gpt-5.4",
      input: sent,
      store: false,
    });
    assert.equal(result.result.status, 200, result.text);
    assert.deepEqual(upstreamInputs()[0], sent.map(withoutId));
  });
});
