// Hostile buyers against the response store (issue 19, defects 1, 3, 4 and
// 5): what a stranger can make the seller do through previous_response_id
// and item_reference is bounded by the body limit, counted before anything
// is parsed, and one buyer can neither break the store's count nor push
// another buyer's turns out. The figures of defects 1 and 5 are measured in
// a child process with the collector exposed and a capped heap (where the
// unbounded expansion of old ran out of memory).

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import { ResponseStore } from "../src/state/response_store.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { runStoreChild } from "./fixtures/store_child_process.ts";
import { watchEventLoop } from "./fixtures/event_loop.ts";
import { prepareRequest } from "../src/provider/prepare.ts";
import { parseConfig } from "../src/config.ts";

const MiB = 1024 * 1024;
const encoder = new TextEncoder();
const ACCOUNT = "acct_test";

interface Refusal {
  status: number;
  error?: { code: string; message: string; param?: string };
  ms: number;
  heapGrowth: number;
  requestBytes: number;
  storeBytesBefore?: number;
  storeBytesAfter?: number;
}

/** Asserts an OpenAI-shaped 413 `request_too_large` that names the limit. */
function assertTooLarge(refusal: Refusal, limit: number): void {
  assert.equal(refusal.status, 413, JSON.stringify(refusal).slice(0, 500));
  assert.equal(refusal.error?.code, "request_too_large");
  assert.match(refusal.error!.message, new RegExp(`at most ${limit} bytes`));
}

/** A streamed turn as the provider keeps it: the buyer's body and the terminal event. */
function rawTurn(responseId: string, input: unknown[] | string) {
  return {
    responseId,
    request: encoder.encode(JSON.stringify({ model: "gpt-5.4", input })),
    response: encoder.encode(JSON.stringify({
      type: "response.completed",
      response: {
        id: responseId,
        output: [{
          id: `msg_${responseId}`,
          type: "message",
          role: "assistant",
          content: [{ type: "output_text", text: "Answer" }],
        }],
      },
    })),
  };
}

let backend: FakeCodexBackend;
before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

