// What today's clients send, through the provider against the simulated
// backend: compressed bodies, conversations that refer back (store,
// previous_response_id, item_reference), Codex CLI identity headers, model
// gating by client version, keep-alives in a silent stream, effort aliases,
// the dropped-parameters header.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createProvider,
  DROPPED_HEADER,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import {
  callProvider as callThroughNode,
  parseBilledUsage,
} from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { loadClientFixture } from "./fixtures/clients.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const encoder = new TextEncoder();

/** The node's own routing (the model named in a JSON body) is not under test here. */
function callProvider(
  ...[p, request]: Parameters<typeof callThroughNode>
): ReturnType<typeof callThroughNode> {
  return callThroughNode(p, request, {
    skipRouting: true,
    buyerPeerId: request.headers?.["x-antseed-buyer-peer-id"],
  });
}

let backend: FakeCodexBackend;

function provider(
  config: Record<string, string> = {},
  warnings: string[] = [],
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ...config,
  }, {
    tokenSource: fixedTokens(ACCOUNT, TOKEN),
    random: () => 0,
    onWarning: (message) => warnings.push(message),
  });
}

function posts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function lastBody(): Record<string, unknown> {
  return posts().at(-1)!.body as Record<string, unknown>;
}

async function compress(
  format: "gzip" | "deflate",
  bytes: Uint8Array,
): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream(format));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => {
  backend.reset();
});

describe("compressed request bodies", () => {
  it("decodes the Codex CLI's zstd body before anything else", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-openai-auth-zstd-3.json",
    );
    const result = await callProvider(provider(), {
      headers: {
        "content-type": "application/json",
        "content-encoding": "zstd",
      },
      body: fixture.bodyBytes(),
    });
    assert.equal(result.status, 200, result.text);
    const sent = lastBody();
    assert.equal(sent.model, fixture.body!.model);
    assert.equal(sent.store, false);
    assert.equal(posts().at(-1)!.headers["content-encoding"], undefined);
  });

  for (const format of ["gzip", "deflate"] as const) {
    it(`decodes a ${format} body`, async () => {
      const body = await compress(
        format,
        encoder.encode(JSON.stringify({ model: "gpt-5.4", input: "Hi" })),
      );
      const result = await callProvider(provider(), {
        headers: {
          "content-type": "application/json",
          "Content-Encoding": format,
        },
        body,
      });
      assert.equal(result.status, 200, result.text);
      assert.equal(lastBody().input, "Hi");
    });
  }

  it("decodes a list of codings in reverse order", async () => {
    const once = await compress(
      "gzip",
      encoder.encode(JSON.stringify({ model: "gpt-5.4", input: "Twice" })),
    );
    const result = await callProvider(provider(), {
      headers: { "content-encoding": "gzip, deflate" },
      body: await compress("deflate", once),
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(lastBody().input, "Twice");
  });

  it("answers 413 to a body that decodes past the limit, without the backend", async () => {
    const zeros = await compress("gzip", new Uint8Array(4 * 1024 * 1024));
    const result = await callProvider(
      provider({ OPENAI_RESPONSES_MAX_BODY_BYTES: "1048576" }),
      { headers: { "content-encoding": "gzip" }, body: zeros },
    );
    assert.equal(result.status, 413, result.text);
    assert.equal(JSON.parse(result.text).error.code, "request_too_large");
    assert.equal(posts().length, 0);
  });

  it("answers 415 to an unknown encoding and 400 to a corrupt body", async () => {
    const unknown = await callProvider(provider(), {
      headers: { "content-encoding": "br" },
      body: encoder.encode("{}"),
    });
    assert.equal(unknown.status, 415, unknown.text);
    assert.equal(
      JSON.parse(unknown.text).error.code,
      "unsupported_content_encoding",
    );
    assert.match(unknown.headers["accept-encoding"] ?? "", /zstd/);
    const corrupt = await callProvider(provider(), {
      headers: { "content-encoding": "gzip" },
      body: encoder.encode("not gzip at all"),
    });
    assert.equal(corrupt.status, 400, corrupt.text);
    assert.equal(JSON.parse(corrupt.text).error.code, "invalid_body_encoding");
    assert.equal(posts().length, 0);
  });
});

