// The simulated Codex backend, exercised with plain fetch: it must accept and
// reject what the real backend does and answer in the real SSE shape.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_FAKE_MODELS,
  type FakeCodexBackend,
  type FakeCodexBackendOptions,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken, makeJwt } from "../src/testing/jwt.ts";
import { DEFAULT_FAKE_GATED_MODELS } from "../src/testing/fake_backend.ts";
import {
  buildUpstreamHeaders,
  encodeUpstreamBody,
  readRequestJson,
  shapeRequest,
} from "../src/codex/request.ts";
import { decodeRequestBody } from "../src/codex/content_encoding.ts";
import { loadClientFixture } from "./fixtures/clients.ts";
import { rawFrame } from "./fixtures/zstd_frames.ts";

const ACCOUNT = "acct_test";

interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** Parses complete SSE frames; a trailing partial frame is ignored. */
function parseSse(text: string): SseEvent[] {
  const frames = text.split("\n\n");
  frames.pop();
  return frames.map((frame) => {
    let event = "message";
    const data: string[] = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    return { event, data: JSON.parse(data.join("\n")) };
  });
}

async function withBackend(
  options: FakeCodexBackendOptions,
  run: (backend: FakeCodexBackend) => void | Promise<void>,
): Promise<void> {
  const backend = await startFakeCodexBackend(options);
  try {
    await run(backend);
  } finally {
    await backend.close();
  }
}

function authHeaders(
  token = makeAccessToken({ accountId: ACCOUNT }),
  accountId: string | null = ACCOUNT,
): Record<string, string> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    "content-type": "application/json",
    accept: "text/event-stream",
  };
  if (accountId !== null) headers["chatgpt-account-id"] = accountId;
  return headers;
}

function validBody(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    model: "gpt-5.4",
    instructions: "You are a helpful assistant.",
    input: [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Hello there" }],
    }],
    store: false,
    stream: true,
    ...overrides,
  };
}

interface PostOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function post(
  backend: FakeCodexBackend,
  body: unknown,
  options: PostOptions = {},
): Promise<Response> {
  return fetch(backend.responsesUrl, {
    method: "POST",
    headers: options.headers ?? authHeaders(),
    body: typeof body === "string" ? body : JSON.stringify(body),
    signal: options.signal,
  });
}

async function events(response: Response): Promise<SseEvent[]> {
  return parseSse(await response.text());
}

function types(list: SseEvent[]): string[] {
  return list.map((item) => item.event);
}

async function assertDetail(
  response: Response,
  status: number,
  detail: string,
): Promise<void> {
  assert.equal(response.status, status);
  assert.deepEqual(await response.json(), { detail });
}