describe("hostile buyers and the response store", () => {
  it("defect 1: 20,000 item_references to one stored 100 KB item are refused with 413 request_too_large in under 100 ms and 10 MiB of heap, before the backend", async () => {
    const report = await runStoreChild("references");
    const limit = report.limit as number;
    const warm = report.warm as Refusal;
    const hostile = report.hostile as Refusal;
    assert.equal(warm.status, 200, "a few references are served");
    assertTooLarge(hostile, limit);
    assert.equal(hostile.error!.param, "input");
    const fastest = Math.min(hostile.ms, ...(report.again as number[]));
    console.log(
      `defect 1: ${hostile.requestBytes} bytes of references refused in ${
        hostile.ms.toFixed(1)
      } ms (fastest ${fastest.toFixed(1)} ms), heap +${
        (hostile.heapGrowth / MiB).toFixed(1)
      } MiB`,
    );
    assert.ok(fastest < 100, `refused in ${fastest} ms`);
    assert.ok(hostile.heapGrowth < 10 * MiB, `heap +${hostile.heapGrowth}`);

    // Through the provider: answered 413, nothing sent upstream.
    backend.reset();
    const provider = createProvider({
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_MAX_BODY_BYTES: String(MiB),
    }, { tokenSource: fixedTokens(ACCOUNT, makeAccessToken()) });
    const options = { skipRouting: true, buyerPeerId: "peer-hostile" };
    const stored = await callProvider(provider, {
      body: {
        model: "gpt-5.4",
        input: [{
          id: "big",
          type: "message",
          role: "user",
          content: [{ type: "input_text", text: "x".repeat(100_000) }],
        }],
      },
    }, options);
    assert.equal(stored.status, 200, stored.text);
    const refused = await callProvider(provider, {
      body: {
        model: "gpt-5.4",
        input: Array.from({ length: 200 }, () => ({
          type: "item_reference",
          id: "big",
        })),
      },
    }, options);
    assert.equal(refused.status, 413, refused.text.slice(0, 300));
    const error = JSON.parse(refused.text).error;
    assert.equal(error.code, "request_too_large");
    assert.equal(error.type, "invalid_request_error");
    assert.match(error.message, new RegExp(`at most ${MiB} bytes`));
    assert.equal(
      backend.requests.filter((request) =>
        request.path.endsWith("/codex/responses")
      ).length,
      1,
      "only the first turn went up",
    );
  });

  it("defect 3: one buyer's streamed turns and one item_reference keep the count exact, and another buyer's next turn still resolves", async () => {
    // One buyer may use the whole store here: the count alone is under test.
    const store = new ResponseStore({ maxBytes: MiB, buyerShare: 1 });
    // Eight streamed turns, each of 2,000 small items with ids: read, each
    // takes several times its raw size, and the first reads evict the
    // turns that the same pass read next.
    const ids: string[] = [];
    for (let turn = 0; turn < 8; turn++) {
      const input = Array.from({ length: 2000 }, (_, k) => ({
        id: `m${turn}_${k}`,
        type: "message",
        role: "user",
        content: "a",
      }));
      ids.push(`resp_a${turn}`);
      assert.ok(store.putRaw("peer-a", rawTurn(`resp_a${turn}`, input)));
    }
    await store.expand("peer-a", {
      input: [{ type: "item_reference", id: "msg_resp_a7" }],
    });
    assert.ok(store.bytes <= store.maxBytes, `${store.bytes} counted`);
    // Evicted turns never resolve again, not even through their items.
    for (const [turn, id] of ids.entries()) {
      if (store.has("peer-a", id)) continue;
      const again = await store.expand("peer-a", {
        input: [{ type: "item_reference", id: `m${turn}_0` }],
      });
      assert.equal(again.filledItems, 0, `${id} was evicted`);
    }
    assert.ok(store.putRaw("peer-b", rawTurn("resp_b1", "B's question")));
    const next = await store.expand("peer-b", {
      input: "And then?",
      previous_response_id: "resp_b1",
    });
    assert.match(JSON.stringify(next.body.input), /B's question/);
  });

  it("defect 4: a buyer who stores far more than its share evicts its own oldest turns, not another buyer's", async () => {
    const store = new ResponseStore({ maxBytes: MiB });
    const answer = (text: string, id: string) => [{
      id,
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text }],
    }];
    assert.ok(store.put("peer-b", {
      responseId: "resp_b1",
      input: [{ type: "message", role: "user", content: "Remember 42" }],
      output: answer("OK", "msg_b1"),
    }));
    // Buyer A stores 2 MiB: twice the whole bound, eight times its share.
    for (let turn = 0; turn < 100; turn++) {
      store.put("peer-a", {
        responseId: `resp_a${turn}`,
        input: [{ type: "message", role: "user", content: `Question ${turn}` }],
        output: answer("z".repeat(20_000), `msg_a${turn}`),
      });
    }
    assert.equal(store.has("peer-a", "resp_a99"), true, "A's newest is kept");
    assert.equal(store.has("peer-a", "resp_a0"), false, "A's oldest went");
    assert.ok(store.bytes <= store.maxBytes);
    const next = await store.expand("peer-b", {
      input: "Which number?",
      previous_response_id: "resp_b1",
    });
    assert.match(JSON.stringify(next.body.input), /Remember 42/);
    const filled = await store.expand("peer-b", {
      input: [{ type: "item_reference", id: "msg_b1" }],
    });
    assert.equal(filled.filledItems, 1);
  });

  it("defect 5: a 65-byte previous_response_id request that would expand to 55 MiB is refused with 413 in under 100 ms, before any stored turn is read", async () => {
    const report = await runStoreChild("chain");
    const limit = report.limit as number;
    for (const kind of ["raw", "parsed"]) {
      const refusal = report[kind] as Refusal;
      assertTooLarge(refusal, limit);
      assert.equal(refusal.error!.param, "previous_response_id");
      console.log(
        `defect 5 (${kind} turns): ${refusal.requestBytes}-byte request, ${
          (refusal.storeBytesBefore! / MiB).toFixed(0)
        } MiB stored, refused in ${refusal.ms.toFixed(1)} ms, heap +${
          (refusal.heapGrowth / MiB).toFixed(2)
        } MiB`,
      );
      assert.ok(refusal.requestBytes < 70);
      assert.ok(refusal.storeBytesBefore! > 55 * MiB);
      assert.ok(refusal.ms < 100, `${kind}: refused in ${refusal.ms} ms`);
      assert.ok(refusal.heapGrowth < 10 * MiB, `heap +${refusal.heapGrowth}`);
      // Counted from the stored text's length: nothing was read or parsed.
      assert.equal(refusal.storeBytesAfter, refusal.storeBytesBefore);
    }
  });

  it("writes a body filled in from the store with yields, and keeps no turn past the buyer's share: 40 references to a stored 1 MB item, 40 MB upstream", async () => {
    const store = new ResponseStore();
    store.put("A", {
      responseId: "resp_1",
      input: [],
      output: [{
        type: "message",
        id: "msg_big",
        role: "assistant",
        content: [{ type: "output_text", text: "x".repeat(MiB) }],
      }],
    });
    const body = encoder.encode(JSON.stringify({
      model: "gpt-5.4",
      input: Array.from(
        { length: 40 },
        () => ({ type: "item_reference", id: "msg_big" }),
      ),
    }));
    const watch = watchEventLoop();
    const prepared = await prepareRequest(
      {
        requestId: "r1",
        method: "POST",
        path: "/v1/responses",
        headers: { "x-antseed-buyer-peer-id": "A" },
        body,
      },
      parseConfig({}),
      store,
    );
    const { turns } = watch.stop();
    assert.ok(prepared.body.length > 40 * MiB);
    // One JSON.stringify of the whole (0.3-0.6 s) let the loop turn once.
    assert.ok(turns >= 3, `the event loop turned ${turns} times`);
    // 40 MB of the turn's own input: past the buyer's share (16 MiB), it
    // would not be kept, and is not handed to the store to serialise.
    assert.ok(40 * MiB > store.maxBuyerBytes);
    assert.equal(prepared.store, undefined);
    const small = await prepareRequest(
      {
        requestId: "r2",
        method: "POST",
        path: "/v1/responses",
        headers: { "x-antseed-buyer-peer-id": "A" },
        body: encoder.encode(JSON.stringify({
          model: "gpt-5.4",
          input: [{ type: "item_reference", id: "msg_big" }],
        })),
      },
      parseConfig({}),
      store,
    );
    assert.equal(small.store?.input.length, 1);
  });
});
