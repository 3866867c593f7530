// The per-buyer store that emulates store / previous_response_id /
// item_reference on a backend that keeps nothing.

import { describe, it } from "node:test";
import { setImmediate } from "node:timers";
import assert from "node:assert/strict";
import {
  DEFAULT_RESPONSE_STORE_BUYER_SHARE,
  DEFAULT_RESPONSE_STORE_MAX_BYTES,
  DEFAULT_RESPONSE_STORE_TTL_MS,
  MAX_ITEM_ID_LENGTH,
  ResponseStore,
  type ResponseStoreOptions,
} from "../src/state/response_store.ts";
import { shapeRequest } from "../src/codex/request.ts";
import { RelayError } from "../src/errors.ts";
import { loadClientFixture } from "./fixtures/clients.ts";
import { runStoreChild } from "./fixtures/store_child_process.ts";
import { prng } from "./fakes/prng.ts";

const A = "buyer-a";
const B = "buyer-b";
const MINUTE = 60_000;

function clock(
  start = 1_000_000,
): { now: () => number; advance(ms: number): void } {
  let time = start;
  return {
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
  };
}

function store(options: ResponseStoreOptions = {}): ResponseStore {
  return new ResponseStore(options);
}

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

function reasoning(id: string, encrypted = true): Record<string, unknown> {
  const item: Record<string, unknown> = { id, type: "reasoning", summary: [] };
  if (encrypted) item.encrypted_content = `gAAAA-${id}`;
  return item;
}

async function relayError(run: () => unknown): Promise<RelayError> {
  try {
    await run();
  } catch (error) {
    assert.ok(error instanceof RelayError, `expected RelayError: ${error}`);
    assert.doesNotMatch(error.message, /\.$/, "no trailing period");
    return error;
  }
  assert.fail("expected a RelayError");
}

/** Puts one turn: `input` as the buyer sent it, `output` as the backend answered. */
async function turn(
  target: ResponseStore,
  scope: string,
  responseId: string,
  request: Record<string, unknown>,
  output: Record<string, unknown>[],
): Promise<Record<string, unknown>> {
  const expanded = await target.expand(scope, request);
  assert.ok(
    target.put(scope, {
      responseId,
      input: expanded.turnInput,
      output,
      previousResponseId: expanded.previousResponseId,
    }),
  );
  return expanded.body;
}

describe("ResponseStore options", () => {
  it("keeps 64 MiB for an hour by default", () => {
    const target = store();
    assert.equal(target.maxBytes, DEFAULT_RESPONSE_STORE_MAX_BYTES);
    assert.equal(DEFAULT_RESPONSE_STORE_MAX_BYTES, 64 * 1024 * 1024);
    assert.equal(target.ttlMs, DEFAULT_RESPONSE_STORE_TTL_MS);
    assert.equal(DEFAULT_RESPONSE_STORE_TTL_MS, 3_600_000);
    assert.equal(target.enabled, true);
  });

  it("is off with maxBytes 0 or ttlMs 0 and keeps nothing", async () => {
    for (const options of [{ maxBytes: 0 }, { ttlMs: 0 }]) {
      const target = store(options);
      assert.equal(target.enabled, false);
      assert.equal(
        target.put(A, { responseId: "resp_1", input: [], output: [] }),
        false,
      );
      assert.equal(target.size, 0);
      const error = await relayError(() =>
        target.expand(A, { input: "Hi", previous_response_id: "resp_1" })
      );
      assert.equal(error.code, "previous_response_not_found");
      assert.match(error.message, /keeps no responses/);
    }
  });

  it("refuses a negative bound", () => {
    assert.throws(() => store({ maxBytes: -1 }), RangeError);
  });

  it("lets a buyer hold a quarter of the bound by default, and refuses a share outside (0, 1]", () => {
    const target = store({ maxBytes: 1000 });
    assert.equal(target.buyerShare, DEFAULT_RESPONSE_STORE_BUYER_SHARE);
    assert.equal(DEFAULT_RESPONSE_STORE_BUYER_SHARE, 0.25);
    assert.equal(target.maxBuyerBytes, 250);
    for (const buyerShare of [0, -0.5, 1.5, Number.NaN]) {
      assert.throws(
        () => store({ buyerShare }),
        /Expected buyerShare to be a number above 0 and at most 1/,
      );
    }
  });
});

describe("ResponseStore previous_response_id", () => {
  it("puts the stored conversation, oldest first, before the new items", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Remember 42" }, [
      reasoning("rs_1"),
      assistant("OK", "msg_1"),
    ]);
    await turn(target, A, "resp_2", {
      input: [user("And 7", "msg_u2")],
      previous_response_id: "resp_1",
    }, [assistant("Noted", "msg_2")]);
    const result = await target.expand(A, {
      model: "gpt-5.4",
      input: "Which numbers?",
      previous_response_id: "resp_2",
    });
    assert.equal(result.changed, true);
    assert.equal(result.previousResponseId, "resp_2");
    assert.equal("previous_response_id" in result.body, false);
    assert.equal(result.body.model, "gpt-5.4");
    assert.deepEqual(result.body.input, [
      user("Remember 42"),
      reasoning("rs_1"),
      assistant("OK", "msg_1"),
      user("And 7", "msg_u2"),
      assistant("Noted", "msg_2"),
      user("Which numbers?"),
    ]);
    assert.equal(result.expandedItems, 5);
  });

  it("applies the request's own instructions and carries none over", async () => {
    const target = store();
    await turn(target, A, "resp_1", { instructions: "Be terse", input: "Hi" }, [
      assistant("Hello", "msg_1"),
    ]);
    const withOwn = await target.expand(A, {
      instructions: "Be kind",
      input: "Again",
      previous_response_id: "resp_1",
    });
    assert.equal(withOwn.body.instructions, "Be kind");
    const without = await target.expand(A, {
      input: "Again",
      previous_response_id: "resp_1",
    });
    assert.equal("instructions" in without.body, false);
    assert.doesNotMatch(JSON.stringify(without.body), /Be terse/);
  });

  it("answers an unknown id with 400 previous_response_not_found and the keeping time", async () => {
    const target = store({ ttlMs: 30 * MINUTE });
    const error = await relayError(() =>
      target.expand(A, { input: "Hi", previous_response_id: "resp_missing" })
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "previous_response_not_found");
    assert.match(
      error.message,
      /^Previous response with id 'resp_missing' not found\. This seller keeps a response for 30 minutes after its last use/,
    );
    assert.equal(error.toJSON().error.param, "previous_response_id");
  });

  it("answers 400 when an earlier response of the conversation is gone", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "One" }, [
      assistant("1", "msg_1"),
    ]);
    await turn(target, A, "resp_2", {
      input: "Two",
      previous_response_id: "resp_1",
    }, [assistant("2", "msg_2")]);
    assert.ok(target.delete(A, "resp_1"));
    const error = await relayError(() =>
      target.expand(A, { input: "Three", previous_response_id: "resp_2" })
    );
    assert.equal(error.code, "previous_response_not_found");
    assert.match(error.message, /'resp_2' not found\. An earlier .*'resp_1'/);
  });

  it("never resolves another buyer's response", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Secret" }, [
      assistant("Ok", "msg_1"),
    ]);
    const error = await relayError(() =>
      target.expand(B, { input: "Hi", previous_response_id: "resp_1" })
    );
    assert.equal(error.code, "previous_response_not_found");
    assert.equal(target.has(A, "resp_1"), true);
    assert.equal(target.has(B, "resp_1"), false);
  });

  it("refuses a previous_response_id that is not a non-empty string", async () => {
    for (const value of ["", 42, {}]) {
      const error = await relayError(() =>
        store().expand(A, { input: "Hi", previous_response_id: value })
      );
      assert.equal(error.code, "invalid_request");
    }
  });

  it("removes a null previous_response_id", async () => {
    const result = await store().expand(A, {
      input: "Hi",
      previous_response_id: null,
    });
    assert.equal("previous_response_id" in result.body, false);
  });
});