describe("conversations that refer back", () => {
  const BUYER_A = { "x-antseed-buyer-peer-id": "peer-a" };
  const BUYER_B = { "x-antseed-buyer-peer-id": "peer-b" };

  async function turn(
    p: OpenAIResponsesProvider,
    body: Record<string, unknown>,
    headers: Record<string, string> = BUYER_A,
  ) {
    const result = await callProvider(p, { headers, body });
    return { result, json: JSON.parse(result.text) };
  }

  it("expands previous_response_id into the input over three turns, as OpenAI keeps it", async () => {
    const p = provider();
    backend.enqueue({ kind: "text", text: "First answer" });
    const one = await turn(p, { model: "gpt-5.4", input: "First question" });
    assert.equal(one.result.status, 200, one.result.text);
    backend.enqueue({ kind: "text", text: "Second answer" });
    const two = await turn(p, {
      model: "gpt-5.4",
      input: "Second question",
      previous_response_id: one.json.id,
    });
    assert.equal(two.result.status, 200, two.result.text);
    const three = await turn(p, {
      model: "gpt-5.4",
      input: "Third question",
      previous_response_id: two.json.id,
      instructions: "Only this turn's instructions",
    });
    assert.equal(three.result.status, 200, three.result.text);
    const sent = lastBody();
    assert.equal(sent.previous_response_id, undefined);
    assert.equal(sent.instructions, "Only this turn's instructions");
    const text = JSON.stringify(sent.input);
    const order = [
      "First question",
      "First answer",
      "Second question",
      "Second answer",
      "Third question",
    ].map((needle) => text.indexOf(needle));
    assert.ok(order.every((at) => at >= 0), text);
    assert.deepEqual([...order].sort((a, b) => a - b), order, text);
  });

  it("stores a streamed turn too", async () => {
    const p = provider();
    backend.enqueue({ kind: "text", text: "Streamed answer" });
    const one = await callProvider(p, {
      headers: BUYER_A,
      body: { model: "gpt-5.4", input: "Question", stream: true },
    });
    const id = /"id":"(resp_[^"]+)"/.exec(one.text)?.[1];
    assert.ok(id, one.text);
    const two = await turn(p, {
      model: "gpt-5.4",
      input: "Next",
      previous_response_id: id,
    });
    assert.equal(two.result.status, 200, two.result.text);
    assert.match(JSON.stringify(lastBody().input), /Streamed answer/);
  });

  it("keeps a streamed conversation whole over three turns: the third sees the first", async () => {
    const p = provider();
    let previous: string | undefined;
    for (
      const [question, answer] of [["First question", "First answer"], [
        "Second question",
        "Second answer",
      ], ["Third question", "Third answer"]]
    ) {
      backend.enqueue({ kind: "text", text: answer });
      const body: Record<string, unknown> = {
        model: "gpt-5.4",
        input: question,
        stream: true,
      };
      if (previous) body.previous_response_id = previous;
      const result = await callProvider(p, { headers: BUYER_A, body });
      assert.equal(result.status, 200, result.text);
      previous = /"id":"(resp_[^"]+)"/.exec(result.text)?.[1];
      assert.ok(previous, result.text);
    }
    const text = JSON.stringify(lastBody().input);
    const order = [
      "First question",
      "First answer",
      "Second question",
      "Second answer",
      "Third question",
    ].map((needle) => text.indexOf(needle));
    assert.ok(order.every((at) => at >= 0), text);
    assert.deepEqual([...order].sort((a, b) => a - b), order, text);
  });

  it("refuses with 413 a request whose own bytes and the stored items it refers to pass the body limit", async () => {
    const p = provider({ OPENAI_RESPONSES_MAX_BODY_BYTES: "300000" });
    const item = {
      id: "msg_note",
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "n".repeat(100_000) }],
    };
    const one = await turn(p, { model: "gpt-5.4", input: [item] });
    assert.equal(one.result.status, 200, one.result.text);
    const reference = { type: "item_reference", id: "msg_note" };
    const two = await turn(p, { model: "gpt-5.4", input: [reference] });
    assert.equal(two.result.status, 200, two.result.text);
    const long = {
      type: "message",
      role: "user",
      content: "l".repeat(150_000),
    };
    const { result, json } = await turn(p, {
      model: "gpt-5.4",
      input: [long, reference, reference],
    });
    assert.equal(result.status, 413, result.text.slice(0, 300));
    assert.equal(json.error.code, "request_too_large");
    // Refused by the store's count, before it parsed what it would fill in
    // (the upstream body's own check would refuse it too, after).
    assert.match(
      json.error.message,
      /at most 300000 bytes once its item_reference items are filled in/,
    );
    assert.equal(posts().length, 2);
  });

  it("answers 400 previous_response_not_found for an unknown id, with how long responses are kept", async () => {
    const { result, json } = await turn(provider(), {
      model: "gpt-5.4",
      input: "Hi",
      previous_response_id: "resp_never_seen",
    });
    assert.equal(result.status, 400);
    assert.equal(json.error.code, "previous_response_not_found");
    assert.match(
      json.error.message,
      /^Previous response with id 'resp_never_seen' not found\./,
    );
    assert.match(json.error.message, /60 minutes/);
    assert.equal(posts().length, 0);
  });

  it("never resolves another buyer's response", async () => {
    const p = provider();
    const one = await turn(p, { model: "gpt-5.4", input: "Secret of A" });
    const { result, json } = await turn(p, {
      model: "gpt-5.4",
      input: "Hi",
      previous_response_id: one.json.id,
    }, BUYER_B);
    assert.equal(result.status, 400);
    assert.equal(json.error.code, "previous_response_not_found");
    assert.equal(posts().length, 1);
  });

  for (const stream of [false, true]) {
    it(`continues a${stream ? " streamed" : " non-streamed"} long ASCII answer to a question with one ’ (counted at one byte a character)`, async () => {
      // A buyer's share of 100,000 bytes: 60,000 characters fit once, not
      // twice (as the default share of 16 MiB holds a 12 MB answer once).
      const p = provider({
        OPENAI_RESPONSES_STATE_MAX_BYTES: "400000",
        OPENAI_RESPONSES_STATE_BUYER_SHARE: "0.25",
      });
      const answer = "a".repeat(60_000);
      backend.enqueue({ kind: "text", text: answer });
      const one = await callProvider(p, {
        headers: BUYER_A,
        body: { model: "gpt-5.4", input: "What’s next?", stream },
      });
      assert.equal(one.status, 200);
      const id = /"id":"(resp_[^"]+)"/.exec(one.text.slice(0, 2000))?.[1];
      assert.ok(id);
      const two = await turn(p, {
        model: "gpt-5.4",
        input: "Go on",
        previous_response_id: id,
      });
      assert.equal(two.result.status, 200, two.result.text.slice(0, 500));
      const sent = JSON.stringify(lastBody().input);
      assert.ok(sent.includes("What’s next?") && sent.includes(answer));
    });
  }

  it("keeps nothing for a request that says store: false", async () => {
    const p = provider();
    const one = await turn(p, {
      model: "gpt-5.4",
      input: "Hi",
      store: false,
    });
    const two = await turn(p, {
      model: "gpt-5.4",
      input: "Hi",
      previous_response_id: one.json.id,
    });
    assert.equal(two.json.error.code, "previous_response_not_found");
  });

  it("keeps nothing when storing is off, and says so", async () => {
    const p = provider({ OPENAI_RESPONSES_STATE_MAX_BYTES: "0" });
    const one = await turn(p, { model: "gpt-5.4", input: "Hi" });
    const two = await turn(p, {
      model: "gpt-5.4",
      input: "Hi",
      previous_response_id: one.json.id,
    });
    assert.equal(two.json.error.code, "previous_response_not_found");
    assert.match(two.json.error.message, /keeps no responses/);
  });

  it("fills an item_reference to a stored reasoning item with its encrypted content", async () => {
    const p = provider();
    backend.enqueue({
      kind: "function_call",
      name: "get_weather",
      arguments: '{"city":"Paris"}',
    });
    const one = await turn(p, {
      model: "gpt-5.4",
      input: "Weather in Paris?",
      reasoning: { effort: "low" },
      tools: [{ type: "function", name: "get_weather", parameters: {} }],
    });
    assert.equal(one.result.status, 200, one.result.text);
    assert.deepEqual((posts()[0].body as Record<string, unknown>).include, [
      "reasoning.encrypted_content",
    ]);
    const reasoning = one.json.output.find((item: { type: string }) =>
      item.type === "reasoning"
    );
    const call = one.json.output.find((item: { type: string }) =>
      item.type === "function_call"
    );
    assert.ok(reasoning?.encrypted_content, JSON.stringify(one.json.output));
    const two = await turn(p, {
      model: "gpt-5.4",
      reasoning: { effort: "low" },
      input: [
        { role: "user", content: "Weather in Paris?" },
        { type: "item_reference", id: reasoning.id },
        {
          type: "function_call",
          call_id: call.call_id,
          name: call.name,
          arguments: call.arguments,
        },
        {
          type: "function_call_output",
          call_id: call.call_id,
          output: "Sunny",
        },
      ],
    });
    assert.equal(two.result.status, 200, two.result.text);
    const input = lastBody().input as Record<string, unknown>[];
    const sentReasoning = input.find((item) => item.type === "reasoning");
    assert.equal(sentReasoning?.encrypted_content, reasoning.encrypted_content);
    assert.equal(sentReasoning?.id, undefined, "no stored id goes upstream");
    assert.ok(!input.some((item) => item.type === "item_reference"));
  });

  it("drops an unknown item_reference instead of sending an id the backend rejects", async () => {
    const { result } = await turn(provider(), {
      model: "gpt-5.4",
      input: [
        { role: "user", content: "Hi" },
        { type: "item_reference", id: "rs_unknown" },
      ],
    });
    assert.equal(result.status, 200, result.text);
    assert.equal((lastBody().input as unknown[]).length, 1);
  });

  it("refuses conversation with 400 unsupported_parameter", async () => {
    const { result, json } = await turn(provider(), {
      model: "gpt-5.4",
      input: "Hi",
      conversation: "conv_1",
    });
    assert.equal(result.status, 400);
    assert.equal(json.error.code, "unsupported_parameter");
    assert.equal(posts().length, 0);
  });
});

