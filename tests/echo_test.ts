// What a buyer gets back of what it sent: the Response object echoes
// `prompt_cache_key`, `previous_response_id`, `store` and `instructions` as
// the buyer sent them (as api.openai.com does), not what went upstream (the
// buyer-scoped key, no previous_response_id, store false, the provider's
// default or folded instructions): in the lifecycle events of a stream, in
// the JSON answer, and through the official `openai` SDK.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { type EchoFields, EchoRewriter } from "../src/codex/echo.ts";
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
import { MODEL, withServe } from "./fixtures/real_clients.ts";

const ACCOUNT = "acct_echo";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const LIFECYCLE = new Set([
  "response.created",
  "response.in_progress",
  "response.completed",
  "response.failed",
  "response.incomplete",
]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
    OPENAI_RESPONSES_DEFAULT_INSTRUCTIONS: "The seller's default text.",
  }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), onLog: () => {} });
}

type Json = Record<string, unknown>;

/** The Response objects of a stream's lifecycle events, by event name. */
function lifecycleResponses(text: string): [string, Json][] {
  const found: [string, Json][] = [];
  for (const frame of text.split("\n\n")) {
    const event = /^event: (.*)$/m.exec(frame)?.[1];
    if (!event || !LIFECYCLE.has(event)) continue;
    const data = frame.split("\n").find((line) => line.startsWith("data: "));
    found.push([event, JSON.parse(data!.slice(6)).response]);
  }
  return found;
}

/** The echoed members of a Response object. */
function echoed(response: Json): Json {
  return {
    instructions: response.instructions,
    previous_response_id: response.previous_response_id,
    prompt_cache_key: response.prompt_cache_key,
    store: response.store,
  };
}

async function ask(
  p: OpenAIResponsesProvider,
  body: Json,
): Promise<{ status: number; text: string }> {
  const result = await callProvider(p, {
    body: { model: "gpt-5.4", input: "Hi", ...body },
  });
  assert.equal(result.status, 200, result.text);
  return result;
}