describe("ResponseStore item references", () => {
  it("fills an item_reference from the buyer's stored items", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [reasoning("rs_1")]);
    const result = await target.expand(A, {
      input: [user("Q"), { type: "item_reference", id: "rs_1" }],
    });
    assert.deepEqual(result.body.input, [user("Q"), reasoning("rs_1")]);
    assert.equal(result.filledItems, 1);
    assert.deepEqual(result.turnInput, result.body.input);
  });

  it("fills a reasoning item that carries only its id", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [reasoning("rs_1")]);
    const result = await target.expand(A, {
      input: [{ type: "reasoning", id: "rs_1", summary: [] }],
    });
    assert.deepEqual(result.body.input, [reasoning("rs_1")]);
  });

  it("indexes item ids of at most MAX_ITEM_ID_LENGTH characters only (V8 hashes a longer string by its length)", async () => {
    assert.equal(MAX_ITEM_ID_LENGTH, 256);
    const longest = `rs_${"a".repeat(MAX_ITEM_ID_LENGTH - 3)}`;
    const over = `rs_${"b".repeat(MAX_ITEM_ID_LENGTH - 2)}`;
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [
      reasoning(longest),
      reasoning(over),
    ]);
    const result = await target.expand(A, {
      input: [
        { type: "item_reference", id: longest },
        { type: "item_reference", id: over },
      ],
    });
    assert.deepEqual(result.body.input, [reasoning(longest)]);
    assert.equal(result.filledItems, 1);
    assert.equal(result.droppedItems, 1);
    // The longer id is not in the index either: its turn counts no index
    // entry for it, so it weighs less than the turn of the shorter id.
    const weigh = (id: string) => {
      const alone = store();
      alone.put(A, {
        responseId: "resp_1",
        input: [],
        output: [reasoning(id)],
      });
      return alone.bytes;
    };
    assert.ok(weigh(longest) > weigh(`${longest}c`));
  });

  it("does not look up a reference whose id is past MAX_ITEM_ID_LENGTH (1,000 of 16,384 characters took 0.7 s)", async () => {
    const target = store();
    const id = (i: number) =>
      `msg_${"a".repeat(16_372)}${String(i).padStart(8, "0")}`;
    target.put(A, {
      responseId: "resp_1",
      input: Array.from({ length: 300 }, (_, i) => user("Q", id(i))),
      output: [],
    });
    const started = performance.now();
    const result = await target.expand(A, {
      input: Array.from(
        { length: 1000 },
        (_, i) => ({ type: "item_reference", id: id(1_000_000 + i) }),
      ),
    });
    const elapsed = performance.now() - started;
    assert.equal(result.droppedItems, 1000);
    assert.ok(elapsed < 200, `expanding took ${elapsed.toFixed(0)} ms`);
  });

  it("drops an unknown item_reference and an unknown id-only reasoning item", async () => {
    const result = await store().expand(A, {
      input: [
        user("Q"),
        { type: "item_reference", id: "rs_unknown" },
        { type: "reasoning", id: "rs_other", summary: [] },
      ],
    });
    assert.deepEqual(result.body.input, [user("Q")]);
    assert.equal(result.droppedItems, 2);
  });

  it("keeps other items with ids as they are", async () => {
    const input = [
      user("Q", "msg_unknown"),
      reasoning("rs_inline"),
      { type: "item_reference", id: "x" },
    ];
    const result = await store().expand(A, { input });
    assert.deepEqual(result.body.input, [
      user("Q", "msg_unknown"),
      reasoning("rs_inline"),
    ]);
  });

  it("never fills another buyer's item", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [reasoning("rs_1")]);
    const result = await target.expand(B, {
      input: [{ type: "item_reference", id: "rs_1" }, user("Hi")],
    });
    assert.deepEqual(result.body.input, [user("Hi")]);
    assert.doesNotMatch(JSON.stringify(result.body), /gAAAA/);
  });

  it("drops a stored reasoning item without encrypted_content", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [
      reasoning("rs_plain", false),
      assistant("A", "msg_1"),
    ]);
    const chained = await target.expand(A, {
      input: "Next",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(chained.body.input, [
      user("Q"),
      assistant("A", "msg_1"),
      user("Next"),
    ]);
    const referenced = await target.expand(A, {
      input: [{ type: "item_reference", id: "rs_plain" }],
    });
    assert.deepEqual(referenced.body.input, []);
  });

  it("gives a body that shaping sends without any id or reference", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Q" }, [
      reasoning("rs_1"),
      assistant("A", "msg_1"),
    ]);
    const result = await target.expand(A, {
      model: "gpt-5.4",
      input: [{ type: "item_reference", id: "rs_1" }, user("Next", "msg_x")],
      previous_response_id: "resp_1",
    });
    const shaped = shapeRequest(result.body, {
      defaultInstructions: "Default",
      aliasMap: {},
      allowedServices: [],
    });
    const text = JSON.stringify(shaped.body);
    assert.doesNotMatch(text, /"id":|item_reference|previous_response_id/);
    assert.match(text, /gAAAA-rs_1/);
  });
});