describe("speaking as today's Codex CLI", () => {
  it("sends the originator and version of the configuration", async () => {
    await callProvider(
      provider({
        OPENAI_RESPONSES_CLIENT_VERSION: "0.180.2",
        OPENAI_RESPONSES_ORIGINATOR: "codex_exec",
      }),
      { body: { model: "gpt-5.4", input: "Hi" } },
    );
    const headers = posts()[0].headers;
    assert.equal(headers.version, "0.180.2");
    assert.equal(headers.originator, "codex_exec");
    assert.match(headers["user-agent"], /^codex_exec\/0\.180\.2 \(/);
    assert.equal(headers["openai-beta"], undefined);
  });

  it("serves a model that needs a recent client with the default version", async () => {
    const result = await callProvider(provider(), {
      body: { model: "gpt-5.6-sol", input: "Hi" },
    });
    assert.equal(result.status, 200, result.text);
  });

  it("answers 400 client_version_too_old for an old version, not blaming the buyer, and tells the seller the key", async () => {
    const warnings: string[] = [];
    const p = provider(
      { OPENAI_RESPONSES_CLIENT_VERSION: "0.120.0" },
      warnings,
    );
    for (const stream of [false, false]) {
      const result = await callProvider(p, {
        body: { model: "gpt-5.6-sol", input: "Hi", stream },
      });
      assert.equal(result.status, 400, result.text);
      const error = JSON.parse(result.text).error;
      assert.equal(error.code, "client_version_too_old");
      assert.match(error.message, /seller/);
      assert.doesNotMatch(error.message, /upgrade to the latest app/i);
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /OPENAI_RESPONSES_CLIENT_VERSION=0\.120\.0/);
  });
});

describe("long silences", () => {
  it("sends keep-alive comments between events while the backend is silent, and bills as before", async () => {
    backend.enqueue({
      kind: "text",
      text: "After a long think",
      pauseAfterEvents: 2,
      pauseMs: 700,
    });
    const result = await callProvider(
      provider({ OPENAI_RESPONSES_KEEPALIVE_MS: "200" }),
      { body: { model: "gpt-5.4", input: "Think", stream: true } },
    );
    assert.equal(result.status, 200);
    assert.deepEqual(result.violations, []);
    const comments = result.text.match(/^: keep-alive\n\n/gm) ?? [];
    assert.ok(comments.length >= 2, result.text);
    // Never inside an event: every frame is a comment or has an event line.
    for (const frame of result.text.split("\n\n").filter((f) => f !== "")) {
      assert.ok(
        frame === ": keep-alive" || frame.startsWith("event: "),
        JSON.stringify(frame),
      );
    }
    // Billed as the whole stream says, keep-alives and all.
    assert.ok(result.usage!.output > 0);
    assert.deepEqual(
      result.usage,
      parseBilledUsage({
        ...result.resolved!,
        body: new TextEncoder().encode(result.text),
      }),
    );
  });

  it("never puts a keep-alive inside an event the backend cut across two chunks", async () => {
    const encoder = new TextEncoder();
    const events = [
      'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_cut","object":"response","status":"in_progress","output":[]}}\n\n',
      'event: response.completed\ndata: {"type":"response.completed","sequence_number":1,"response":{"id":"resp_cut","object":"response","status":"completed","output":[],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}}\n\n',
    ];
    const half = events[1].length >> 1;
    const cutFetch = (() =>
      Promise.resolve(
        new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              controller.enqueue(
                encoder.encode(events[0] + events[1].slice(0, half)),
              );
              await new Promise((resolve) => setTimeout(resolve, 600));
              controller.enqueue(encoder.encode(events[1].slice(half)));
              controller.close();
            },
          }),
          { headers: { "content-type": "text/event-stream" } },
        ),
      )) as unknown as typeof fetch;
    const p = createProvider({
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_KEEPALIVE_MS: "100",
    }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), fetch: cutFetch });
    const result = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Hi", stream: true },
    });
    // The buyer's own fields echoed (src/codex/echo.ts), nothing else.
    const echoed = events.map((event) =>
      event.replace(
        /\}\}\n\n$/,
        ',"instructions":null,"previous_response_id":null,"prompt_cache_key":null,"store":true}}\n\n',
      )
    );
    assert.equal(result.text, echoed.join(""));
  });

  it("sends none when turned off", async () => {
    backend.enqueue({
      kind: "text",
      text: "Quiet",
      pauseAfterEvents: 2,
      pauseMs: 400,
    });
    const result = await callProvider(
      provider({ OPENAI_RESPONSES_KEEPALIVE_MS: "0" }),
      { body: { model: "gpt-5.4", input: "Think", stream: true } },
    );
    assert.doesNotMatch(result.text, /keep-alive/);
  });
});