/** The spec's exact 404 for an input item id never stored. */
async function assertNotPersisted(
  response: Response,
  id: string,
): Promise<void> {
  assert.equal(response.status, 404);
  assert.deepEqual(await response.json(), {
    error: {
      message:
        `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
      type: "invalid_request_error",
      param: "input",
      code: null,
    },
  });
}

/** Reads the body until `count` complete frames arrived; returns the reader and text. */
async function readFrames(
  response: Response,
  count: number,
): Promise<{ reader: ReadableStreamDefaultReader<Uint8Array>; text: string }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (text.split("\n\n").length - 1 < count) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return { reader, text };
}

async function readRest(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  while (true) {
    const { done, value } = await reader.read();
    if (done) return text;
    text += decoder.decode(value, { stream: true });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with "pending" when `promise` has not settled after `ms`. */
async function settlesWithin(
  promise: Promise<unknown>,
  ms: number,
): Promise<"settled" | "pending"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<"pending">((resolve) => {
    timer = setTimeout(() => resolve("pending"), ms);
  });
  const settled = promise.then(
    () => "settled" as const,
    () => "settled" as const,
  );
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

const TEXT_ORDER = [
  "response.created",
  "response.in_progress",
  "response.output_item.added",
  "response.content_part.added",
  ...new Array(8).fill("response.output_text.delta"),
  "response.output_text.done",
  "response.content_part.done",
  "response.output_item.done",
  "response.completed",
];

describe("fake backend routes", () => {
  it("exposes the base and responses URLs on 127.0.0.1", async () => {
    await withBackend({}, (backend) => {
      assert.match(backend.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/backend-api$/);
      assert.equal(
        backend.responsesUrl,
        `${backend.baseUrl}/codex/responses`,
      );
    });
  });

  it("answers a valid POST /codex/responses with a 200 SSE stream", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody());
      assert.equal(response.status, 200);
      assert.equal(
        response.headers.get("content-type"),
        "text/event-stream; charset=utf-8",
      );
      const list = await events(response);
      assert.equal(list.at(-1)?.event, "response.completed");
    });
  });

  it("lists the account's models on GET /codex/models", async () => {
    await withBackend({ models: ["gpt-a", "gpt-b"] }, async (backend) => {
      const response = await fetch(
        `${backend.baseUrl}/codex/models?client_version=0.50.0`,
        { headers: authHeaders() },
      );
      assert.equal(response.status, 200);
      const body = await response.json() as {
        models: { slug: string; display_name: string }[];
      };
      assert.deepEqual(body.models.map((model) => model.slug), [
        "gpt-a",
        "gpt-b",
      ]);
      for (const model of body.models) {
        assert.equal(typeof model.display_name, "string");
      }
    });
  });

  it("lists the default models when none are configured", async () => {
    await withBackend({}, async (backend) => {
      const response = await fetch(`${backend.baseUrl}/codex/models`, {
        headers: authHeaders(),
      });
      const body = await response.json() as { models: { slug: string }[] };
      assert.deepEqual(body.models.map((model) => model.slug), [
        ...DEFAULT_FAKE_MODELS,
      ]);
      assert.deepEqual([...DEFAULT_FAKE_MODELS], [
        "gpt-5.5",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.3-codex",
      ]);
    });
  });

  it("answers 404 to any other path or method", async () => {
    await withBackend({}, async (backend) => {
      const other = await fetch(`${backend.baseUrl}/codex/other`, {
        headers: authHeaders(),
      });
      await assertDetail(other, 404, "Not Found");
      const wrongMethod = await fetch(backend.responsesUrl, {
        headers: authHeaders(),
      });
      await assertDetail(wrongMethod, 404, "Not Found");
      const outside = await fetch(
        backend.baseUrl.replace("/backend-api", "/codex/responses"),
        { method: "POST", headers: authHeaders(), body: "{}" },
      );
      await assertDetail(outside, 404, "Not Found");
    });
  });
});

describe("fake backend authentication", () => {
  it("answers 401 Unauthorized without a bearer token", async () => {
    await withBackend({}, async (backend) => {
      const headers = authHeaders();
      delete headers.authorization;
      await assertDetail(
        await post(backend, validBody(), { headers }),
        401,
        "Unauthorized",
      );
    });
  });

  it("answers 401 Unauthorized to a token that is not a JWT", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody(), {
        headers: authHeaders("not-a-jwt"),
      });
      await assertDetail(response, 401, "Unauthorized");
    });
  });

  it("answers 401 Unauthorized without a chatgpt-account-id header", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody(), {
        headers: authHeaders(undefined, null),
      });
      await assertDetail(response, 401, "Unauthorized");
    });
  });

  it("answers 401 Unauthorized when the account id does not match the token", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody(), {
        headers: authHeaders(undefined, "acct_other"),
      });
      await assertDetail(response, 401, "Unauthorized");
    });
  });

  it("answers 401 token_expired to an expired JWT", async () => {
    await withBackend({}, async (backend) => {
      const expired = makeAccessToken({
        accountId: ACCOUNT,
        exp: Math.floor(Date.now() / 1000) - 10,
      });
      const response = await post(backend, validBody(), {
        headers: authHeaders(expired),
      });
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), {
        error: {
          message:
            "Provided authentication token is expired. Please try signing in again.",
          code: "token_expired",
        },
      });
    });
  });

  it("lets acceptToken decide with the token and the account id", async () => {
    const seen: [string, string | null][] = [];
    const acceptToken = (token: string, accountId: string | null) => {
      seen.push([token, accountId]);
      return token === "opaque-ok";
    };
    await withBackend({ acceptToken }, async (backend) => {
      const ok = await post(backend, validBody(), {
        headers: authHeaders("opaque-ok", null),
      });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      const refused = await post(backend, validBody(), {
        headers: authHeaders(makeAccessToken({ accountId: ACCOUNT })),
      });
      await assertDetail(refused, 401, "Unauthorized");
      assert.deepEqual(seen[0], ["opaque-ok", null]);
      assert.equal(seen[1][1], ACCOUNT);
    });
  });

  it("checks credentials before the body", async () => {
    await withBackend({}, async (backend) => {
      const headers = authHeaders();
      delete headers.authorization;
      await assertDetail(
        await post(backend, "not json", { headers }),
        401,
        "Unauthorized",
      );
    });
  });

  it("requires credentials on GET /codex/models", async () => {
    await withBackend({}, async (backend) => {
      const response = await fetch(`${backend.baseUrl}/codex/models`);
      await assertDetail(response, 401, "Unauthorized");
    });
  });
});

describe("fake backend body rules", () => {
  it("rejects a body that is not JSON", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, "{not json");
      assert.equal(response.status, 400);
      const body = await response.json() as { detail: string };
      assert.equal(typeof body.detail, "string");
      assert.match(body.detail, /JSON/);
    });
  });

  it("rejects a JSON body that is not an object", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, "[1,2]");
      assert.equal(response.status, 400);
      assert.match(
        (await response.json() as { detail: string }).detail,
        /array/,
      );
    });
  });

  it("requires non-empty instructions", async () => {
    await withBackend({}, async (backend) => {
      const missing = validBody();
      delete missing.instructions;
      await assertDetail(
        await post(backend, missing),
        400,
        "Instructions are required",
      );
      await assertDetail(
        await post(backend, validBody({ instructions: "" })),
        400,
        "Instructions are required",
      );
      await assertDetail(
        await post(backend, validBody({ instructions: 42 })),
        400,
        "Instructions are required",
      );
    });
  });

  it("requires store to be false", async () => {
    await withBackend({}, async (backend) => {
      const missing = validBody();
      delete missing.store;
      await assertDetail(
        await post(backend, missing),
        400,
        "Store must be set to false",
      );
      await assertDetail(
        await post(backend, validBody({ store: true })),
        400,
        "Store must be set to false",
      );
    });
  });

  it("requires stream to be true", async () => {
    await withBackend({}, async (backend) => {
      const missing = validBody();
      delete missing.stream;
      await assertDetail(
        await post(backend, missing),
        400,
        "Stream must be set to true",
      );
      await assertDetail(
        await post(backend, validBody({ stream: false })),
        400,
        "Stream must be set to true",
      );
    });
  });

  it("rejects every unsupported parameter by name", async () => {
    const names = [
      "max_output_tokens",
      "max_completion_tokens",
      "temperature",
      "top_p",
      "frequency_penalty",
      "presence_penalty",
      "truncation",
      "user",
      "context_management",
      "prompt_cache_retention",
      "safety_identifier",
      "stream_options",
    ];
    await withBackend({}, async (backend) => {
      for (const name of names) {
        await assertDetail(
          await post(backend, validBody({ [name]: null })),
          400,
          `Unsupported parameter: ${name}`,
        );
      }
    });
  });

  it("accepts service_tier priority and rejects any other tier", async () => {
    await withBackend({}, async (backend) => {
      const priority = await post(
        backend,
        validBody({ service_tier: "priority" }),
      );
      assert.equal(priority.status, 200);
      await priority.body?.cancel();
      await assertDetail(
        await post(backend, validBody({ service_tier: "flex" })),
        400,
        "Unsupported parameter: service_tier",
      );
    });
  });

  it("rejects system messages and accepts developer messages", async () => {
    await withBackend({}, async (backend) => {
      const system = validBody({
        input: [
          { role: "system", content: "Be terse." },
          { role: "user", content: "Hi" },
        ],
      });
      await assertDetail(
        await post(backend, system),
        400,
        "System messages are not allowed",
      );
      const developer = await post(
        backend,
        validBody({
          input: [
            { type: "message", role: "developer", content: "Be terse." },
            { role: "user", content: "Hi" },
          ],
        }),
      );
      assert.equal(developer.status, 200);
      await developer.body?.cancel();
    });
  });

  it("rejects a model the account lacks with the backend's text", async () => {
    await withBackend({ models: ["gpt-5.4"] }, async (backend) => {
      await assertDetail(
        await post(backend, validBody({ model: "gpt-5.5" })),
        400,
        "The 'gpt-5.5' model is not supported when using Codex with a ChatGPT account.",
      );
    });
  });

  it("answers 404 to input items carrying an id", async () => {
    await withBackend({}, async (backend) => {
      const body = validBody({
        input: [
          { role: "user", content: "Hi" },
          {
            type: "message",
            id: "msg_123",
            role: "assistant",
            content: [{ type: "output_text", text: "Hello" }],
          },
        ],
      });
      await assertNotPersisted(await post(backend, body), "msg_123");
    });
  });

  it("answers 404 to item_reference items", async () => {
    await withBackend({}, async (backend) => {
      const body = validBody({
        input: [{ type: "item_reference", id: "rs_9" }, {
          role: "user",
          content: "Hi",
        }],
      });
      await assertNotPersisted(await post(backend, body), "rs_9");
    });
  });
});

describe("fake backend SSE answers", () => {
  it("frames every event as event/data with the type and increasing sequence numbers", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody());
      const text = await response.text();
      assert.ok(!text.includes("[DONE]"));
      assert.ok(text.endsWith("\n\n"));
      const frames = text.split("\n\n").slice(0, -1);
      frames.forEach((frame, index) => {
        const match = /^event: (\S+)\ndata: (.+)$/.exec(frame);
        assert.ok(match, `frame ${index} is event/data: ${frame}`);
        const data = JSON.parse(match[2]);
        assert.equal(data.type, match[1]);
        assert.equal(data.sequence_number, index);
      });
    });
  });

  it("sends the text events in the backend's order", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "text",
        text: "Hello world, how are you today?",
      });
      const list = await events(await post(backend, validBody()));
      assert.deepEqual(types(list), TEXT_ORDER);
    });
  });

  it("streams the text as deltas that add up to output_text.done", async () => {
    await withBackend({}, async (backend) => {
      const text = "Bonjour ✨ le monde, voici une réponse assez longue.";
      backend.enqueue({ kind: "text", text });
      const list = await events(await post(backend, validBody()));
      const deltas = list.filter((item) =>
        item.event === "response.output_text.delta"
      ).map((item) => item.data.delta).join("");
      assert.equal(deltas, text);
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(done?.data.text, text);
    });
  });

  it("ends with a full Response object the SDK can read", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "text", text: "The answer is 42." });
      const list = await events(
        await post(backend, validBody({ model: "gpt-5.4-mini" })),
      );
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      assert.match(String(response.id), /^resp_/);
      assert.equal(response.object, "response");
      assert.equal(typeof response.created_at, "number");
      assert.equal(response.status, "completed");
      assert.equal(response.model, "gpt-5.4-mini");
      const output = response.output as Record<string, unknown>[];
      assert.equal(output.length, 1);
      assert.equal(output[0].type, "message");
      assert.equal(output[0].role, "assistant");
      assert.equal(output[0].status, "completed");
      assert.match(String(output[0].id), /^msg_/);
      assert.deepEqual(output[0].content, [{
        type: "output_text",
        text: "The answer is 42.",
        annotations: [],
        logprobs: [],
      }]);
      const itemDone = list.find((item) =>
        item.event === "response.output_item.done"
      );
      assert.deepEqual(itemDone?.data.item, output[0]);
    });
  });

  it("reports non-zero usage in the backend's shape", async () => {
    await withBackend({}, async (backend) => {
      const list = await events(await post(backend, validBody()));
      const usage = (list.at(-1)!.data.response as Record<string, unknown>)
        .usage as Record<string, unknown>;
      assert.deepEqual(Object.keys(usage).sort(), [
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
      ]);
      assert.ok((usage.input_tokens as number) > 0);
      assert.ok((usage.output_tokens as number) > 0);
      assert.equal(
        usage.total_tokens,
        (usage.input_tokens as number) + (usage.output_tokens as number),
      );
      assert.deepEqual(usage.input_tokens_details, { cached_tokens: 0 });
      assert.deepEqual(usage.output_tokens_details, { reasoning_tokens: 0 });
    });
  });

  it("uses the scripted usage, null details included", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "text",
        usage: {
          input_tokens: 100,
          output_tokens: 20,
          input_tokens_details: { cached_tokens: 64 },
          output_tokens_details: null,
        },
      });
      const list = await events(await post(backend, validBody()));
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      assert.deepEqual(response.usage, {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 64 },
        output_tokens: 20,
        output_tokens_details: null,
        total_tokens: 120,
      });
    });
  });

  it("sends a reasoning item first when the request asks for reasoning", async () => {
    await withBackend({}, async (backend) => {
      const list = await events(
        await post(
          backend,
          validBody({
            reasoning: { effort: "medium", summary: "auto" },
            include: ["reasoning.encrypted_content"],
          }),
        ),
      );
      assert.deepEqual(types(list).slice(0, 5), [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.output_item.done",
        "response.output_item.added",
      ]);
      const reasoning = list[3].data.item as Record<string, unknown>;
      assert.equal(reasoning.type, "reasoning");
      assert.equal(typeof reasoning.encrypted_content, "string");
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      const output = response.output as Record<string, unknown>[];
      assert.deepEqual(output.map((item) => item.type), [
        "reasoning",
        "message",
      ]);
      const usage = response.usage as Record<string, unknown>;
      assert.ok(
        (usage.output_tokens_details as { reasoning_tokens: number })
          .reasoning_tokens > 0,
      );
    });
  });

  it("sends or omits the reasoning item as the text behaviour says", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "text", reasoning: true });
      const withReasoning = await events(await post(backend, validBody()));
      assert.equal(
        (withReasoning[2].data.item as Record<string, unknown>).type,
        "reasoning",
      );
      backend.enqueue({ kind: "text", reasoning: false });
      const without = await events(
        await post(backend, validBody({ reasoning: { effort: "high" } })),
      );
      assert.equal(
        (without[2].data.item as Record<string, unknown>).type,
        "message",
      );
    });
  });

  it("sends completed with an empty output when asked", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "text", text: "Hi", emptyCompletedOutput: true });
      const list = await events(await post(backend, validBody()));
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      assert.equal(list.at(-1)!.event, "response.completed");
      assert.deepEqual(response.output, []);
      assert.ok(types(list).includes("response.output_item.done"));
    });
  });

  it("omits the content-type of SSE answers when configured", async () => {
    await withBackend({ omitContentType: true }, async (backend) => {
      const response = await post(backend, validBody());
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), null);
      assert.equal(
        (await events(response)).at(-1)?.event,
        "response.completed",
      );
    });
  });

  it("splits the text into deltaChunks deltas", async () => {
    await withBackend({ deltaChunks: 3 }, async (backend) => {
      backend.enqueue({ kind: "text", text: "abcdefghijkl" });
      const list = await events(await post(backend, validBody()));
      const deltas = list.filter((item) =>
        item.event === "response.output_text.delta"
      ).map((item) => item.data.delta);
      assert.deepEqual(deltas, ["abcd", "efgh", "ijkl"]);
    });
  });

  it("streams a scripted function call in the backend's shape", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "function_call",
        name: "get_weather",
        arguments: '{"location":"Oslo","unit":"c"}',
        callId: "call_abc",
      });
      const list = await events(await post(backend, validBody()));
      assert.deepEqual(types(list), [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
      ]);
      const added = list[2].data.item as Record<string, unknown>;
      assert.equal(added.type, "function_call");
      assert.equal(added.call_id, "call_abc");
      assert.equal(added.name, "get_weather");
      assert.equal(added.arguments, "");
      assert.match(String(added.id), /^fc_/);
      const argumentDeltas = list.filter((item) =>
        item.event === "response.function_call_arguments.delta"
      ).map((item) => item.data.delta).join("");
      assert.equal(argumentDeltas, '{"location":"Oslo","unit":"c"}');
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      assert.deepEqual(response.output, [{
        id: added.id,
        type: "function_call",
        status: "completed",
        arguments: '{"location":"Oslo","unit":"c"}',
        call_id: "call_abc",
        name: "get_weather",
      }]);
    });
  });
});

describe("fake backend default behaviour", () => {
  const weatherTool = {
    type: "function",
    name: "get_weather",
    description: "Weather of a place",
    parameters: {
      type: "object",
      properties: {
        location: { type: "string" },
        days: { type: "integer" },
      },
      required: ["location"],
    },
  };

  it("calls the first function tool with arguments built from its schema", async () => {
    await withBackend({}, async (backend) => {
      const list = await events(
        await post(backend, validBody({ tools: [weatherTool] })),
      );
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      const [call] = response.output as Record<string, unknown>[];
      assert.equal(call.type, "function_call");
      assert.equal(call.name, "get_weather");
      assert.equal(call.arguments, '{"location":"Paris"}');
      assert.match(String(call.call_id), /^call_/);
    });
  });

  it("answers text containing the tool output after a function_call_output", async () => {
    await withBackend({}, async (backend) => {
      const body = validBody({
        tools: [weatherTool],
        input: [
          { role: "user", content: "Weather in Paris?" },
          {
            type: "function_call",
            call_id: "call_1",
            name: "get_weather",
            arguments: '{"location":"Paris"}',
          },
          {
            type: "function_call_output",
            call_id: "call_1",
            output: "Sunny, 21C",
          },
        ],
      });
      const list = await events(await post(backend, body));
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.match(String(done?.data.text), /Sunny, 21C/);
    });
  });

  it("echoes the last user message", async () => {
    await withBackend({}, async (backend) => {
      const body = validBody({
        input: [
          { role: "user", content: "First question" },
          {
            type: "message",
            role: "assistant",
            content: [{ type: "output_text", text: "First answer" }],
          },
          {
            role: "user",
            content: [{ type: "input_text", text: "Second question" }],
          },
        ],
      });
      const list = await events(await post(backend, body));
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(done?.data.text, "Echo: Second question");
    });
  });

  it("echoes a string input", async () => {
    await withBackend({}, async (backend) => {
      const list = await events(
        await post(backend, validBody({ input: "Plain string" })),
      );
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(done?.data.text, "Echo: Plain string");
    });
  });

  it("answers the same way to the same request", async () => {
    await withBackend({}, async (backend) => {
      const first = await events(await post(backend, validBody()));
      const second = await events(await post(backend, validBody()));
      assert.deepEqual(
        first.map((item) => item.data.delta ?? null),
        second.map((item) => item.data.delta ?? null),
      );
    });
  });
});

describe("fake backend headers", () => {
  const rateLimitNames = [
    "x-codex-primary-used-percent",
    "x-codex-primary-window-minutes",
    "x-codex-primary-reset-at",
    "x-codex-primary-reset-after-seconds",
    "x-codex-secondary-used-percent",
    "x-codex-secondary-window-minutes",
    "x-codex-secondary-reset-at",
    "x-codex-secondary-reset-after-seconds",
    "x-codex-plan-type",
    "x-codex-active-limit",
    "x-codex-credits-has-credits",
  ];

  it("sends the rate-limit headers on a 200", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody());
      await response.body?.cancel();
      for (const name of rateLimitNames) {
        assert.ok(response.headers.has(name), `${name} present`);
      }
      assert.equal(
        response.headers.get("x-codex-credits-has-credits"),
        "False",
      );
      assert.equal(response.headers.get("x-codex-plan-type"), "plus");
      const now = Date.now() / 1000;
      const resetAt = Number(response.headers.get("x-codex-primary-reset-at"));
      const after = Number(
        response.headers.get("x-codex-primary-reset-after-seconds"),
      );
      assert.ok(
        Math.abs(resetAt - (now + after)) < 5,
        "reset-at is unix seconds",
      );
    });
  });

  it("sends the noise headers a relay must not forward", async () => {
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody());
      await response.body?.cancel();
      assert.ok(response.headers.get("set-cookie"));
      assert.ok(response.headers.get("cf-ray"));
      assert.ok(response.headers.get("openai-processing-ms"));
    });
  });

  it("sends the rate-limit headers and Retry-After on a scripted 429", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "status",
        status: 429,
        headers: { "Retry-After": "2" },
      });
      const response = await post(backend, validBody());
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("retry-after"), "2");
      for (const name of rateLimitNames) {
        assert.ok(response.headers.has(name), `${name} present`);
      }
      await response.body?.cancel();
    });
  });

  it("sends no x-codex or noise headers when rateLimitHeaders is false", async () => {
    await withBackend({ rateLimitHeaders: false }, async (backend) => {
      const response = await post(backend, validBody());
      await response.body?.cancel();
      const names = [...response.headers.keys()];
      assert.deepEqual(names.filter((name) => name.startsWith("x-codex-")), []);
      assert.equal(response.headers.get("set-cookie"), null);
      assert.equal(response.headers.get("cf-ray"), null);
      assert.equal(response.headers.get("openai-processing-ms"), null);
    });
  });
});

describe("fake backend error statuses", () => {
  it("answers a scripted 503 with server_is_overloaded by default", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "status", status: 503 });
      const response = await post(backend, validBody());
      assert.equal(response.status, 503);
      assert.deepEqual(await response.json(), {
        error: { code: "server_is_overloaded" },
      });
    });
  });

  it("answers a scripted status with the given body and headers", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue(
        {
          kind: "status",
          status: 402,
          body: { detail: { code: "deactivated_workspace" } },
        },
        {
          kind: "status",
          status: 403,
          body: "<html>challenge</html>",
          headers: { "x-extra": "1" },
        },
      );
      const first = await post(backend, validBody());
      assert.equal(first.status, 402);
      assert.deepEqual(await first.json(), {
        detail: { code: "deactivated_workspace" },
      });
      const second = await post(backend, validBody());
      assert.equal(second.status, 403);
      assert.match(String(second.headers.get("content-type")), /^text\/html/);
      assert.equal(second.headers.get("x-extra"), "1");
      assert.equal(await second.text(), "<html>challenge</html>");
    });
  });

  it("answers the usage limit with the backend's exact body", async () => {
    const now = 1_800_000_000_000;
    await withBackend({ now: () => now }, async (backend) => {
      backend.enqueue({ kind: "usage_limit", resetsInSeconds: 600 });
      const token = makeAccessToken({
        accountId: ACCOUNT,
        exp: now / 1000 + 3600,
      });
      const response = await post(backend, validBody(), {
        headers: authHeaders(token),
      });
      assert.equal(response.status, 429);
      assert.equal(response.headers.get("x-codex-primary-used-percent"), "100");
      assert.equal(
        await response.text(),
        JSON.stringify({
          error: {
            type: "usage_limit_reached",
            message: "The usage limit has been reached",
            plan_type: "plus",
            resets_at: now / 1000 + 600,
            eligible_promo: null,
            resets_in_seconds: 600,
          },
        }),
      );
    });
  });

  it("keeps answering the usage limit until the reset passes", async () => {
    let now = 1_800_000_000_000;
    await withBackend({ now: () => now }, async (backend) => {
      const headers = authHeaders(
        makeAccessToken({ accountId: ACCOUNT, exp: now / 1000 + 7200 }),
      );
      backend.enqueue(
        { kind: "usage_limit", resetsInSeconds: 60 },
        { kind: "text", text: "queued" },
      );
      assert.equal((await post(backend, validBody(), { headers })).status, 429);
      now += 30_000;
      const held = await post(backend, validBody(), { headers });
      assert.equal(held.status, 429);
      const body = await held.json() as { error: Record<string, unknown> };
      assert.equal(body.error.resets_in_seconds, 30);
      now += 31_000;
      const after = await post(backend, validBody(), { headers });
      assert.equal(after.status, 200);
      const done = (await events(after)).find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(done?.data.text, "queued", "the queue waited");
    });
  });

  it("answers the usage limit with status 404 and a plan type when asked", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "usage_limit", status: 404, planType: "pro" });
      const response = await post(backend, validBody());
      assert.equal(response.status, 404);
      const body = await response.json() as { error: Record<string, unknown> };
      assert.equal(body.error.type, "usage_limit_reached");
      assert.equal(body.error.plan_type, "pro");
      assert.equal(body.error.resets_in_seconds, 3600);
    });
  });

  it("takes the usage-limit plan type from the token by default", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "usage_limit" });
      const token = makeAccessToken({ accountId: ACCOUNT, plan: "team" });
      const response = await post(backend, validBody(), {
        headers: authHeaders(token),
      });
      const body = await response.json() as { error: Record<string, unknown> };
      assert.equal(body.error.plan_type, "team");
      assert.equal(response.headers.get("x-codex-plan-type"), "team");
    });
  });

  it("keeps a usage limit to the account that reached it", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "usage_limit" });
      assert.equal((await post(backend, validBody())).status, 429);
      const other = makeAccessToken({ accountId: "acct_other" });
      const response = await post(backend, validBody(), {
        headers: authHeaders(other, "acct_other"),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal((await post(backend, validBody())).status, 429);
    });
  });

  it("answers usage_not_included with a 403", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "usage_not_included" });
      const response = await post(backend, validBody());
      assert.equal(response.status, 403);
      const body = await response.json() as { error: Record<string, unknown> };
      assert.equal(body.error.type, "usage_not_included");
      const next = await post(backend, validBody());
      assert.equal(next.status, 200, "not sticky");
      await next.body?.cancel();
    });
  });
});

describe("fake backend account errors (endAccount)", () => {
  it("answers every request of an ended account with the spec's error until restored", async () => {
    await withBackend({}, async (backend) => {
      const expected: Array<[string, number, string]> = [
        ["token_invalidated", 401, '"code":"token_invalidated"'],
        ["token_revoked", 401, '"code":"token_revoked"'],
        [
          "deactivated_workspace",
          402,
          '{"detail":{"code":"deactivated_workspace"}}',
        ],
        ["account_deactivated", 403, '"code":"account_deactivated"'],
        [
          "phone_verification_required",
          403,
          '"code":"phone_verification_required"',
        ],
        ["usage_not_included", 429, '"type":"usage_not_included"'],
        ["cloudflare", 403, "Just a moment"],
      ];
      for (const [code, status, text] of expected) {
        backend.endAccount(ACCOUNT, code as "token_revoked");
        for (let i = 0; i < 2; i++) {
          const response = await post(backend, validBody());
          assert.equal(response.status, status, code);
          assert.ok((await response.text()).includes(text), code);
        }
        const usage = await fetch(`${backend.baseUrl}/wham/usage`, {
          headers: authHeaders(),
        });
        assert.equal(usage.status, status, `${code} on the usage endpoint`);
        await usage.body?.cancel();
      }
      const challenge = await post(backend, validBody());
      assert.equal(challenge.headers.get("cf-mitigated"), "challenge");
      await challenge.body?.cancel();
      backend.endAccount(ACCOUNT, undefined);
      const restored = await post(backend, validBody());
      assert.equal(restored.status, 200);
      await restored.body?.cancel();
    });
  });
});

describe("fake backend failures inside the stream", () => {
  it("sends response.failed after created and in_progress", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "failed", code: "context_length_exceeded" });
      const response = await post(backend, validBody());
      assert.equal(response.status, 200);
      const list = await events(response);
      assert.deepEqual(types(list), [
        "response.created",
        "response.in_progress",
        "response.failed",
      ]);
      const failed = list[2].data.response as Record<string, unknown>;
      assert.equal(failed.status, "failed");
      const error = failed.error as Record<string, unknown>;
      assert.equal(error.code, "context_length_exceeded");
      assert.equal(typeof error.message, "string");
      assert.equal(list[2].data.sequence_number, 2);
    });
  });

  it("sends response.failed after the requested number of events", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "failed",
        code: "server_is_overloaded",
        message: "Try later",
        afterEvents: 5,
      });
      const list = await events(await post(backend, validBody()));
      assert.equal(list.length, 6);
      assert.equal(list[5].event, "response.failed");
      const failed = list[5].data.response as Record<string, unknown>;
      assert.deepEqual(failed.error, {
        code: "server_is_overloaded",
        message: "Try later",
      });
    });
  });

  it("ends a full answer with response.incomplete and its reason", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "incomplete", reason: "content_filter" });
      const list = await events(await post(backend, validBody()));
      assert.equal(list.at(-1)?.event, "response.incomplete");
      const response = list.at(-1)!.data.response as Record<string, unknown>;
      assert.equal(response.status, "incomplete");
      assert.deepEqual(response.incomplete_details, {
        reason: "content_filter",
      });
      assert.ok(response.usage);
      assert.ok(!types(list).includes("response.completed"));
    });
  });

  it("sends an error event with its code and message", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "error_event",
        code: "rate_limit_exceeded",
        message: "Slow down",
      });
      const list = await events(await post(backend, validBody()));
      assert.deepEqual(types(list), [
        "response.created",
        "response.in_progress",
        "error",
      ]);
      assert.equal(list[2].data.type, "error");
      assert.equal(list[2].data.code, "rate_limit_exceeded");
      assert.equal(list[2].data.message, "Slow down");
    });
  });

  it("reports a usage limit in an error event with the 429 body's error, then limits the account", async () => {
    const now = 1_800_000_000_000;
    await withBackend({ now: () => now }, async (backend) => {
      backend.enqueue({
        kind: "usage_limit_in_stream",
        as: "error",
        resetsInSeconds: 600,
      });
      const headers = authHeaders(
        makeAccessToken({ accountId: ACCOUNT, exp: now / 1000 + 3600 }),
      );
      const response = await post(backend, validBody(), { headers });
      assert.equal(response.status, 200);
      const list = await events(response);
      assert.deepEqual(types(list), [
        "response.created",
        "response.in_progress",
        "error",
      ]);
      const { headers: limits, ...event } = list[2].data as {
        headers: Record<string, string>;
      };
      assert.deepEqual(event, {
        type: "error",
        sequence_number: 2,
        status_code: 429,
        error: {
          type: "usage_limit_reached",
          message: "The usage limit has been reached",
          plan_type: "plus",
          resets_at: now / 1000 + 600,
          eligible_promo: null,
          resets_in_seconds: 600,
        },
      });
      // The account's x-codex-* headers ride along, in title case.
      assert.equal(limits["X-Codex-Plan-Type"], "plus");
      assert.equal(limits["X-Codex-Primary-Used-Percent"], "100");
      assert.equal(
        limits["X-Codex-Primary-Reset-At"],
        String(now / 1000 + 600),
      );
      const next = await post(backend, validBody(), { headers });
      assert.equal(next.status, 429);
      const body = await next.json() as { error: Record<string, unknown> };
      assert.equal(body.error.type, "usage_limit_reached");
      assert.equal(body.error.resets_at, now / 1000 + 600);
    });
  });

  it("reports a usage limit in response.failed, with reset times only when asked", async () => {
    const now = 1_800_000_000_000;
    await withBackend({ now: () => now }, async (backend) => {
      const headers = authHeaders(
        makeAccessToken({ accountId: ACCOUNT, exp: now / 1000 + 3600 }),
      );
      const errors: unknown[] = [];
      for (const resetsInSeconds of [undefined, 120]) {
        backend.reset();
        backend.enqueue({
          kind: "usage_limit_in_stream",
          as: "failed",
          resetsInSeconds,
        });
        const list = await events(
          await post(backend, validBody(), { headers }),
        );
        assert.deepEqual(types(list), [
          "response.created",
          "response.in_progress",
          "response.failed",
        ]);
        const failed = list[2].data.response as Record<string, unknown>;
        assert.equal(failed.status, "failed");
        errors.push(failed.error);
        const next = await post(backend, validBody(), { headers });
        assert.equal(next.status, 429, "the account is limited");
        await next.body?.cancel();
      }
      const message = "The usage limit has been reached";
      assert.deepEqual(errors, [
        { code: "usage_limit_reached", message },
        {
          code: "usage_limit_reached",
          message,
          resets_at: now / 1000 + 120,
          resets_in_seconds: 120,
        },
      ]);
    });
  });

  it("closes cleanly after the deltas without a terminal event (no_terminal)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "no_terminal" });
      const response = await post(backend, validBody());
      const text = await response.text();
      assert.ok(text.endsWith("\n\n"));
      const list = parseSse(text);
      assert.equal(list.at(-1)?.event, "response.output_text.delta");
      for (
        const terminal of [
          "response.completed",
          "response.incomplete",
          "response.failed",
          "error",
        ]
      ) {
        assert.ok(!types(list).includes(terminal), `${terminal} absent`);
      }
    });
  });

  it("closes cleanly in the middle of an SSE frame (truncated)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "truncated" });
      const text = await (await post(backend, validBody())).text();
      assert.ok(!text.endsWith("\n\n"), "ends inside a frame");
      const tail = text.slice(text.lastIndexOf("\n\n") + 2);
      assert.match(tail, /^event: /);
      assert.ok(parseSse(text).length > 0);
    });
  });

  it("goes silent after some events until the client aborts (stall)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "stall", afterEvents: 3 });
      const controller = new AbortController();
      const response = await post(backend, validBody(), {
        signal: controller.signal,
      });
      const { reader, text } = await readFrames(response, 3);
      assert.equal(parseSse(text).length, 3);
      const next = reader.read();
      assert.equal(await settlesWithin(next, 150), "pending");
      controller.abort();
      await assert.rejects(next);
      for (let tries = 0; tries < 50 && backend.inFlight > 0; tries++) {
        await delay(10);
      }
      assert.equal(backend.inFlight, 0);
    });
  });

  it("never sends headers (headers_never)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "headers_never" });
      const controller = new AbortController();
      const pending = post(backend, validBody(), { signal: controller.signal });
      assert.equal(await settlesWithin(pending, 150), "pending");
      assert.equal(backend.inFlight, 1);
      controller.abort();
      await assert.rejects(pending);
    });
  });

  it("destroys the connection before any byte (reset_before_headers)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "reset_before_headers" });
      await assert.rejects(post(backend, validBody()));
    });
  });

  it("destroys the connection in the middle of the stream (reset_mid_stream)", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "reset_mid_stream", afterEvents: 4 });
      const response = await post(backend, validBody());
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = "";
      await assert.rejects(async () => {
        while (true) {
          const { done, value } = await reader.read();
          if (done) return;
          text += decoder.decode(value, { stream: true });
        }
      });
      assert.equal(parseSse(text).length, 4);
    });
  });

  it("streams a large answer of many deltas", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "large", deltas: 2000, deltaBytes: 100 });
      const list = await events(await post(backend, validBody()));
      const deltas = list.filter((item) =>
        item.event === "response.output_text.delta"
      );
      assert.equal(deltas.length, 2000);
      assert.ok(deltas.every((item) => String(item.data.delta).length === 100));
      assert.equal(list.at(-1)?.event, "response.completed");
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(String(done?.data.text).length, 200_000);
    });
  });
  it("uses short token-sized deltas in a large answer by default", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "large", deltas: 50 });
      const list = await events(await post(backend, validBody()));
      const deltas = list.filter((item) =>
        item.event === "response.output_text.delta"
      );
      assert.equal(deltas.length, 50);
      assert.ok(deltas.every((item) => String(item.data.delta).length === 8));
    });
  });
});

describe("fake backend timing controls", () => {
  it("pauses after the given events until release()", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "text",
        text: "paused answer",
        pauseAfterEvents: 3,
      });
      const response = await post(backend, validBody());
      const { reader, text } = await readFrames(response, 3);
      assert.equal(parseSse(text).length, 3);
      const next = reader.read();
      assert.equal(await settlesWithin(next, 150), "pending");
      backend.release();
      const first = await next;
      const rest = new TextDecoder().decode(first.value) +
        await readRest(reader);
      const all = parseSse(text + rest);
      assert.deepEqual(types(all), TEXT_ORDER);
    });
  });

  it("resumes a pause by itself after pauseMs", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({
        kind: "text",
        pauseAfterEvents: 2,
        pauseMs: 80,
      });
      const started = Date.now();
      const list = await events(await post(backend, validBody()));
      assert.equal(list.at(-1)?.event, "response.completed");
      assert.ok(Date.now() - started >= 70, "waited for the pause");
    });
  });

  it("waits eventDelayMs between events", async () => {
    await withBackend({ deltaChunks: 2 }, async (backend) => {
      backend.enqueue({ kind: "text", text: "ab", eventDelayMs: 15 });
      const started = Date.now();
      const list = await events(await post(backend, validBody()));
      assert.equal(list.length, 10);
      assert.ok(Date.now() - started >= 9 * 15 - 10, "delays applied");
    });
  });
});

describe("fake backend scripting and records", () => {
  it("answers queued behaviours first in first out, then the default", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "text", text: "one" }, {
        kind: "text",
        text: "two",
      });
      backend.enqueue({ kind: "status", status: 500 });
      const texts: string[] = [];
      for (let index = 0; index < 2; index++) {
        const list = await events(await post(backend, validBody()));
        const done = list.find((item) =>
          item.event === "response.output_text.done"
        );
        texts.push(String(done?.data.text));
      }
      assert.deepEqual(texts, ["one", "two"]);
      const third = await post(backend, validBody());
      assert.equal(third.status, 500);
      await third.body?.cancel();
      const fourth = await post(backend, validBody());
      assert.equal(fourth.status, 200);
      await fourth.body?.cancel();
    });
  });

  it("does not consume the queue on rejected requests", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "status", status: 502 });
      await (await post(backend, validBody({ store: true }))).body?.cancel();
      const response = await post(backend, validBody());
      assert.equal(response.status, 502);
      await response.body?.cancel();
    });
  });

  it("uses a fixed default behaviour from setDefault", async () => {
    await withBackend({}, async (backend) => {
      backend.setDefault({ kind: "status", status: 503 });
      for (let index = 0; index < 2; index++) {
        const response = await post(backend, validBody());
        assert.equal(response.status, 503);
        await response.body?.cancel();
      }
    });
  });

  it("passes the request body to a default behaviour function", async () => {
    await withBackend({}, async (backend) => {
      const seen: unknown[] = [];
      backend.setDefault((body) => {
        seen.push(body.model);
        return { kind: "text", text: `for ${body.model}` };
      });
      const list = await events(
        await post(backend, validBody({ model: "gpt-5.5" })),
      );
      assert.deepEqual(seen, ["gpt-5.5"]);
      const done = list.find((item) =>
        item.event === "response.output_text.done"
      );
      assert.equal(done?.data.text, "for gpt-5.5");
    });
  });

  it("records every request, rejected ones included", async () => {
    await withBackend({}, async (backend) => {
      const before = Date.now();
      await (await post(backend, validBody())).text();
      await (await post(backend, "not json")).text();
      await (await fetch(
        `${backend.baseUrl}/codex/models?client_version=1.2.3`,
      ))
        .text();
      assert.equal(backend.requests.length, 3);
      const [valid, invalid, models] = backend.requests;
      assert.equal(valid.method, "POST");
      assert.equal(valid.path, "/backend-api/codex/responses");
      assert.equal(valid.headers["chatgpt-account-id"], ACCOUNT);
      assert.match(valid.headers["authorization"], /^Bearer /);
      assert.deepEqual(valid.body, validBody());
      assert.ok(valid.at >= before && valid.at <= Date.now());
      assert.equal(invalid.body, "not json");
      assert.equal(models.method, "GET");
      assert.equal(models.path, "/backend-api/codex/models");
      assert.equal(
        models.url,
        "/backend-api/codex/models?client_version=1.2.3",
      );
      assert.equal(models.body, undefined);
    });
  });

  it("reset() clears the queue, the records and the usage limit", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "usage_limit" });
      await (await post(backend, validBody())).text();
      backend.enqueue({ kind: "status", status: 500 });
      backend.reset();
      assert.equal(backend.requests.length, 0);
      const response = await post(backend, validBody());
      assert.equal(response.status, 200);
      await response.body?.cancel();
    });
  });

  it("counts open exchanges exactly in inFlight and maxInFlight", async () => {
    await withBackend({}, async (backend) => {
      for (let index = 0; index < 3; index++) {
        backend.enqueue({ kind: "text", pauseAfterEvents: 1 });
      }
      const responses = await Promise.all(
        [0, 1, 2].map(() => post(backend, validBody())),
      );
      assert.equal(backend.inFlight, 3);
      assert.equal(backend.maxInFlight, 3);
      backend.release();
      await Promise.all(responses.map((response) => response.text()));
      for (let tries = 0; tries < 50 && backend.inFlight > 0; tries++) {
        await delay(10);
      }
      assert.equal(backend.inFlight, 0);
      assert.equal(backend.maxInFlight, 3);
      await (await post(backend, validBody())).text();
      assert.equal(backend.maxInFlight, 3);
    });
  });

  it("counts a rejected exchange only while it is open", async () => {
    await withBackend({}, async (backend) => {
      await (await post(backend, validBody({ stream: false }))).text();
      for (let tries = 0; tries < 50 && backend.inFlight > 0; tries++) {
        await delay(10);
      }
      assert.equal(backend.inFlight, 0);
      assert.equal(backend.maxInFlight, 1);
    });
  });

  it("close() ends stalled, paused and header-less exchanges promptly", async () => {
    const backend = await startFakeCodexBackend();
    backend.enqueue(
      { kind: "stall" },
      { kind: "text", pauseAfterEvents: 2 },
      { kind: "headers_never" },
    );
    let inFlight = 0;
    let closeMs = Infinity;
    let stalled: Response | undefined;
    let paused: Response | undefined;
    let headerless: Promise<void> | undefined;
    try {
      stalled = await post(backend, validBody());
      paused = await post(backend, validBody());
      headerless = assert.rejects(post(backend, validBody()));
      await delay(50);
      inFlight = backend.inFlight;
    } finally {
      const started = Date.now();
      await backend.close();
      closeMs = Date.now() - started;
    }
    assert.equal(inFlight, 3);
    assert.ok(closeMs < 1000, "closed promptly");
    await assert.rejects(stalled.text());
    await assert.rejects(paused.text());
    await headerless;
    await assert.rejects(post(backend, validBody()));
    await backend.close();
  });
});

describe("fake backend token shapes", () => {
  it("accepts a JWT without an exp only through acceptToken", async () => {
    const token = makeJwt({
      "https://api.openai.com/auth": { chatgpt_account_id: ACCOUNT },
    });
    await withBackend({}, async (backend) => {
      const response = await post(backend, validBody(), {
        headers: authHeaders(token),
      });
      await assertDetail(response, 401, "Unauthorized");
    });
    await withBackend({ acceptToken: () => true }, async (backend) => {
      const response = await post(backend, validBody(), {
        headers: authHeaders(token),
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    });
  });
});

const CODEX_CLI_FIXTURES = [
  "codex-cli/custom-provider-env-key-1.json",
  "codex-cli/custom-provider-env-key-2.json",
  "codex-cli/custom-provider-openai-auth-zstd-3.json",
  "codex-cli/custom-provider-openai-auth-zstd-decoded-2.json",
];

/** A client fixture's body as the provider sends it today: decoded, read, shaped, encoded. */
async function shapedFixture(
  path: string,
): Promise<{ text: string; headers: Record<string, string> }> {
  const fixture = loadClientFixture(path);
  const decoded = await decodeRequestBody(
    fixture.bodyBytes(),
    fixture.contentEncoding ?? undefined,
    32 * 1024 * 1024,
  );
  const buyer = readRequestJson(decoded, 32 * 1024 * 1024);
  const shaped = shapeRequest(buyer.value, {
    defaultInstructions: "You are a helpful assistant.",
    aliasMap: {},
    allowedServices: [],
  });
  const headers = buildUpstreamHeaders(
    {
      accessToken: makeAccessToken({ accountId: ACCOUNT }),
      accountId: ACCOUNT,
    },
    shaped.promptCacheKey ?? crypto.randomUUID(),
  );
  return { text: encodeUpstreamBody(buyer, shaped.body), headers };
}

function postBytes(
  backend: FakeCodexBackend,
  body: Uint8Array,
  headers: Record<string, string>,
): Promise<Response> {
  return fetch(backend.responsesUrl, {
    method: "POST",
    headers: { ...authHeaders(), ...headers },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function item(
  type: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return { type, ...fields };
}

async function assertInvalidId(
  response: Response,
  index: number,
  message: string,
): Promise<void> {
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    error: {
      message,
      type: "invalid_request_error",
      param: `input[${index}].id`,
      code: "invalid_value",
    },
  });
}

describe("fake backend and today's clients", () => {
  for (const path of CODEX_CLI_FIXTURES) {
    it(`accepts the Codex CLI 0.171 request ${path} once shaped`, async () => {
      const { text, headers } = await shapedFixture(path);
      await withBackend({}, async (backend) => {
        const response = await post(backend, text, { headers });
        assert.equal(response.status, 200);
        const list = await events(response);
        assert.equal(list.at(-1)?.event, "response.completed");
      });
    });
  }

  it("accepts the AI SDK's requests once shaped", async () => {
    for (
      const path of [
        "ai-sdk/generate-text-tool-default-reasoning-1.json",
        "ai-sdk/generate-text-tool-default-reasoning-2.json",
        "ai-sdk/generate-text-tool-store-false-reasoning-2.json",
      ]
    ) {
      const { text, headers } = await shapedFixture(path);
      await withBackend({}, async (backend) => {
        const response = await post(backend, text, { headers });
        assert.equal(response.status, 200, path);
        await response.body?.cancel();
      });
    }
  });

  it("refuses the Codex CLI's item ids as never stored", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-env-key-2.json",
    );
    const body = { ...fixture.body, instructions: "Base instructions" };
    const firstId = (fixture.body!.input as { id: string }[])[0].id;
    await withBackend({}, async (backend) => {
      await assertNotPersisted(await post(backend, body), firstId);
    });
  });
});

describe("fake backend compressed request bodies", () => {
  it("decodes a zstd body as the Codex CLI sends it", async () => {
    const { text, headers } = await shapedFixture(
      "codex-cli/custom-provider-env-key-1.json",
    );
    await withBackend({}, async (backend) => {
      const response = await postBytes(
        backend,
        rawFrame(new TextEncoder().encode(text)),
        { ...headers, "content-encoding": "zstd" },
      );
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.deepEqual(backend.requests[0].body, JSON.parse(text));
    });
  });

  it("reads the Codex CLI's own zstd bytes (and then wants instructions)", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-openai-auth-zstd-3.json",
    );
    await withBackend({}, async (backend) => {
      await assertDetail(
        await postBytes(backend, fixture.bodyBytes(), {
          "content-encoding": "zstd",
        }),
        400,
        "Instructions are required",
      );
      assert.deepEqual(backend.requests[0].body, fixture.body);
    });
  });

  it("decodes a gzip body", async () => {
    await withBackend({}, async (backend) => {
      const response = await postBytes(
        backend,
        await gzip(JSON.stringify(validBody())),
        { "content-encoding": "gzip" },
      );
      assert.equal(response.status, 200);
      await response.body?.cancel();
    });
  });

  it("refuses another content-encoding with 415", async () => {
    await withBackend({}, async (backend) => {
      await assertDetail(
        await postBytes(
          backend,
          new TextEncoder().encode(JSON.stringify(validBody())),
          { "content-encoding": "br" },
        ),
        415,
        "Unsupported content encoding: br",
      );
    });
  });

  it("refuses a zstd body that does not decode with 400", async () => {
    await withBackend({}, async (backend) => {
      await assertDetail(
        await postBytes(
          backend,
          new TextEncoder().encode(JSON.stringify(validBody())),
          { "content-encoding": "zstd" },
        ),
        400,
        "Invalid request body: could not decode the zstd content",
      );
    });
  });
});

describe("fake backend stateful fields", () => {
  it("refuses previous_response_id with the backend's 400", async () => {
    await withBackend({}, async (backend) => {
      await assertDetail(
        await post(backend, validBody({ previous_response_id: "resp_1" })),
        400,
        "Unsupported parameter: previous_response_id",
      );
    });
  });

  it("refuses an id with the wrong prefix for its type with 400", async () => {
    await withBackend({}, async (backend) => {
      const input = [
        item("message", { role: "user", content: "Hi" }),
        item("message", { id: "rs_1", role: "user", content: "Hi" }),
      ];
      await assertInvalidId(
        await post(backend, validBody({ input })),
        1,
        "Invalid 'input[1].id': 'rs_1'. Expected an ID that begins with 'msg'.",
      );
      const reasoning = [
        item("reasoning", {
          id: "msg_1",
          summary: [],
          encrypted_content: "gAAAA",
        }),
      ];
      await assertInvalidId(
        await post(backend, validBody({ input: reasoning })),
        0,
        "Invalid 'input[0].id': 'msg_1'. Expected an ID that begins with 'rs'.",
      );
    });
  });

  it("refuses an id longer than 64 characters with 400", async () => {
    await withBackend({}, async (backend) => {
      const id = `fc_${"x".repeat(62)}`;
      const input = [
        item("function_call", {
          id,
          call_id: "call_1",
          name: "f",
          arguments: "{}",
        }),
      ];
      await assertInvalidId(
        await post(backend, validBody({ input })),
        0,
        "Invalid 'input[0].id': string too long. Expected a string with maximum length 64, but got a string with length 65 instead.",
      );
    });
  });

  it("answers a reasoning item's id with the spec's 404 and accepts it without the id", async () => {
    await withBackend({}, async (backend) => {
      const reasoning = {
        type: "reasoning",
        summary: [],
        encrypted_content: "gAAAAABsimulated",
      };
      await assertNotPersisted(
        await post(
          backend,
          validBody({ input: [{ ...reasoning, id: "rs_abc" }] }),
        ),
        "rs_abc",
      );
      const accepted = await post(backend, validBody({ input: [reasoning] }));
      assert.equal(accepted.status, 200);
      await accepted.body?.cancel();
    });
  });
});

describe("fake backend model list and version gating", () => {
  const REQUIRED = [
    "slug",
    "display_name",
    "supported_reasoning_levels",
    "shell_type",
    "visibility",
    "supported_in_api",
    "priority",
    "base_instructions",
    "supports_reasoning_summaries",
    "support_verbosity",
    "truncation_policy",
    "supports_parallel_tool_calls",
    "experimental_supported_tools",
  ];

  async function listSlugs(
    backend: FakeCodexBackend,
    clientVersion?: string,
  ): Promise<string[]> {
    const query = clientVersion === undefined
      ? ""
      : `?client_version=${clientVersion}`;
    const response = await fetch(`${backend.baseUrl}/codex/models${query}`, {
      headers: authHeaders(),
    });
    const body = await response.json() as { models: { slug: string }[] };
    return body.models.map((model) => model.slug);
  }

  it("gives every entry each field the Codex CLI requires", async () => {
    await withBackend({}, async (backend) => {
      const response = await fetch(
        `${backend.baseUrl}/codex/models?client_version=0.171.0`,
        { headers: authHeaders() },
      );
      assert.ok(response.headers.get("etag"));
      const body = await response.json() as {
        models: Record<string, unknown>[];
      };
      assert.equal(body.models.length, 7);
      for (const model of body.models) {
        for (const field of REQUIRED) {
          assert.ok(field in model, `${model.slug} lacks ${field}`);
        }
        const levels = model.supported_reasoning_levels as {
          effort: string;
          description: string;
        }[];
        assert.ok(levels.every((level) => level.effort && level.description));
        assert.ok(
          ["default", "local", "unified_exec", "disabled", "shell_command"]
            .includes(model.shell_type as string),
        );
        assert.ok(
          ["list", "hide", "none"].includes(model.visibility as string),
        );
        const policy = model.truncation_policy as {
          mode: string;
          limit: number;
        };
        assert.ok(["bytes", "tokens"].includes(policy.mode));
        assert.equal(typeof policy.limit, "number");
      }
    });
  });

  it("lists the 2026 models only to clients of 0.144.0 and later", async () => {
    const gated = Object.keys(DEFAULT_FAKE_GATED_MODELS);
    assert.deepEqual(gated, ["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna"]);
    await withBackend({}, async (backend) => {
      assert.deepEqual(await listSlugs(backend, "0.143.9"), [
        ...DEFAULT_FAKE_MODELS,
      ]);
      assert.deepEqual(await listSlugs(backend, undefined), [
        ...DEFAULT_FAKE_MODELS,
      ]);
      assert.deepEqual(await listSlugs(backend, "0.144.0"), [
        ...DEFAULT_FAKE_MODELS,
        ...gated,
      ]);
      assert.deepEqual(await listSlugs(backend, "0.171.0"), [
        ...DEFAULT_FAKE_MODELS,
        ...gated,
      ]);
    });
  });

  it("puts minimal_client_version on the gated entries only", async () => {
    await withBackend({
      models: ["gpt-a", "gpt-new"],
      minimalClientVersions: { "gpt-new": "1.2.0" },
    }, async (backend) => {
      const response = await fetch(
        `${backend.baseUrl}/codex/models?client_version=1.10.0`,
        { headers: authHeaders() },
      );
      const body = await response.json() as {
        models: Record<string, unknown>[];
      };
      assert.deepEqual(
        body.models.map((model) => [model.slug, model.minimal_client_version]),
        [["gpt-a", undefined], ["gpt-new", "1.2.0"]],
      );
    });
  });

  it("refuses a gated model to an older or missing version header", async () => {
    const message =
      "The 'gpt-5.6-sol' model requires a newer version of Codex. Please upgrade to the latest app or CLI and try again.";
    await withBackend({}, async (backend) => {
      const body = validBody({ model: "gpt-5.6-sol" });
      await assertDetail(await post(backend, body), 400, message);
      await assertDetail(
        await post(backend, body, {
          headers: { ...authHeaders(), version: "0.143.0" },
        }),
        400,
        message,
      );
      const recent = await post(backend, body, {
        headers: { ...authHeaders(), version: "0.144.0" },
      });
      assert.equal(recent.status, 200);
      await recent.body?.cancel();
    });
  });

  it("serves the other models without a version header", async () => {
    await withBackend({}, async (backend) => {
      for (const model of DEFAULT_FAKE_MODELS) {
        const response = await post(backend, validBody({ model }));
        assert.equal(response.status, 200, model);
        await response.body?.cancel();
      }
    });
  });
});

describe("fake backend codex.rate_limits event", () => {
  it("sends codex.rate_limits after response.created with the headers' numbers", async () => {
    await withBackend({}, async (backend) => {
      backend.enqueue({ kind: "text", text: "Hi", rateLimitsEvent: true });
      const response = await post(backend, validBody());
      const headers = response.headers;
      const list = await events(response);
      assert.deepEqual(types(list).slice(0, 3), [
        "response.created",
        "codex.rate_limits",
        "response.in_progress",
      ]);
      const event = list[1].data;
      assert.equal(event.plan_type, "plus");
      const limits = event.rate_limits as Record<string, unknown>;
      assert.equal(limits.allowed, true);
      assert.equal(limits.limit_reached, false);
      assert.deepEqual(limits.primary, {
        used_percent: Number(headers.get("x-codex-primary-used-percent")),
        window_minutes: Number(headers.get("x-codex-primary-window-minutes")),
        reset_after_seconds: Number(
          headers.get("x-codex-primary-reset-after-seconds"),
        ),
        reset_at: Number(headers.get("x-codex-primary-reset-at")),
      });
      assert.equal(
        (limits.secondary as Record<string, number>).window_minutes,
        10080,
      );
      assert.deepEqual(event.credits, {
        has_credits: false,
        unlimited: false,
        balance: "0",
      });
      assert.equal(list.at(-1)?.event, "response.completed");
    });
  });

  it("sends no codex.rate_limits event by default", async () => {
    await withBackend({}, async (backend) => {
      const list = await events(await post(backend, validBody()));
      assert.ok(!types(list).includes("codex.rate_limits"));
    });
  });
});

describe("fake backend: banked rate-limit resets", () => {
  const LIST = "/wham/rate-limit-reset-credits";
  const CONSUME = `${LIST}/consume`;

  async function call(
    backend: FakeCodexBackend,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(`${backend.baseUrl}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: authHeaders(),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: await response.json() };
  }

  it("lists the available credits as the spec writes them, and the usage endpoint counts them", async () => {
    await withBackend({}, async (backend) => {
      const expiresAt = Date.UTC(2030, 5, 1);
      backend.setAccountResetCredits({
        credits: [{ id: "c1", expiresAt }, {
          id: "old",
          expiresAt: Date.now() - 1,
        }],
      }, ACCOUNT);
      assert.deepEqual(await call(backend, LIST), {
        status: 200,
        json: {
          available_count: 1,
          credits: [{
            id: "c1",
            status: "available",
            expires_at: "2030-06-01T00:00:00.000Z",
            reset_type: "rate_limit",
          }],
        },
      });
      const usage = await call(backend, "/wham/usage");
      assert.deepEqual(usage.json.rate_limit_reset_credits, {
        available_count: 1,
      });
    });
  });

  it("an account without resets lists none, and its usage has no count", async () => {
    await withBackend({}, async (backend) => {
      assert.deepEqual((await call(backend, LIST)).json, {
        available_count: 0,
        credits: [],
      });
      const usage = await call(backend, "/wham/usage");
      assert.equal(usage.json.rate_limit_reset_credits, undefined);
    });
  });

  it("consume: reset lifts the usage limit; the same redeem_request_id gets its first answer and spends nothing more", async () => {
    await withBackend({}, async (backend) => {
      backend.limitAccount(ACCOUNT);
      backend.setAccountResetCredits({
        credits: [{ id: "c1" }, { id: "c2" }],
      }, ACCOUNT);
      const id = crypto.randomUUID();
      const first = await call(backend, CONSUME, { redeem_request_id: id });
      assert.deepEqual(first, {
        status: 200,
        json: { code: "reset", windows_reset: 1 },
      });
      const answered = await fetch(backend.responsesUrl, {
        method: "POST",
        headers: authHeaders(),
        body: JSON.stringify(validBody()),
      });
      assert.equal(answered.status, 200);
      await answered.body?.cancel();
      backend.limitAccount(ACCOUNT);
      assert.deepEqual(
        await call(backend, CONSUME, { redeem_request_id: id }),
        first,
      );
      assert.equal((await call(backend, LIST)).json.available_count, 1);
      assert.deepEqual(
        backend.redemptions.map((entry) => [entry.redeemRequestId, entry.code]),
        [[id, "reset"], [id, "reset"]],
      );
    });
  });

  it("consume: nothing_to_reset, no_credit, already_redeemed, 403 ineligible, 429 connector_rate_limit, 400 without a UUID v4", async () => {
    await withBackend({}, async (backend) => {
      const spend = (body: Record<string, unknown> = {}) =>
        call(backend, CONSUME, {
          redeem_request_id: crypto.randomUUID(),
          ...body,
        });
      assert.equal((await spend()).json.code, "no_credit");
      backend.setAccountResetCredits({
        credits: [{ id: "c1" }],
        failures: [{ status: 429 }],
      }, ACCOUNT);
      assert.deepEqual(await spend(), {
        status: 429,
        json: { detail: { code: "connector_rate_limit" } },
      });
      assert.equal((await spend()).json.code, "nothing_to_reset");
      backend.setAccountUsage({ limitReached: true }, ACCOUNT);
      assert.equal((await spend({ credit_id: "c1" })).json.code, "reset");
      backend.setAccountUsage({ limitReached: true }, ACCOUNT);
      assert.equal(
        (await spend({ credit_id: "c1" })).json.code,
        "already_redeemed",
      );
      assert.deepEqual(
        await call(backend, CONSUME, { redeem_request_id: "1234" }),
        {
          status: 400,
          json: { detail: "redeem_request_id must be a UUID v4" },
        },
      );
      backend.setAccountResetCredits({
        credits: [{ id: "c9" }],
        ineligible: true,
      }, ACCOUNT);
      assert.deepEqual(await spend(), {
        status: 403,
        json: { detail: { code: "rate_limit_reset_ineligible" } },
      });
      backend.reset();
      assert.equal(backend.redemptions.length, 0);
      assert.equal((await call(backend, LIST)).json.available_count, 0);
    });
  });
});