describe("ResponseStore conversation", () => {
  it("refuses conversation with 400 unsupported_parameter", async () => {
    const error = await relayError(() =>
      store().expand(A, { input: "Hi", conversation: "conv_1" })
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "unsupported_parameter");
    assert.match(error.message, /'conversation'/);
  });

  it("refuses conversation with previous_response_id as mutually exclusive", async () => {
    const error = await relayError(() =>
      store().expand(A, {
        input: "Hi",
        conversation: { id: "conv_1" },
        previous_response_id: "resp_1",
      })
    );
    assert.equal(error.status, 400);
    assert.equal(error.code, "mutually_exclusive_parameters");
    assert.match(error.message, /'previous_response_id' or 'conversation'/);
  });
});

describe("ResponseStore requests that need nothing", () => {
  it("returns the request itself and its own input array", async () => {
    const input = [user("Q", "msg_1"), reasoning("rs_1"), assistant("A", "m")];
    const body = { model: "gpt-5.4", input };
    const result = await store().expand(A, body);
    assert.equal(result.body, body);
    assert.equal(result.turnInput, input);
    assert.equal(result.changed, false);
  });

  it("gives a string input as one user message for put", async () => {
    const result = await store().expand(A, { input: "Hi" });
    assert.deepEqual(result.turnInput, [user("Hi")]);
  });
});

describe("ResponseStore eviction", () => {
  it("forgets a response not used for ttlMs", async () => {
    const time = clock();
    const target = store({ ttlMs: 60 * MINUTE, now: time.now });
    await turn(target, A, "resp_1", { input: "Q" }, [assistant("A", "msg_1")]);
    time.advance(60 * MINUTE);
    const error = await relayError(() =>
      target.expand(A, { input: "Q", previous_response_id: "resp_1" })
    );
    assert.equal(error.code, "previous_response_not_found");
    assert.match(error.message, /60 minutes/);
    assert.equal(target.size, 0);
    assert.equal(target.bytes, 0);
  });

  it("counts the time from the last use", async () => {
    const time = clock();
    const target = store({ ttlMs: 60 * MINUTE, now: time.now });
    await turn(target, A, "resp_1", { input: "Q" }, [assistant("A", "msg_1")]);
    time.advance(50 * MINUTE);
    await target.expand(A, { input: "Q", previous_response_id: "resp_1" });
    time.advance(50 * MINUTE);
    await target.expand(A, { input: "Q", previous_response_id: "resp_1" });
    assert.equal(target.has(A, "resp_1"), true);
  });

  it("evicts the least recently used response past maxBytes", async () => {
    const text = "x".repeat(1000);
    const probe = store();
    await turn(probe, A, "resp_1", { input: text }, []);
    const first = probe.bytes;
    await turn(probe, A, "resp_2", { input: text }, []);
    const each = probe.bytes - first;
    // Room for three turns and a half, all for one buyer.
    const target = store({
      maxBytes: Math.floor(first + 2.5 * each),
      buyerShare: 1,
    });
    for (const id of ["resp_1", "resp_2", "resp_3"]) {
      await turn(target, A, id, { input: text }, []);
    }
    await target.expand(A, { input: "Q", previous_response_id: "resp_1" });
    await turn(target, A, "resp_4", { input: text }, []);
    assert.equal(target.has(A, "resp_1"), true, "used recently");
    assert.equal(target.has(A, "resp_2"), false, "least recently used");
    assert.equal(target.has(A, "resp_3"), true);
    assert.equal(target.has(A, "resp_4"), true);
    assert.ok(target.bytes <= target.maxBytes);
  });

  it("counts text beyond Latin-1 at two bytes a character", async () => {
    const latin = store();
    const wide = store();
    await turn(latin, A, "resp_1", { input: "é".repeat(1000) }, []);
    await turn(wide, A, "resp_1", { input: "✨".repeat(1000) }, []);
    const json = JSON.stringify(user("✨".repeat(1000))).length;
    assert.equal(wide.bytes - latin.bytes, json);
  });

  it("does not keep a turn larger than the whole bound", () => {
    const target = store({ maxBytes: 2000 });
    assert.equal(
      target.put(A, {
        responseId: "resp_big",
        input: [user("x".repeat(5000))],
        output: [],
      }),
      false,
    );
    assert.equal(target.size, 0);
  });

  it("replaces a response put again under the same id", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "Old" }, []);
    const bytes = target.bytes;
    await turn(target, A, "resp_1", { input: "New" }, []);
    assert.equal(target.size, 1);
    assert.equal(target.bytes, bytes);
    const result = await target.expand(A, {
      input: "Q",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(result.body.input, [user("New"), user("Q")]);
  });

  it("keeps its accounted bytes within maxBytes over 10,000 responses", () => {
    const maxBytes = 1024 * 1024;
    const target = store({ maxBytes });
    for (let index = 0; index < 10_000; index++) {
      target.put(`buyer-${index % 50}`, {
        responseId: `resp_${index}`,
        input: [user(`Question ${index} ${"é".repeat(index % 300)}`)],
        output: [
          reasoning(`rs_${index}`),
          assistant(
            `Answer ${index} ${"✨".repeat(index % 200)}`,
            `msg_${index}`,
          ),
        ],
      });
      assert.ok(target.bytes <= maxBytes, `${target.bytes} at ${index}`);
    }
    assert.ok(target.size > 100 && target.size < 10_000, `${target.size}`);
    let counted = 0;
    for (let index = 0; index < 10_000; index++) {
      if (target.has(`buyer-${index % 50}`, `resp_${index}`)) counted++;
    }
    assert.equal(counted, target.size);
  });

  it("counts at least the heap it holds, parsed and unread (measured in a child process with gc exposed)", async () => {
    const report = await runStoreChild("heap");
    for (const kind of ["put", "putRaw"]) {
      const { held, counted, size } = report[kind] as Record<string, number>;
      assert.equal(size, 10_000, kind);
      assert.ok(
        held <= counted,
        `${kind}: the heap grew by ${held} bytes, the store counts ${counted}`,
      );
    }
  });
});

