// The per-buyer store that emulates store / previous_response_id /
// item_reference on a backend that keeps nothing.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_RESPONSE_STORE_MAX_BYTES,
  DEFAULT_RESPONSE_STORE_TTL_MS,
  ResponseStore,
  type ResponseStoreOptions,
} from "../src/state/response_store.ts";
import { shapeRequest } from "../src/codex/request.ts";
import { RelayError } from "../src/errors.ts";
import { loadClientFixture } from "./fixtures/clients.ts";

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

  it("counts at least the heap it holds (with --expose-gc)", {
    skip: typeof (globalThis as { gc?: unknown }).gc !== "function" &&
      "needs --expose-gc (deno test --v8-flags=--expose-gc, node --expose-gc)",
  }, async () => {
    const gc = (globalThis as unknown as { gc: () => void }).gc;
    const { memoryUsage } = await import("node:process");
    function used(): number {
      gc();
      gc();
      const usage = memoryUsage();
      return usage.heapUsed + usage.arrayBuffers;
    }
    const before = used();
    const target = store({ maxBytes: 512 * 1024 * 1024 });
    for (let index = 0; index < 10_000; index++) {
      target.put(`buyer-${index}`, {
        responseId: `resp_${index}_${"a".repeat(20)}`,
        input: [user(`Question ${index}`, `msg_in_${index}`)],
        output: [
          reasoning(`rs_${index}`),
          assistant(`A ${index}`, `msg_${index}`),
        ],
      });
    }
    const held = used() - before;
    assert.ok(
      held <= target.bytes,
      `heap grew by ${held} bytes, the store counts ${target.bytes}`,
    );
    assert.equal(target.size, 10_000);
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