describe("a streaming buyer's lifecycle events", () => {
  it("echo its prompt_cache_key, store true and no instructions in created, in_progress and completed", async () => {
    const { text } = await ask(provider(), {
      prompt_cache_key: "conv-1",
      stream: true,
    });
    const events = lifecycleResponses(text);
    assert.deepEqual(events.map(([event]) => event), [
      "response.created",
      "response.in_progress",
      "response.completed",
    ]);
    for (const [event, response] of events) {
      assert.deepEqual(echoed(response), {
        instructions: null,
        previous_response_id: null,
        prompt_cache_key: "conv-1",
        store: true,
      }, event);
    }
    assert.equal(text.includes("The seller's default text."), false);
  });

  it("echo previous_response_id, the buyer's instructions and store false as sent", async () => {
    const p = provider();
    const first = JSON.parse((await ask(p, {})).text);
    const { text } = await ask(p, {
      previous_response_id: first.id,
      instructions: "Be brief.",
      stream: true,
    });
    for (const [event, response] of lifecycleResponses(text)) {
      assert.deepEqual(echoed(response), {
        instructions: "Be brief.",
        previous_response_id: first.id,
        prompt_cache_key: null,
        store: true,
      }, event);
    }
    const unstored = await ask(p, { store: false, stream: true });
    for (const [event, response] of lifecycleResponses(unstored.text)) {
      assert.equal(response.store, false, event);
    }
  });

  it("echo in response.failed and response.incomplete", async () => {
    const p = provider();
    backend.enqueue({ kind: "failed", code: "server_is_overloaded" });
    backend.enqueue({ kind: "incomplete" });
    for (const terminal of ["response.failed", "response.incomplete"]) {
      const { text } = await ask(p, {
        prompt_cache_key: "conv-2",
        stream: true,
      });
      const events = lifecycleResponses(text);
      assert.equal(events.at(-1)![0], terminal);
      for (const [event, response] of events) {
        assert.equal(response.prompt_cache_key, "conv-2", event);
        assert.equal(response.store, true, event);
      }
    }
  });

  it("echo in the response.failed the relay appends to a stream the backend cut off", async () => {
    backend.enqueue({ kind: "truncated" });
    const { text } = await ask(provider(), {
      prompt_cache_key: "conv-3",
      instructions: "Be brief.",
      stream: true,
    });
    const [event, response] = lifecycleResponses(text).at(-1)!;
    assert.equal(event, "response.failed");
    assert.equal(
      (response.error as Json).code,
      "upstream_stream_incomplete",
    );
    assert.deepEqual(echoed(response), {
      instructions: "Be brief.",
      previous_response_id: null,
      prompt_cache_key: "conv-3",
      store: true,
    });
  });

  it("leave the delta events' bytes as the backend sent them", async () => {
    backend.enqueue({ kind: "text", text: "One two three four five" });
    const { text } = await ask(provider(), { stream: true });
    const deltas = text.split("\n\n").filter((frame) =>
      frame.startsWith("event: response.output_text.delta")
    );
    assert.ok(deltas.length > 1);
    for (const frame of deltas) {
      assert.match(
        frame,
        /^event: response\.output_text\.delta\ndata: \{"type":"response\.output_text\.delta","sequence_number":\d+,/,
      );
    }
  });
});

describe("a non-streaming buyer's JSON answer", () => {
  it("echoes its own fields, not the upstream ones", async () => {
    const p = provider();
    const first = JSON.parse(
      (await ask(p, { prompt_cache_key: "conv-3" })).text,
    );
    assert.deepEqual(echoed(first), {
      instructions: null,
      previous_response_id: null,
      prompt_cache_key: "conv-3",
      store: true,
    });
    const second = JSON.parse(
      (await ask(p, {
        previous_response_id: first.id,
        input: [
          { role: "system", content: "Folded into instructions upstream." },
          { role: "user", content: "Hi" },
        ],
        store: false,
      })).text,
    );
    assert.deepEqual(echoed(second), {
      instructions: null,
      previous_response_id: first.id,
      prompt_cache_key: null,
      store: false,
    });
  });
});

/**
 * Pushes `bytes` to a rewriter in two chunks, cut at every byte in turn,
 * then finishes it: asserts each output is `whole`.
 */
function assertEveryCut(
  fields: EchoFields,
  bytes: Uint8Array,
  whole: string,
  label = "",
): void {
  for (let cut = 1; cut < bytes.length; cut++) {
    const rewriter = new EchoRewriter(fields);
    const out = decoder.decode(rewriter.push(bytes.subarray(0, cut))) +
      decoder.decode(rewriter.push(bytes.subarray(cut)));
    assert.equal(out, whole, `cut at ${cut}${label}`);
  }
}

describe("the echo rewriter", () => {
  const fields: EchoFields = {
    instructions: "Be brief.",
    previousResponseId: "resp_prev",
    promptCacheKey: "conv-1",
    store: true,
  };
  const response = (status: string, extra = "") =>
    `{"id":"resp_1","object":"response","status":"${status}","instructions":"The seller's default text.","output":[${extra}],"previous_response_id":null,"prompt_cache_key":"5d1c8a4e-0000-4000-8000-000000000000","store":false,"tools":[{"type":"function","name":"f","parameters":{"properties":{"store":false}}}],"usage":null}`;
  const frame = (type: string, data: string) =>
    `event: ${type}\ndata: ${data}\n\n`;
  const stream = [
    frame(
      "response.created",
      `{"type":"response.created","sequence_number":0,"response":${
        response("in_progress")
      }}`,
    ),
    frame(
      "response.in_progress",
      `{"type":"response.in_progress","sequence_number":1,"response":${
        response("in_progress")
      }}`,
    ),
    frame(
      "response.output_text.delta",
      '{"type":"response.output_text.delta","sequence_number":2,"delta":"\\"response\\":{\\"store\\":false}"}',
    ),
    frame(
      "response.output_text.delta",
      '{"type":"response.output_text.delta","sequence_number":3,"delta":"event: response.completed"}',
    ),
    frame(
      "response.completed",
      `{"type":"response.completed","sequence_number":4,"response":${
        response(
          "completed",
          '{"type":"message","content":[{"type":"output_text","text":"\\"store\\":false}"}]}',
        )
      }}`,
    ),
  ].join("");
  const whole = decoder.decode(
    new EchoRewriter(fields).push(encoder.encode(stream)),
  );

  it("sets the four members of the Response at its top level only", () => {
    const frames = whole.split("\n\n").filter((part) => part !== "");
    assert.equal(frames.length, 5);
    const parsed = frames.map((part) =>
      JSON.parse(part.split("\n")[1].slice(6))
    );
    for (const index of [0, 1, 4]) {
      const response = parsed[index].response;
      assert.deepEqual(echoed(response), {
        instructions: "Be brief.",
        previous_response_id: "resp_prev",
        prompt_cache_key: "conv-1",
        store: true,
      });
      assert.deepEqual(response.tools[0].parameters, {
        properties: { store: false },
      });
    }
    assert.equal(
      parsed[4].response.output[0].content[0].text,
      '"store":false}',
    );
    assert.equal(parsed[2].delta, '"response":{"store":false}');
    assert.equal(parsed[3].delta, "event: response.completed");
  });

  it("gives the same bytes whatever the chunks (split at every byte, and byte by byte)", () => {
    const bytes = encoder.encode(stream);
    assertEveryCut(fields, bytes, whole);
    const rewriter = new EchoRewriter(fields);
    let out = "";
    for (let at = 0; at < bytes.length; at++) {
      out += decoder.decode(rewriter.push(bytes.subarray(at, at + 1)), {
        stream: true,
      });
    }
    out += decoder.decode();
    assert.equal(out, whole);
  });

  it("gives the same bytes for CRLF streams cut in random places", () => {
    const crlf = encoder.encode(stream.replaceAll("\n", "\r\n"));
    const reference = decoder.decode(new EchoRewriter(fields).push(crlf));
    assert.equal(reference.split('"prompt_cache_key":"conv-1"').length, 4);
    let seed = 7;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let round = 0; round < 300; round++) {
      const cuts = Array.from(
        { length: 1 + Math.floor(random() * 6) },
        () => Math.floor(random() * crlf.length),
      ).sort((a, b) => a - b);
      const rewriter = new EchoRewriter(fields);
      let out = "";
      let from = 0;
      for (const cut of [...cuts, crlf.length]) {
        out += decoder.decode(rewriter.push(crlf.subarray(from, cut)), {
          stream: true,
        });
        from = cut;
      }
      out += decoder.decode();
      assert.equal(out, reference, `cuts ${cuts.join(",")}`);
    }
  });

  it("returns a chunk of deltas as it is", () => {
    const rewriter = new EchoRewriter(fields);
    rewriter.push(
      encoder.encode(
        stream.slice(0, stream.indexOf("event: response.output_text.delta")),
      ),
    );
    const deltas = encoder.encode(
      frame(
        "response.output_text.delta",
        '{"type":"response.output_text.delta","sequence_number":2,"delta":"Hi"}',
      ).repeat(3),
    );
    assert.equal(rewriter.push(deltas), deltas);
  });

  it("rewrites events without an event line, with CRLF line ends, or with several data lines", () => {
    const cases = [
      `data: {"type":"response.created","response":{"id":"r","store":false}}\n\n`,
      `event: response.created\r\ndata: {"type":"response.created","response":{"id":"r","store":false}}\r\n\r\n`,
      `event: response.created\ndata: {"type":"response.created",\ndata: "response":{"id":"r","store":false}}\n\n`,
    ];
    for (const text of cases) {
      const out = decoder.decode(
        new EchoRewriter(fields).push(encoder.encode(text)),
      );
      const data = out.split(/\r?\n/).filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim()).join("\n");
      const echoedFields = echoed(JSON.parse(data).response);
      assert.deepEqual(echoedFields, {
        instructions: "Be brief.",
        previous_response_id: "resp_prev",
        prompt_cache_key: "conv-1",
        store: true,
      }, text);
    }
  });

  it("passes on the start of an event cut before its name ends, and the next chunk as it is", () => {
    const rewriter = new EchoRewriter(fields);
    const head = stream.indexOf("event: response.output_text.delta");
    const first = encoder.encode(
      stream.slice(0, head + "event: response.".length),
    );
    const out = rewriter.push(first);
    // Both lifecycle events rewritten, and the start of the delta after them.
    assert.ok(decoder.decode(out).endsWith("\n\nevent: response."));
    const rest = encoder.encode(
      stream.slice(
        head + "event: response.".length,
        stream.indexOf(
          "event: response.completed\ndata",
        ),
      ),
    );
    assert.equal(rewriter.push(rest), rest);
  });

  it("gives the same bytes for events of several data lines, however framed, whatever the chunks", () => {
    const data = (type: string, status: string) => [
      `{"type":"${type}","sequence_number":0,`,
      `"response":${response(status)}}`,
    ];
    const forms = [
      (type: string, lines: string[], end: string) =>
        `event: ${type}${end}${
          lines.map((l) => `data: ${l}`).join(end)
        }${end}${end}`,
      (type: string, lines: string[], end: string) =>
        `event:${type}${end}${
          lines.map((l) => `data:${l}`).join(end)
        }${end}${end}`,
      (_type: string, lines: string[], end: string) =>
        `${lines.map((l) => `data: ${l}`).join(end)}${end}${end}`,
      (_type: string, lines: string[], end: string) =>
        `${lines.map((l) => `data:${l}`).join(end)}${end}${end}`,
    ];
    for (const form of forms) {
      for (const end of ["\n", "\r\n"]) {
        const text = form(
          "response.created",
          data("response.created", "in_progress"),
          end,
        ) +
          frame(
            "response.output_text.delta",
            '{"type":"response.output_text.delta","sequence_number":1,"delta":"Hi"}',
          ) +
          form(
            "response.completed",
            data("response.completed", "completed"),
            end,
          );
        const bytes = encoder.encode(text);
        const reference = decoder.decode(new EchoRewriter(fields).push(bytes));
        assert.equal(
          reference.split('"prompt_cache_key":"conv-1"').length,
          3,
          reference,
        );
        assertEveryCut(fields, bytes, reference, `: ${JSON.stringify(text)}`);
      }
    }
  });

  it("keeps the seller's subscription out of an error event, whatever the chunks", () => {
    // As the backend sends it (public reports): the seller's x-codex-*
    // headers ride along.
    const limit =
      '{"type":"error","sequence_number":2,"status_code":429,"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"pro","resets_at":1777972827,"eligible_promo":null,"resets_in_seconds":600},"headers":{"X-Codex-Plan-Type":"pro","X-Codex-Primary-Used-Percent":"100","X-Codex-Credits-Balance":"12"}}';
    for (const end of ["\n", "\r\n"]) {
      const text =
        stream.slice(0, stream.indexOf("event: response.completed\ndata"))
          .replaceAll("\n", end) +
        `event: error${end}data: ${limit}${end}${end}`;
      const bytes = encoder.encode(text);
      const reference = decoder.decode(new EchoRewriter(fields).push(bytes));
      const data = reference.split(/\r?\n/).filter((line) =>
        line.startsWith("data: ")
      ).at(-1)!;
      assert.deepEqual(JSON.parse(data.slice(6)), {
        type: "error",
        sequence_number: 2,
        status_code: 429,
        error: {
          type: "usage_limit_reached",
          message: "The usage limit has been reached",
          resets_at: 1777972827,
          resets_in_seconds: 600,
        },
      });
      assertEveryCut(fields, bytes, reference);
    }
    // Nothing of the seller's in it: the event passes as it came.
    const plain = encoder.encode(
      'event: error\ndata: {"type":"error","error":{"type":"server_error","message":"Try again"}}\n\n',
    );
    const rewriter = new EchoRewriter(fields);
    rewriter.push(
      encoder.encode(
        stream.slice(0, stream.indexOf("event: response.output_text.delta")),
      ),
    );
    assert.equal(rewriter.push(plain), plain);
    // An error event of the API's own shape, members at its top level.
    const flat = new EchoRewriter(fields).push(encoder.encode(
      'event: error\ndata: {"type":"error","code":"usage_limit_reached","message":"Try again","param":null,"resets_in_seconds":3600,"resets_at":1900000000,"plan_type":"pro"}\n\n',
    ));
    // The reset times stay: the buyer's, and the relay's own observation
    // reads the bytes the buyer got.
    assert.equal(
      decoder.decode(flat),
      'event: error\ndata: {"type":"error","code":"usage_limit_reached","message":"Try again","param":null,"resets_in_seconds":3600,"resets_at":1900000000}\n\n',
    );
  });

  it("keeps the seller's subscription out of a failed Response's error, and echoes the buyer's fields in it, whatever the chunks", () => {
    const failed =
      '{"type":"response.failed","sequence_number":3,"response":{"id":"resp_f","object":"response","status":"failed","error":{"code":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"pro","eligible_promo":null,"resets_in_seconds":600},"instructions":"The seller\'s","store":false,"output":[]}}';
    const text =
      stream.slice(0, stream.indexOf("event: response.output_text.delta")) +
      `event: response.failed\ndata: ${failed}\n\n`;
    const bytes = encoder.encode(text);
    const reference = decoder.decode(new EchoRewriter(fields).push(bytes));
    const data = reference.split("\n").filter((line) =>
      line.startsWith("data: ")
    ).at(-1)!;
    const response = JSON.parse(data.slice(6)).response;
    assert.deepEqual(response.error, {
      code: "usage_limit_reached",
      message: "The usage limit has been reached",
      resets_in_seconds: 600,
    });
    assert.equal(response.status, "failed");
    assert.equal(response.instructions, fields.instructions);
    assert.equal(response.store, fields.store);
    assertEveryCut(fields, bytes, reference);
  });

  it("gives the same bytes for an event that parsing reorders, whatever the chunks", () => {
    // `type` named twice: framed again it would begin otherwise, so it is
    // left as it came, cut or not.
    const text =
      'data: {"type":"response.created","type":"x","response":{"id":"r","store":false},"sequence_number":0}\n\n';
    const bytes = encoder.encode(text);
    const whole = decoder.decode(new EchoRewriter(fields).push(bytes));
    assert.equal(whole, text);
    assertEveryCut(fields, bytes, whole);
  });

  it("never passes on an event the stream cuts off, but for a head that went before", () => {
    // Unchanged it would say what went upstream (the seller's instructions,
    // the plan); a buyer's parser drops an event without its blank line.
    const cuts = [
      'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r","instructions":"The seller\'s","sto',
      'event: error\ndata: {"type":"error","error":{"type":"usage_limit_reached","plan_type":"pro"',
    ];
    for (const cut of cuts) {
      const rewriter = new EchoRewriter(fields);
      assert.equal(rewriter.push(encoder.encode(cut)).length, 0);
      // Its start cut by a chunk before the name ended: passed on at once,
      // the rest never.
      const split = new EchoRewriter(fields);
      const at = cut.indexOf(":") + 3;
      assert.equal(
        decoder.decode(split.push(encoder.encode(cut.slice(0, at)))),
        cut.slice(0, at),
      );
      assert.equal(split.push(encoder.encode(cut.slice(at))).length, 0);
    }
  });

  it("gives the bytes of the event parsed, echoed and stringified again, whatever the Response and the chunks", () => {
    let seed = 3;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const pick = <T>(items: readonly T[]): T =>
      items[Math.floor(random() * items.length)];
    // Around 32 bytes, where a string stops being ended by the short loop.
    const text = () => {
      const pieces = ['"', "\\", '\\"', "é", "😀", "}", "\n", "a", "store"];
      let out = "";
      const length = pick([0, 5, 30, 31, 32, 33, 34, 60]);
      while (out.length < length) out += pick(pieces);
      return out;
    };
    const value = (depth: number): unknown => {
      const kind = random();
      if (depth > 2 || kind < 0.5) {
        return pick([null, true, false, 0, -12.5, 1767225600, text()]);
      }
      if (kind < 0.75) return [value(depth + 1), value(depth + 1)];
      return object(depth + 1);
    };
    const keys = [
      "instructions",
      "previous_response_id",
      "prompt_cache_key",
      "store",
      "id",
      "output",
      "tools",
      'a "quoted" key',
    ];
    // Each key at most once (a parse keeps only the last of several).
    const object = (depth: number): Json => {
      const out: Json = {};
      if (random() < 0.1) return out;
      for (const key of keys) {
        if (random() < 0.5) out[key] = value(depth);
      }
      return out;
    };
    const lifecycle = (
      type: string,
      response: Json,
      lineEnd: string,
      named: boolean,
    ) => {
      const data = JSON.stringify({ type, sequence_number: 0, response });
      return named
        ? `event: ${type}${lineEnd}data: ${data}${lineEnd}${lineEnd}`
        : `data: ${data}${lineEnd}${lineEnd}`;
    };
    for (let round = 0; round < 300; round++) {
      const sent: EchoFields = {
        instructions: pick([null, "Be brief.", text()]),
        previousResponseId: pick([null, "resp_prev"]),
        promptCacheKey: pick([null, "conv-1", text()]),
        store: random() < 0.5,
      };
      const lineEnd = pick(["\n", "\r\n"]);
      const responses = [object(0), object(0), object(0)];
      const named = responses.map(() => random() < 0.5);
      const delta = `event: response.output_text.delta${lineEnd}data: ${
        JSON.stringify({
          type: "response.output_text.delta",
          delta: text(),
        })
      }${lineEnd}${lineEnd}`;
      const types = [
        "response.created",
        "response.in_progress",
        pick(["response.completed", "response.failed", "response.incomplete"]),
      ];
      const stream = (echo: boolean) =>
        types.map((type, index) => {
          const response = echo ? { ...responses[index] } : responses[index];
          if (echo) {
            response.instructions = sent.instructions;
            response.previous_response_id = sent.previousResponseId;
            response.prompt_cache_key = sent.promptCacheKey;
            response.store = sent.store;
          }
          return lifecycle(type, response, lineEnd, named[index]) +
            (index === 1 ? delta.repeat(2) : "");
        }).join("");
      const bytes = encoder.encode(stream(false));
      const cuts = Array.from(
        { length: Math.floor(random() * 4) },
        () => Math.floor(random() * bytes.length),
      ).sort((a, b) => a - b);
      const rewriter = new EchoRewriter(sent);
      let out = "";
      let from = 0;
      for (const cut of [...cuts, bytes.length]) {
        out += decoder.decode(rewriter.push(bytes.slice(from, cut)), {
          stream: true,
        });
        from = cut;
      }
      out += decoder.decode();
      assert.equal(
        out,
        stream(true),
        `round ${round}, cuts ${cuts.join(",")}`,
      );
    }
  });
});

describe("the official openai SDK", () => {
  it("sees its own prompt_cache_key, previous_response_id, store and instructions", async () => {
    await withServe({}, async (harness) => {
      const client = new OpenAI({
        baseURL: harness.v1Url,
        apiKey: "buyer-key",
        maxRetries: 0,
        timeout: 20_000,
      });
      const first = await client.responses.create({
        model: MODEL,
        input: "Hi",
        prompt_cache_key: "sdk-conv",
      });
      // `store` is not in the SDK's type, but in the object it returns.
      assert.deepEqual(echoed(first as unknown as Json), {
        instructions: null,
        previous_response_id: null,
        prompt_cache_key: "sdk-conv",
        store: true,
      });
      const stream = await client.responses.create({
        model: MODEL,
        input: "And again",
        previous_response_id: first.id,
        instructions: "Be brief.",
        stream: true,
      });
      const seen: Json[] = [];
      for await (const event of stream) {
        if ("response" in event) seen.push(event.response as unknown as Json);
      }
      assert.ok(seen.length >= 3);
      for (const response of seen) {
        assert.deepEqual(echoed(response), {
          instructions: "Be brief.",
          previous_response_id: first.id,
          prompt_cache_key: null,
          store: true,
        });
      }
    });
  });
});