describe("ResponseStore with real clients' requests", () => {
  it("continues the openai SDK's previous_response_id conversation", async () => {
    const first = loadClientFixture(
      "openai-node/responses-previous-response-id-1.json",
    );
    const second = loadClientFixture(
      "openai-node/responses-previous-response-id-2.json",
    );
    const responseId = second.body!.previous_response_id as string;
    const target = store();
    await turn(target, A, responseId, first.body!, [
      assistant("I will remember 42.", "msg_fake1"),
    ]);
    const result = await target.expand(A, second.body!);
    assert.deepEqual(result.body.input, [
      user("Remember the number 42."),
      assistant("I will remember 42.", "msg_fake1"),
      user("What number did I tell you?"),
    ]);
  });

  it("fills the AI SDK's item_reference to its reasoning item", async () => {
    const step2 = loadClientFixture(
      "ai-sdk/generate-text-tool-default-reasoning-2.json",
    );
    const input = step2.body!.input as Record<string, unknown>[];
    const reference = input.find((item) => item.type === "item_reference")!;
    const target = store();
    await turn(target, A, "resp_fake1", { input: [input[0]] }, [
      reasoning(reference.id as string),
      input[2],
    ]);
    const result = await target.expand(A, step2.body!);
    const items = result.body.input as Record<string, unknown>[];
    assert.deepEqual(items.map((item) => item.type), [
      undefined,
      "reasoning",
      "function_call",
      "function_call_output",
    ]);
    assert.equal(items[1].encrypted_content, `gAAAA-${reference.id}`);
  });
});

describe("ResponseStore: turns kept as bytes", () => {
  const encoder = new TextEncoder();
  function raw(id: string, text: string, reasoningId?: string) {
    const output: unknown[] = [];
    if (reasoningId) {
      output.push({
        id: reasoningId,
        type: "reasoning",
        summary: [],
        encrypted_content: `gAAAA-${reasoningId}`,
      });
    }
    output.push({
      id: `msg_${id}`,
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text }],
    });
    return {
      responseId: id,
      request: encoder.encode(
        JSON.stringify({ model: "gpt-5.4", input: `Question before ${id}` }),
      ),
      response: encoder.encode(
        JSON.stringify({
          type: "response.completed",
          response: { id, object: "response", output },
        }),
      ),
    };
  }

  it("expands previous_response_id from a raw turn, read only then", async () => {
    const store = new ResponseStore();
    assert.equal(store.putRaw("a", raw("resp_r1", "Answer one")), true);
    const next = await store.expand("a", {
      model: "gpt-5.4",
      input: "Next",
      previous_response_id: "resp_r1",
    });
    const text = JSON.stringify(next.body.input);
    assert.ok(
      text.indexOf("Question before resp_r1") < text.indexOf("Answer one") &&
        text.indexOf("Answer one") < text.indexOf("Next"),
      text,
    );
  });

  it("fills an item_reference from a raw turn of the same buyer only", async () => {
    const store = new ResponseStore();
    store.putRaw("a", raw("resp_r2", "Two", "rs_r2"));
    const filled = await store.expand("a", {
      model: "gpt-5.4",
      input: [{ type: "item_reference", id: "rs_r2" }],
    });
    assert.equal(filled.filledItems, 1);
    assert.equal(
      (filled.body.input as Record<string, unknown>[])[0].encrypted_content,
      "gAAAA-rs_r2",
    );
    const other = await store.expand("b", {
      model: "gpt-5.4",
      input: [{ type: "item_reference", id: "rs_r2" }],
    });
    assert.equal(other.filledItems, 0);
    assert.equal(other.droppedItems, 1);
  });

  it("replaces a buyer's only raw turn by one of the same id, and finds the new one", async () => {
    const store = new ResponseStore();
    assert.equal(store.putRaw("a", raw("resp_same", "First answer")), true);
    const afterFirst = store.bytes;
    assert.equal(store.putRaw("a", raw("resp_same", "Final answer")), true);
    assert.equal(store.size, 1);
    assert.equal(store.bytes, afterFirst);
    const next = await store.expand("a", {
      model: "gpt-5.4",
      input: "Next",
      previous_response_id: "resp_same",
    });
    const text = JSON.stringify(next.body.input);
    assert.ok(text.includes("Final answer") && !text.includes("First"), text);
  });

  it("replaces a buyer's only parsed turn by one of the same id, and finds the new one", async () => {
    const store = new ResponseStore();
    const turn = (text: string) => ({
      responseId: "resp_same",
      input: [{ role: "user", content: "Question" }],
      output: [{
        type: "message",
        role: "assistant",
        content: [{ type: "output_text", text }],
      }],
    });
    assert.equal(store.put("a", turn("First answer")), true);
    assert.equal(store.put("a", turn("Final answer")), true);
    assert.equal(store.size, 1);
    const next = await store.expand("a", {
      model: "gpt-5.4",
      input: "Next",
      previous_response_id: "resp_same",
    });
    const text = JSON.stringify(next.body.input);
    assert.ok(text.includes("Final answer") && !text.includes("First"), text);
  });

  it("stays within its byte bound under 10,000 raw turns", () => {
    const store = new ResponseStore({ maxBytes: 2 * 1024 * 1024 });
    for (let i = 0; i < 10_000; i++) {
      store.putRaw(`buyer-${i % 7}`, raw(`resp_b${i}`, "x".repeat(200)));
      assert.ok(store.bytes <= store.maxBytes);
    }
    assert.ok(store.size > 100 && store.size < 10_000, `${store.size} kept`);
  });
});

const utf8 = new TextEncoder();

/** A streamed turn as the provider keeps it: the buyer's body and the terminal event. */
function rawTurn(
  responseId: string,
  input: unknown[] | string,
  output: unknown[],
  previousResponseId?: string,
) {
  return {
    responseId,
    request: utf8.encode(JSON.stringify({ model: "gpt-5.4", input })),
    response: utf8.encode(JSON.stringify({
      type: "response.completed",
      response: { id: responseId, object: "response", output },
    })),
    previousResponseId,
  };
}

