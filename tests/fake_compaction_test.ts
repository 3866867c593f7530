// Compaction v2 in the simulated Codex backend, exercised with plain fetch:
// a request whose last input item is a compaction_trigger gets one
// compaction item back (and `output: []` in response.completed), and a
// compaction item sent back later is accepted only as the real backend
// accepts it (its encrypted_content, no id).

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";

const ACCOUNT = "acct_test";

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

function parseSse(text: string): SseEvent[] {
  const frames = text.split("\n\n");
  frames.pop();
  return frames.map((frame) => {
    let event = "message";
    let data = "";
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    return { event, data: JSON.parse(data) };
  });
}

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

function post(input: unknown[], extra: Record<string, unknown> = {}) {
  return fetch(backend.responsesUrl, {
    method: "POST",
    headers: {
      authorization: `Bearer ${makeAccessToken({ accountId: ACCOUNT })}`,
      "chatgpt-account-id": ACCOUNT,
      "content-type": "application/json",
      accept: "text/event-stream",
    },
    body: JSON.stringify({
      model: "gpt-5.4",
      instructions: "You are a helpful assistant.",
      input,
      store: false,
      stream: true,
      ...extra,
    }),
  });
}

const HISTORY = [
  {
    type: "message",
    role: "user",
    content: [{ type: "input_text", text: "Remember the number 42" }],
  },
  {
    type: "message",
    role: "assistant",
    content: [{ type: "output_text", text: "I will remember 42." }],
  },
];
const TRIGGER = { type: "compaction_trigger" };

async function compact(extra: Record<string, unknown> = {}) {
  const response = await post([...HISTORY, TRIGGER], extra);
  assert.equal(response.status, 200);
  return parseSse(await response.text());
}

describe("simulated backend: compaction v2", () => {
  it("answers a compaction_trigger with exactly one compaction item and an empty completed output", async () => {
    const events = await compact();
    assert.deepEqual(events.map((event) => event.event), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.output_item.done",
      "response.completed",
    ]);
    const done = events[3].data;
    const item = done.item as Record<string, unknown>;
    assert.deepEqual(Object.keys(item).sort(), [
      "encrypted_content",
      "id",
      "type",
    ]);
    assert.equal(item.type, "compaction");
    assert.match(String(item.id), /^cmp_/);
    assert.match(String(item.encrypted_content), /^gAAAAAB/);
    assert.deepEqual(events[2].data.item, item);
    assert.equal(done.output_index, 0);
    const completed = events[4].data.response as Record<string, unknown>;
    assert.deepEqual(completed.output, []);
    assert.equal(completed.status, "completed");
    assert.ok(
      (completed.usage as { input_tokens: number }).input_tokens > 0,
      JSON.stringify(completed.usage),
    );
  });

  it("compacts rather than calling a tool when the request has tools", async () => {
    const events = await compact({
      tools: [{
        type: "function",
        name: "get_weather",
        parameters: { type: "object", properties: {} },
      }],
      reasoning: { effort: "low" },
    });
    const items = events
      .filter((event) => event.event === "response.output_item.done")
      .map((event) => (event.data.item as { type: string }).type);
    assert.deepEqual(items, ["compaction"]);
  });

  it("compacts in place of a scripted text answer, with its usage", async () => {
    backend.enqueue({
      kind: "text",
      text: "Not this",
      usage: { total_tokens: 7 },
    });
    const events = await compact();
    const text = JSON.stringify(events);
    assert.doesNotMatch(text, /Not this/);
    const completed = events.at(-1)!.data.response as Record<string, unknown>;
    assert.equal((completed.usage as { total_tokens: number }).total_tokens, 7);
  });

  it("still fails a trigger request scripted to fail", async () => {
    backend.enqueue({ kind: "status", status: 503 });
    const response = await post([...HISTORY, TRIGGER]);
    assert.equal(response.status, 503);
    await response.body?.cancel();
  });

  it("gives each compaction item its own id", async () => {
    const ids = [];
    for (let turn = 0; turn < 2; turn++) {
      const events = await compact();
      ids.push((events[3].data.item as { id: string }).id);
    }
    assert.notEqual(ids[0], ids[1]);
  });

  it("answers a later turn that carries the compaction item without its id", async () => {
    const events = await compact();
    const { id: _id, ...item } = events[3].data.item as Record<string, unknown>;
    const response = await post([item, {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Which number?" }],
    }]);
    assert.equal(response.status, 200);
    const answer = parseSse(await response.text());
    assert.equal(answer.at(-1)!.event, "response.completed");
    assert.match(JSON.stringify(answer.at(-1)!.data), /Echo: Which number\?/);
  });

  it("accepts the older compaction_summary item too", async () => {
    const response = await post([{
      type: "compaction_summary",
      encrypted_content: "gAAAAABolder",
    }, { role: "user", content: "Go on" }]);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it("refuses a compaction item that keeps its id: nothing is stored with store false", async () => {
    const events = await compact();
    const item = events[3].data.item as Record<string, unknown>;
    const response = await post([item, { role: "user", content: "Go on" }]);
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(
      body.error.message,
      `Item with id '${item.id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
    );
  });

  for (const content of [undefined, "", 7]) {
    it(
      `refuses a compaction item whose encrypted_content is ${
        JSON.stringify(content) ?? "missing"
      }`,
      async () => {
        const item: Record<string, unknown> = { type: "compaction" };
        if (content !== undefined) item.encrypted_content = content;
        const response = await post([{ role: "user", content: "Hi" }, item]);
        assert.equal(response.status, 400);
        const body = await response.json();
        assert.equal(body.error.code, "missing_required_parameter");
        assert.equal(body.error.param, "input[1].encrypted_content");
        assert.equal(
          body.error.message,
          "Missing required parameter: 'input[1].encrypted_content'.",
        );
      },
    );
  }

  it("answers as usual when the trigger is not the last item", async () => {
    const response = await post([TRIGGER, ...HISTORY]);
    assert.equal(response.status, 200);
    const events = parseSse(await response.text());
    const items = events
      .filter((event) => event.event === "response.output_item.done")
      .map((event) => (event.data.item as { type: string }).type);
    assert.deepEqual(items, ["message"]);
  });
});

describe("simulated backend: a tool call's scripted usage", () => {
  it("reports the usage a function_call behaviour gives (what makes a client compact)", async () => {
    backend.enqueue({
      kind: "function_call",
      name: "get_weather",
      arguments: "{}",
      usage: { input_tokens: 50_000, output_tokens: 10, total_tokens: 50_010 },
    });
    const response = await post(HISTORY);
    const completed = parseSse(await response.text()).at(-1)!.data
      .response as Record<string, unknown>;
    const usage = completed.usage as Record<string, number>;
    assert.equal(usage.input_tokens, 50_000);
    assert.equal(usage.total_tokens, 50_010);
    assert.equal(
      (completed.output as { type: string }[])[0].type,
      "function_call",
    );
  });
});