describe("smaller gaps", () => {
  it("turns <model>-<effort> into that model with reasoning.effort", async () => {
    const result = await callProvider(
      provider({ ANTSEED_ALLOWED_SERVICES: "gpt-5.4-high" }),
      { body: { model: "gpt-5.4-high", input: "Hi" } },
    );
    assert.equal(result.status, 200, result.text);
    assert.equal(lastBody().model, "gpt-5.4");
    assert.deepEqual(lastBody().reasoning, { effort: "high" });
  });

  it("keeps the effort the body spells out, and splits nothing when turned off", async () => {
    await callProvider(provider(), {
      body: {
        model: "gpt-5.4-xhigh",
        input: "Hi",
        reasoning: { effort: "low" },
      },
    });
    assert.equal(lastBody().model, "gpt-5.4");
    assert.deepEqual(lastBody().reasoning, { effort: "low" });
    const off = await callProvider(
      provider({ OPENAI_RESPONSES_EFFORT_ALIASES: "false" }),
      { body: { model: "gpt-5.4-high", input: "Hi" } },
    );
    assert.equal(off.status, 400, "the backend does not know gpt-5.4-high");
    assert.equal(lastBody().model, "gpt-5.4-high");
  });

  it("never splits a service of the alias map", async () => {
    await callProvider(
      provider({
        ANTSEED_SERVICE_ALIAS_MAP_JSON: '{"fast-low":"gpt-5.4-mini"}',
      }),
      { body: { model: "fast-low", input: "Hi" } },
    );
    assert.equal(lastBody().model, "gpt-5.4-mini");
    assert.equal(lastBody().reasoning, undefined);
  });

  it("lists the parameters it removed in x-antseed-dropped-params", async () => {
    const whole = await callProvider(provider(), {
      body: {
        model: "gpt-5.4",
        input: "Hi",
        max_output_tokens: 100,
        temperature: 0.2,
      },
    });
    assert.equal(
      whole.headers[DROPPED_HEADER],
      "max_output_tokens, temperature",
    );
    const stream = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "Hi", stream: true, top_p: 0.5 },
    });
    assert.equal(stream.headers[DROPPED_HEADER], "top_p");
    const none = await callProvider(provider(), {
      body: { model: "gpt-5.4", input: "Hi" },
    });
    assert.equal(none.headers[DROPPED_HEADER], undefined);
  });
});