describe("ResponseStore: the body limit on expansion", () => {
  it("refuses with 413 a conversation that would grow the request past the limit, counting the request's own bytes", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "x".repeat(5000) }, [
      assistant("OK", "msg_1"),
    ]);
    const request = { input: "Hi", previous_response_id: "resp_1" };
    const fits = await target.expand(A, request, {
      maxBodyBytes: 10_000,
      bodyBytes: 100,
    });
    assert.equal(fits.expandedItems, 2);
    const error = await relayError(() =>
      target.expand(A, request, { maxBodyBytes: 10_000, bodyBytes: 5000 })
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    assert.match(
      error.message,
      /^Expected a request body of at most 10000 bytes once its previous_response_id is expanded with the stored conversation, found at least \d+ bytes; /,
    );
    assert.equal(error.toJSON().error.param, "previous_response_id");
  });

  it("counts stored text in UTF-8 bytes, up to exactly the limit", async () => {
    const target = store();
    await turn(target, A, "resp_1", { input: "✨".repeat(3000) }, []);
    const json = JSON.stringify(user("✨".repeat(3000)));
    // The stored item and the comma before the request's own items.
    const bytes = utf8.encode(json).byteLength + 1;
    assert.ok(json.length + 1 < bytes - 5000, "characters would fit");
    const request = { input: [], previous_response_id: "resp_1" };
    const fits = await target.expand(A, request, { maxBodyBytes: bytes });
    assert.equal(fits.expandedItems, 1);
    const error = await relayError(() =>
      target.expand(A, request, { maxBodyBytes: bytes - 1 })
    );
    assert.equal(error.code, "request_too_large");
    assert.match(error.message, new RegExp(`found at least ${bytes} bytes`));
  });

  it("counts a turn not read yet as its whole stored text, and refuses without reading it", async () => {
    const target = store();
    target.putRaw(
      A,
      rawTurn("resp_1", "x".repeat(5000), [assistant("OK", "msg_1")]),
    );
    const unread = target.bytes;
    const request = { input: "Hi", previous_response_id: "resp_1" };
    const error = await relayError(() =>
      target.expand(A, request, { maxBodyBytes: 5000 })
    );
    assert.equal(error.code, "request_too_large");
    assert.equal(target.bytes, unread, "not read");
    const served = await target.expand(A, request, { maxBodyBytes: 6000 });
    assert.equal(served.expandedItems, 2);
    assert.notEqual(target.bytes, unread, "read now");
  });

  it("refuses item_references that would fill the request past the limit", async () => {
    const target = store();
    await turn(target, A, "resp_1", {
      input: [user("y".repeat(10_000), "msg_big")],
    }, []);
    const input = Array.from({ length: 50 }, () => ({
      type: "item_reference",
      id: "msg_big",
    }));
    const error = await relayError(() =>
      target.expand(A, { input }, { maxBodyBytes: 100_000 })
    );
    assert.equal(error.status, 413);
    assert.equal(error.code, "request_too_large");
    assert.match(
      error.message,
      /at most 100000 bytes once its item_reference items are filled in from the store/,
    );
    assert.equal(error.toJSON().error.param, "input");
    const few = await target.expand(A, { input: input.slice(0, 5) }, {
      maxBodyBytes: 100_000,
    });
    assert.equal(few.filledItems, 5);
  });

  it("fills many references to one stored item from one parse of it", async () => {
    const target = store();
    // 100 KB of small objects: slow to parse, as a real item's content is.
    const summary = Array.from({ length: 2500 }, (_, index) => ({
      type: "summary_text",
      text: `Step ${index}`,
    }));
    const big = { ...reasoning("rs_1"), summary };
    await turn(target, A, "resp_1", { input: "Q" }, [big]);
    const input = Array.from({ length: 10_000 }, () => ({
      type: "item_reference",
      id: "rs_1",
    }));
    const started = performance.now();
    const result = await target.expand(A, { input }, {
      maxBodyBytes: 2 ** 31,
    });
    const ms = performance.now() - started;
    const items = result.body.input as unknown[];
    assert.equal(result.filledItems, 10_000);
    assert.deepEqual(items[0], big);
    assert.ok(items.every((item) => item === items[0]), "one object");
    // One parse takes well under a millisecond; one per reference, seconds.
    assert.ok(ms < 1000, `filled in ${ms.toFixed(0)} ms`);
  });

  it("yields to the event loop while it parses a large conversation", async () => {
    const target = store({ buyerShare: 1 });
    for (let index = 0; index < 8; index++) {
      target.put(A, {
        responseId: `resp_${index}`,
        input: [user("z".repeat(200_000))],
        output: [],
        previousResponseId: index === 0 ? undefined : `resp_${index - 1}`,
      });
    }
    let ranMeanwhile = false;
    setImmediate(() => {
      ranMeanwhile = true;
    });
    const ranBeforeTheEnd = await target.expand(A, {
      input: "Hi",
      previous_response_id: "resp_7",
    }).then((result) => {
      assert.equal(result.expandedItems, 8);
      return ranMeanwhile;
    });
    assert.equal(ranBeforeTheEnd, true);
  });

  it("never fills an item whose turn is removed while the request is being expanded", async () => {
    const target = store();
    await turn(target, A, "resp_1", {
      input: [user("w".repeat(600_000), "msg_big")],
    }, []);
    setImmediate(() => target.delete(A, "resp_1"));
    const result = await target.expand(A, {
      input: [{ type: "item_reference", id: "msg_big" }, user("Hi")],
    });
    assert.equal(result.filledItems, 0);
    assert.equal(result.droppedItems, 1);
    assert.deepEqual(result.body.input, [user("Hi")]);
    assert.equal(target.audit(), target.bytes);
  });

  it("answers previous_response_not_found when a turn of the conversation is removed while it is being expanded", async () => {
    const target = store();
    target.put(A, {
      responseId: "resp_1",
      input: [user("w".repeat(600_000))],
      output: [],
    });
    target.put(A, {
      responseId: "resp_2",
      input: [user("Next")],
      output: [],
      previousResponseId: "resp_1",
    });
    setImmediate(() => target.delete(A, "resp_1"));
    const error = await relayError(() =>
      target.expand(A, { input: "Hi", previous_response_id: "resp_2" })
    );
    assert.equal(error.code, "previous_response_not_found");
    assert.match(error.message, /'resp_1', is no longer kept/);
  });
});

describe("ResponseStore: what is evicted is gone", () => {
  it("forgets raw turns evicted past the bound: the count holds and their items no longer fill", async () => {
    const target = store({ maxBytes: 64 * 1024, buyerShare: 1 });
    const ids = Array.from({ length: 20 }, (_, index) => `resp_${index}`);
    for (const id of ids) {
      target.putRaw(
        A,
        rawTurn(id, "q".repeat(6000), [reasoning(`rs_${id}`)]),
      );
    }
    assert.ok(ids.some((id) => !target.has(A, id)), "some were evicted");
    const result = await target.expand(A, {
      input: ids.map((id) => ({ type: "item_reference", id: `rs_${id}` })),
    });
    assert.ok(target.bytes <= target.maxBytes, `${target.bytes} counted`);
    assert.equal(target.audit(), target.bytes);
    const kept = ids.filter((id) => target.has(A, id));
    assert.ok(kept.length > 0);
    assert.equal(result.filledItems, kept.length);
    assert.equal(result.droppedItems, ids.length - kept.length);
  });

  it("counts the time from the last use through item_reference too", async () => {
    const time = clock();
    const target = store({ ttlMs: 60 * MINUTE, now: time.now });
    await turn(target, A, "resp_1", { input: "Q" }, [reasoning("rs_1")]);
    const request = { input: [{ type: "item_reference", id: "rs_1" }] };
    for (let use = 0; use < 2; use++) {
      time.advance(50 * MINUTE);
      const result = await target.expand(A, request);
      assert.equal(result.filledItems, 1, `use ${use + 1}`);
    }
    assert.equal(target.has(A, "resp_1"), true);
  });

  it("counts nothing once a raw turn that was read is deleted", async () => {
    const target = store();
    target.putRaw(A, rawTurn("resp_1", "Q", [assistant("A", "msg_1")]));
    await target.expand(A, { input: "Next", previous_response_id: "resp_1" });
    assert.ok(target.delete(A, "resp_1"));
    assert.equal(target.size, 0);
    assert.equal(target.bytes, 0);
  });
});

describe("ResponseStore: each buyer's share", () => {
  function sized(id: string, chars: number) {
    return { responseId: id, input: [user("s".repeat(chars))], output: [] };
  }

  it("does not keep a turn larger than a buyer's share, and evicts nothing for it", () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.25 });
    assert.equal(target.put(A, sized("resp_small", 1000)), true);
    assert.equal(target.put(A, sized("resp_big", 30_000)), false);
    assert.equal(target.has(A, "resp_small"), true);
    assert.equal(target.put(B, sized("resp_b", 20_000)), true);
  });

  it("evicts the buyer's least recently used turn first, a use making a turn its newest", async () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.5 });
    for (const id of ["resp_1", "resp_2", "resp_3"]) {
      assert.equal(target.put(A, sized(id, 14_000)), true);
    }
    assert.equal(target.put(B, sized("resp_b", 14_000)), true);
    await target.expand(A, { input: "Q", previous_response_id: "resp_1" });
    assert.equal(target.put(A, sized("resp_4", 14_000)), true);
    assert.equal(target.has(A, "resp_1"), true, "used recently");
    assert.equal(target.has(A, "resp_2"), false, "A's least recently used");
    assert.equal(target.has(A, "resp_3"), true);
    assert.equal(target.has(B, "resp_b"), true, "another buyer's is kept");
    assert.equal(target.audit(), target.bytes);
  });

  it("past the bound, evicts from the buyer that holds the most: nine names of one buyer do not flush another's small turn", () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.25 });
    assert.equal(target.put(B, sized("resp_victim", 2_000)), true);
    // Nine peer ids of one buyer, each within its share, 180 KB in all:
    // past the bound, the oldest of all is the victim's turn.
    for (let name = 0; name < 9; name++) {
      for (let turn = 0; turn < 2; turn++) {
        assert.equal(
          target.put(`peer-${name}`, sized(`resp_${name}_${turn}`, 9_000)),
          true,
        );
        assert.equal(target.audit(), target.bytes);
        assert.ok(target.bytes <= target.maxBytes);
      }
    }
    assert.equal(target.has(B, "resp_victim"), true);
    // The flood pushed out its own turns, oldest first in each name.
    assert.equal(target.has("peer-0", "resp_0_0"), false);
    assert.equal(target.has("peer-8", "resp_8_1"), true);
  });

  it("past the bound, many names holding one small turn each do not make a larger buyer evict its own turns", async () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.25 });
    // The store filled with small turns under fresh peer ids (one each).
    for (let name = 0; name < 150; name++) {
      target.put(`peer-${name}`, sized(`resp_${name}`, 10));
    }
    assert.ok(target.bytes > 90_000);
    // A buyer then holds a conversation of four turns of 2 KB (within half
    // its share).
    let previous: string | undefined;
    for (let turn = 0; turn < 4; turn++) {
      const id = `resp_a${turn}`;
      assert.equal(
        target.put(A, { ...sized(id, 2_000), previousResponseId: previous }),
        true,
      );
      previous = id;
      assert.equal(target.audit(), target.bytes);
    }
    const next = await target.expand(A, {
      input: "Next",
      previous_response_id: previous,
    });
    assert.equal(next.expandedItems, 4);
    assert.equal(target.has("peer-0", "resp_0"), false, "the oldest of all");
  });

  it("past the bound, keeps a new turn larger than every other buyer's, evicting theirs", () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.25 });
    assert.equal(target.put(B, sized("resp_small", 500)), true);
    for (let name = 0; name < 8; name++) {
      assert.equal(
        target.put(`peer-${name}`, sized(`resp_${name}`, 11_000)),
        true,
      );
    }
    assert.equal(target.put(A, sized("resp_large", 20_000)), true);
    assert.equal(target.has(A, "resp_large"), true);
    assert.equal(target.has(B, "resp_small"), true, "the oldest of all");
    assert.equal(
      target.has("peer-0", "resp_0"),
      false,
      "the oldest of the next largest",
    );
    assert.equal(target.has("peer-7", "resp_7"), true);
    assert.ok(target.bytes <= target.maxBytes);
    assert.equal(target.audit(), target.bytes);
  });

  it("past the bound, the buyer that holds the most loses its own oldest turn, not its newest", () => {
    const target = store({ maxBytes: 100_000, buyerShare: 0.25 });
    for (let name = 0; name < 6; name++) {
      assert.equal(
        target.put(`peer-${name}`, sized(`resp_${name}`, 11_000)),
        true,
      );
    }
    assert.equal(target.put(A, sized("resp_a1", 10_000)), true);
    assert.equal(target.put(A, sized("resp_a2", 10_000)), true);
    assert.equal(target.has(A, "resp_a1"), true, "within the bound so far");
    assert.equal(target.put(B, sized("resp_b", 11_000)), true);
    assert.equal(target.has(A, "resp_a1"), false, "the largest buyer's oldest");
    assert.equal(target.has(A, "resp_a2"), true);
    assert.equal(target.has(B, "resp_b"), true);
    for (let name = 0; name < 6; name++) {
      assert.equal(target.has(`peer-${name}`, `resp_${name}`), true);
    }
    assert.equal(target.audit(), target.bytes);
  });
});

describe("ResponseStore: a few characters beyond Latin-1 in a large turn", () => {
  // Share 25,000 bytes: an ASCII answer of 15,000 characters fits once,
  // not twice.
  const options = { maxBytes: 100_000, buyerShare: 0.25 };
  const answer = "a".repeat(15_000);

  it("keeps an ASCII answer to a question with one ’ at one byte a character, and gives the ’ back", async () => {
    const target = store(options);
    await target.expand(A, { input: "What’s next?" });
    assert.equal(
      target.put(A, {
        responseId: "resp_1",
        input: [user("What’s next? 😀")],
        output: [assistant(answer, "msg_1")],
      }),
      true,
    );
    assert.ok(target.bytes < 17_000, `${target.bytes}`);
    assert.equal(target.audit(), target.bytes);
    const next = await target.expand(A, {
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(next.body.input, [
      user("What’s next? 😀"),
      assistant(answer, "msg_1"),
      user("Go on"),
    ]);
  });

  it("keeps the same turn streamed, and reads it without evicting it", async () => {
    const target = store(options);
    assert.equal(
      target.putRaw(
        A,
        rawTurn("resp_1", "What’s next?", [assistant(`${answer}’`, "msg_1")]),
      ),
      true,
    );
    const next = await target.expand(A, {
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.equal(next.expandedItems, 2);
    const [question, stored] = next.body.input as Record<string, unknown>[];
    assert.ok(JSON.stringify(question).includes("What’s next?"));
    assert.ok(
      JSON.stringify(stored) ===
        JSON.stringify(assistant(`${answer}’`, "msg_1")),
    );
    assert.equal(target.has(A, "resp_1"), true);
    assert.ok(target.bytes < 17_000, `${target.bytes}`);
    assert.equal(target.audit(), target.bytes);
  });

  it("leaves a small turn's text as it is, counted at two bytes a character", () => {
    const small = "a".repeat(1_000);
    const counted = (question: string) => {
      const target = store(options);
      assert.equal(
        target.put(A, {
          responseId: "resp_1",
          input: [user(question)],
          output: [assistant(small, "msg_1")],
        }),
        true,
      );
      assert.equal(target.audit(), target.bytes);
      return target.bytes;
    };
    // The same turn with a ’ counts once more its length than with a '.
    assert.ok(
      counted("What’s next?") >= counted("What's next?") + small.length,
    );
  });

  it("keeps a streamed turn's bytes that are not UTF-8 as the decoder reads them, and an emoji as it came", async () => {
    const target = store(options);
    const turn = rawTurn("resp_1", "Q", [
      assistant(`${"a".repeat(8_000)}😀’X`, "msg_1"),
    ]);
    // The first byte of a three-byte character with none after it, for X.
    const response = turn.response.slice();
    response[response.lastIndexOf(0x58)] = 0xe2;
    assert.equal(target.putRaw(A, { ...turn, response }), true);
    const next = await target.expand(A, {
      input: "Go on",
      previous_response_id: "resp_1",
    });
    const expected = JSON.parse(new TextDecoder().decode(response)).response
      .output[0];
    assert.deepEqual((next.body.input as unknown[])[1], expected);
    assert.match(JSON.stringify(expected), /😀’\uFFFD|😀’\ufffd|😀’�/);
    assert.equal(target.audit(), target.bytes);
  });

  it("leaves a byte order mark before a large streamed request's JSON to the decoder, and reads the turn back", async () => {
    const target = store(options);
    const turn = rawTurn("resp_1", `${"a".repeat(15_000)}’`, [
      assistant("OK", "msg_1"),
    ]);
    // readRequestJson takes a body with a BOM (the decoder drops it).
    const request = new Uint8Array([0xef, 0xbb, 0xbf, ...turn.request]);
    assert.equal(target.putRaw(A, { ...turn, request }), true);
    const next = await target.expand(A, {
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.equal(next.expandedItems, 2);
    assert.equal(target.audit(), target.bytes);
  });

  it("narrows an emoji in a large streamed turn into its two escapes, and reads it back", async () => {
    const target = store(options);
    const text = `${"a".repeat(15_000)}😀`;
    assert.equal(
      target.putRaw(A, rawTurn("resp_1", "Q", [assistant(text, "msg_1")])),
      true,
    );
    assert.ok(target.bytes < 17_000, `${target.bytes}`);
    const next = await target.expand(A, {
      input: "Go on",
      previous_response_id: "resp_1",
    });
    assert.deepEqual(
      (next.body.input as unknown[])[1],
      assistant(text, "msg_1"),
    );
  });

  it("refuses a streamed turn of more than twice the share without decoding it", () => {
    const target = store(options);
    const decode = TextDecoder.prototype.decode;
    let decoded = 0;
    TextDecoder.prototype.decode = function (...args) {
      decoded++;
      return decode.apply(this, args);
    };
    try {
      const turn = rawTurn("resp_1", "Q", [assistant("a".repeat(50_100), "m")]);
      assert.equal(target.putRaw(A, turn), false);
      assert.equal(decoded, 0);
      // Half of it is decoded, and refused for what it counts.
      const half = rawTurn("resp_2", "Q", [assistant("a".repeat(25_000), "m")]);
      assert.equal(target.putRaw(A, half), false);
      assert.equal(decoded, 2);
    } finally {
      TextDecoder.prototype.decode = decode;
    }
  });

  it("still counts a text in another script at two bytes a character", () => {
    const target = store(options);
    assert.equal(
      target.put(A, {
        responseId: "resp_1",
        input: [user("Q")],
        output: [assistant("✨".repeat(15_000), "msg_1")],
      }),
      false,
    );
  });

  it("drops a turn that is past the share once read, without evicting the buyer's other turns", async () => {
    const target = store(options);
    assert.equal(
      target.put(A, {
        responseId: "resp_old",
        input: [user("Old")],
        output: [],
      }),
      true,
    );
    // 150 items with ids: 6 KB as it came, past 25,000 bytes once its ids
    // are indexed.
    const items = Array.from({ length: 150 }, (_, index) => ({
      id: `m_${index}`,
      type: "message",
    }));
    assert.equal(target.putRaw(A, rawTurn("resp_many", [], items)), true);
    const error = await relayError(() =>
      target.expand(A, { input: "Q", previous_response_id: "resp_many" })
    );
    assert.equal(error.code, "previous_response_not_found");
    assert.equal(target.has(A, "resp_many"), false);
    assert.equal(target.has(A, "resp_old"), true, "not evicted for it");
    assert.equal(target.audit(), target.bytes);
  });
});

describe("ResponseStore: exact accounting under random operations", () => {
  const SCOPES = ["a", "b", "c", "d"];

  /** Runs `count` random operations and checks the invariants after each. */
  async function randomRun(seed: number, count: number): Promise<void> {
    const random = prng(seed);
    const below = (n: number) => Math.floor(random() * n);
    const pick = <T>(list: readonly T[]): T => list[below(list.length)];
    const time = clock();
    const buyerShare = pick([0.25, 0.5, 1]);
    const target = store({
      maxBytes: 48 * 1024,
      ttlMs: 10 * MINUTE,
      buyerShare,
      now: time.now,
    });
    let version = 0;
    /** `scope responseId` -> the item ids of the turn kept under it. */
    const live = new Map<string, string[]>();
    const goneItems: [string, string][] = [];
    const goneResponses = new Set<string>();
    const recent: string[] = [];
    const context = () =>
      `seed ${seed}, share ${buyerShare}, last operations: ${
        recent.slice(-8).join("; ")
      }`;

    function text(): string {
      return (random() < 0.2 ? "✨" : "t").repeat(pick([5, 60, 700, 4000]));
    }
    function items(responseId: string, count: number): unknown[] {
      return Array.from({ length: count }, (_, k) => {
        const id = `i_${responseId}_v${version}_${k}`;
        return random() < 0.3 ? reasoning(id) : assistant(text(), id);
      });
    }
    function newTurn(scope: string, raw: boolean): string {
      version++;
      const responseId = `resp_${below(10)}`;
      const input = random() < 0.2
        ? items(responseId, 40 + below(200)) // many small items: reading grows
        : items(responseId, below(3));
      const output = items(`${responseId}_out`, 1 + below(3));
      const previous = random() < 0.5 ? `resp_${below(10)}` : undefined;
      const ids = [...input, ...output].map((item) =>
        (item as { id: string }).id
      );
      let kept: boolean;
      if (raw) {
        const turn = rawTurn(responseId, input, output, previous);
        if (random() < 0.05) turn.response = utf8.encode("{not json");
        kept = target.putRaw(scope, turn);
      } else {
        kept = target.put(scope, {
          responseId,
          input,
          output,
          previousResponseId: previous,
        });
      }
      const key = `${scope} ${responseId}`;
      const what = `${raw ? "putRaw" : "put"} ${key} (${ids.length} items)`;
      // A turn not kept changes nothing (its items were never stored).
      if (!kept) return `${what}, not kept`;
      const old = live.get(key);
      if (old) { for (const id of old) goneItems.push([scope, id]); }
      live.set(key, ids);
      goneResponses.delete(key);
      return what;
    }
    async function expanding(
      scope: string,
      body: Record<string, unknown>,
    ): Promise<number> {
      try {
        return (await target.expand(scope, body)).filledItems;
      } catch (error) {
        assert.ok(error instanceof RelayError, `${error}; ${context()}`);
        assert.ok([400, 413].includes(error.status), error.message);
        return 0;
      }
    }
    function check(what: string): void {
      for (const [key, ids] of live) {
        const [scope, responseId] = key.split(" ");
        if (target.has(scope, responseId)) continue;
        live.delete(key);
        goneResponses.add(key);
        for (const id of ids) goneItems.push([scope, id]);
      }
      let audited: number;
      try {
        audited = target.audit();
      } catch (error) {
        assert.fail(`${(error as Error).message} after ${what}; ${context()}`);
      }
      assert.equal(target.bytes, audited, `after ${what}; ${context()}`);
      assert.ok(
        target.bytes <= target.maxBytes,
        `${target.bytes} counted after ${what}; ${context()}`,
      );
    }

    for (let step = 0; step < count; step++) {
      const scope = pick(SCOPES);
      const roll = random();
      let what: string;
      if (roll < 0.25) {
        what = newTurn(scope, false);
      } else if (roll < 0.5) {
        what = newTurn(scope, true);
      } else if (roll < 0.65) {
        const id = `resp_${below(10)}`;
        await expanding(scope, { input: "Next", previous_response_id: id });
        what = `expand ${scope} previous ${id}`;
      } else if (roll < 0.8) {
        const known = [...live].filter(([key]) => key.startsWith(`${scope} `))
          .flatMap(([, ids]) => ids);
        const refs = Array.from({ length: 1 + below(4) }, () => ({
          type: "item_reference",
          id: known.length > 0 && random() < 0.8
            ? pick(known)
            : `i_unknown_${below(5)}`,
        }));
        await expanding(scope, { input: refs });
        what = `expand ${scope} ${refs.length} references`;
      } else if (roll < 0.9) {
        const id = `resp_${below(10)}`;
        target.delete(scope, id);
        what = `delete ${scope} ${id}`;
      } else {
        const ms = below(6 * MINUTE);
        time.advance(ms);
        what = `advance ${ms} ms`;
      }
      recent.push(what);
      check(what);
      // What is gone never resolves again.
      if (step % 10 === 0 && goneItems.length > 0) {
        const [goneScope, id] = pick(goneItems);
        const filled = await expanding(goneScope, {
          input: [{ type: "item_reference", id }],
        });
        assert.equal(filled, 0, `gone item ${id} filled; ${context()}`);
        check(`expand gone item ${id}`);
      }
      if (step % 10 === 5 && goneResponses.size > 0) {
        const key = pick([...goneResponses]);
        const [goneScope, id] = key.split(" ");
        await assert.rejects(
          target.expand(goneScope, { input: "X", previous_response_id: id }),
          (error) =>
            error instanceof RelayError &&
            error.code === "previous_response_not_found",
          `gone response ${key} resolved; ${context()}`,
        );
        check(`expand gone response ${key}`);
      }
    }
  }

  const seeds = [1, 19, 2024, Math.floor(Math.random() * 2 ** 32)];
  for (const seed of seeds) {
    it(`counts exactly what it holds, within its bounds, and never resolves what is gone (seed ${seed})`, async () => {
      await randomRun(seed, 2000);
    });
  }
});
