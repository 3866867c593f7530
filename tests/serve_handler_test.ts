// The local server's web-standard handler, driven with `new Request(...)`
// over a scripted stand-in provider, and its node:http adapter on loopback.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type {
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../src/host_types.ts";
import {
  createServerHandler,
  type ListenOptions,
  loopbackHosts,
  type RunningServer,
  type ServedProvider,
  type ServerLogEntry,
} from "../src/serve/handler.ts";
import { serveWithNodeHttp } from "../src/serve/node.ts";
import {
  bearerToken,
  MAX_API_KEY_LENGTH,
  MAX_AUTHORIZATION_LENGTH,
} from "../src/serve/_api_key.ts";
import { openRaw } from "./fixtures/raw_socket.ts";
import { listModels } from "../src/testing/_fake_models.ts";

const SECRET_TOKEN = "eyJ-secret-access-token";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Script = (
  req: SerializedHttpRequest,
  callbacks: ProviderStreamCallbacks,
  options: { signal?: AbortSignal },
) => Promise<SerializedHttpResponse>;

interface StubProvider extends ServedProvider {
  calls: { req: SerializedHttpRequest; signal?: AbortSignal }[];
}

function stubProvider(
  script: Script = (req) =>
    Promise.resolve({
      requestId: req.requestId,
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: encoder.encode('{"object":"response"}'),
    }),
  overrides: Partial<ServedProvider> = {},
): StubProvider {
  const calls: StubProvider["calls"] = [];
  return {
    calls,
    services: [],
    settings: {
      modelsUrl: "http://127.0.0.1:9/backend-api/codex/models",
      clientVersion: "1.2.3",
      originator: "codex_cli_rs",
      maxBodyBytes: 1024,
    },
    tokens: {
      getToken: () =>
        Promise.resolve({ accessToken: SECRET_TOKEN, accountId: "acct_42" }),
    },
    handleRequestStream(req, callbacks, options = {}) {
      calls.push({ req, signal: options.signal });
      return script(req, callbacks, options);
    },
    getCapacity: () => ({ current: 1, max: 4 }),
    getRateLimits: () => ({ primary: { usedPercent: 12, windowMinutes: 300 } }),
    usageLimitedUntil: () => undefined,
    ...overrides,
  };
}

function post(body: unknown, init: RequestInit = {}): Request {
  return new Request("http://127.0.0.1/v1/responses", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** Starts a stream and returns a function that sends one chunk. */
function streamingScript(
  chunks: string[],
  keepOpen = false,
): Script & { sendLater: (text: string, done?: boolean) => void } {
  let send: (text: string, done?: boolean) => void = () => {};
  let finish: () => void = () => {};
  const script = ((req, callbacks, options) => {
    callbacks.onResponseStart({
      requestId: req.requestId,
      statusCode: 200,
      headers: {
        "content-type": "text/event-stream",
        "x-antseed-streaming": "1",
      },
      body: new Uint8Array(0),
    });
    send = (text, done = false) =>
      callbacks.onResponseChunk({
        requestId: req.requestId,
        data: encoder.encode(text),
        done,
      });
    for (const chunk of chunks) send(chunk);
    if (!keepOpen) send("", true);
    return new Promise<SerializedHttpResponse>((resolve) => {
      finish = () =>
        resolve({
          requestId: req.requestId,
          statusCode: 200,
          headers: { "content-type": "text/event-stream" },
          body: encoder.encode(chunks.join("")),
        });
      if (!keepOpen) finish();
      options.signal?.addEventListener("abort", () => finish(), {
        once: true,
      });
    });
  }) as Script & { sendLater: (text: string, done?: boolean) => void };
  script.sendLater = (text, done) => send(text, done);
  return script;
}

describe("server handler: routes", () => {
  it("answers an unknown path with an OpenAI-shaped 404", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(new Request("http://127.0.0.1/v1/chat"));
    assert.equal(response.status, 404);
    const body = await response.json();
    assert.equal(body.error.code, "not_found");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /Unknown path "\/v1\/chat"/);
  });

  it("answers a wrong method with 405 and an allow header", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(
      new Request("http://127.0.0.1/v1/responses"),
    );
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "POST");
    const body = await response.json();
    assert.equal(body.error.code, "method_not_allowed");
  });

  it("answers POST /health with 405", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(
      new Request("http://127.0.0.1/health", { method: "POST", body: "{}" }),
    );
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET");
    await response.body?.cancel();
  });

  it("logs every request it answers itself", async () => {
    const entries: ServerLogEntry[] = [];
    const handler = createServerHandler(stubProvider(), {
      onRequestDone: (entry) => entries.push(entry),
    });
    await (await handler(new Request("http://127.0.0.1/nope"))).body
      ?.cancel();
    assert.equal(entries.length, 1);
    assert.equal(entries[0].status, 404);
    assert.equal(entries[0].code, "not_found");
    assert.equal(entries[0].path, "/nope");
  });
});

describe("server handler: one log entry per request", () => {
  it("tells of a relayed request once, with the code of the error the provider answered whole", async () => {
    const entries: ServerLogEntry[] = [];
    const handler = createServerHandler(
      stubProvider((req) =>
        Promise.resolve({
          requestId: req.requestId,
          statusCode: 502,
          headers: { "content-type": "application/json" },
          body: encoder.encode(
            '{"error":{"message":"broke","type":"server_error","code":"upstream_stream_error"}}',
          ),
        })
      ),
      { onRequestDone: (entry) => entries.push(entry) },
    );
    const response = await handler(post({ model: "m", input: "hi" }));
    assert.equal(response.status, 502);
    await response.body?.cancel();
    assert.deepEqual(
      entries.map((
        entry,
      ) => [entry.method, entry.path, entry.status, entry.code]),
      [["POST", "/v1/responses", 502, "upstream_stream_error"]],
    );
  });

  it("tells of a relayed request with the provider's request id, and of a success without a code", async () => {
    const entries: ServerLogEntry[] = [];
    const provider = stubProvider();
    const handler = createServerHandler(provider, {
      onRequestDone: (entry) => entries.push(entry),
    });
    await (await handler(post({ model: "m", input: "hi" }))).body?.cancel();
    assert.equal(entries.length, 1);
    assert.equal(entries[0].requestId, provider.calls[0].req.requestId);
    assert.equal(entries[0].status, 200);
    assert.equal(entries[0].code, undefined);
  });

  it("tells of a stream once the provider finished it, not when it started", async () => {
    const entries: ServerLogEntry[] = [];
    let finish: () => void = () => {};
    const handler = createServerHandler(
      stubProvider((req, callbacks) => {
        callbacks.onResponseStart({
          requestId: req.requestId,
          statusCode: 200,
          headers: { "content-type": "text/event-stream" },
          body: encoder.encode("event: a\n\n"),
        });
        return new Promise((resolve) => {
          finish = () => {
            callbacks.onResponseChunk({
              requestId: req.requestId,
              data: new Uint8Array(0),
              done: true,
            });
            resolve({
              requestId: req.requestId,
              statusCode: 200,
              headers: { "content-type": "text/event-stream" },
              body: encoder.encode("event: a\n\n"),
            });
          };
        });
      }),
      { onRequestDone: (entry) => entries.push(entry) },
    );
    const response = await handler(post({ model: "m", stream: true }));
    assert.equal(response.status, 200);
    assert.equal(entries.length, 0, "told before the stream ended");
    finish();
    assert.equal(await response.text(), "event: a\n\n");
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(entries.map((entry) => entry.status), [200]);
  });

  it("tells of a provider that failed as 500 internal_error", async () => {
    const entries: ServerLogEntry[] = [];
    const handler = createServerHandler(
      stubProvider(() => Promise.reject(new Error("boom"))),
      { onRequestDone: (entry) => entries.push(entry) },
    );
    await (await handler(post({ model: "m", input: "hi" }))).body?.cancel();
    assert.deepEqual(
      entries.map((entry) => [entry.status, entry.code]),
      [[500, "internal_error"]],
    );
  });
});

describe("server handler: health", () => {
  it("reports status, capacity and the rate-limit snapshot without secrets", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(new Request("http://127.0.0.1/health"));
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(SECRET_TOKEN));
    assert.deepEqual(JSON.parse(text), {
      status: "ok",
      capacity: { current: 1, max: 4 },
      usageLimitedUntil: null,
      rateLimits: { primary: { usedPercent: 12, windowMinutes: 300 } },
      logins: null,
    });
  });

  it("reports a usage limit with its end as an ISO time", async () => {
    const until = Date.UTC(2030, 0, 2, 3, 4, 5);
    const handler = createServerHandler(
      stubProvider(undefined, { usageLimitedUntil: () => until }),
    );
    const body = await (await handler(
      new Request("http://127.0.0.1/health"),
    )).json();
    assert.equal(body.status, "usage_limited");
    assert.equal(body.usageLimitedUntil, "2030-01-02T03:04:05.000Z");
  });
});

describe("server handler: API key", () => {
  const handler = createServerHandler(stubProvider(), {
    apiKey: "serve-key-123",
  });

  it("refuses a request without a key with 401 invalid_api_key", async () => {
    const response = await handler(new Request("http://127.0.0.1/health"));
    assert.equal(response.status, 401);
    const text = await response.text();
    assert.equal(JSON.parse(text).error.code, "invalid_api_key");
    assert.match(JSON.parse(text).error.message, /found no authorization/);
  });

  it("refuses a wrong key without quoting either key", async () => {
    const response = await handler(
      new Request("http://127.0.0.1/health", {
        headers: { authorization: "Bearer wrong-key-456" },
      }),
    );
    assert.equal(response.status, 401);
    const text = await response.text();
    assert.ok(!text.includes("wrong-key-456"));
    assert.ok(!text.includes("serve-key-123"));
    assert.match(JSON.parse(text).error.message, /found a different key/);
  });

  it("accepts the right key", async () => {
    const response = await handler(
      new Request("http://127.0.0.1/health", {
        headers: { authorization: "Bearer serve-key-123" },
      }),
    );
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it("does not hand the key to the provider", async () => {
    const provider = stubProvider();
    const keyed = createServerHandler(provider, { apiKey: "serve-key-123" });
    const response = await keyed(
      post({ model: "m", input: "hi" }, {
        headers: {
          authorization: "Bearer serve-key-123",
          "content-type": "application/json",
        },
      }),
    );
    await response.body?.cancel();
    assert.equal(provider.calls.length, 1);
    assert.equal(provider.calls[0].req.headers.authorization, undefined);
  });

  it("reads the scheme in any case and whitespace around the key", async () => {
    for (
      const value of [
        "bearer serve-key-123",
        "BEARER \t serve-key-123  ",
        "  Bearer serve-key-123",
      ]
    ) {
      const response = await handler(
        new Request("http://127.0.0.1/health", {
          headers: { authorization: value },
        }),
      );
      assert.equal(response.status, 200, JSON.stringify(value));
      await response.body?.cancel();
    }
  });

  it("takes a value without whitespace after the scheme, or with no key, for no bearer token", () => {
    assert.equal(bearerToken("Bearerserve-key-123"), undefined);
    assert.equal(bearerToken("Bearer   "), undefined);
    assert.equal(bearerToken("Basic serve-key-123"), undefined);
    assert.equal(bearerToken("Bear"), undefined);
    assert.equal(bearerToken(" bearer\tk e y "), "k e y");
  });

  it("refuses an authorization header over 4096 characters with 431 authorization_header_too_large, unread", async () => {
    const tooLong = `Bearer ${"x".repeat(4090)}`;
    const response = await handler(
      new Request("http://127.0.0.1/health", {
        headers: { authorization: tooLong },
      }),
    );
    assert.equal(response.status, 431);
    const body = await response.json();
    assert.equal(body.error.code, "authorization_header_too_large");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(
      body.error.message,
      "Authorization header too large: expected at most 4096 characters, found 4097",
    );
  });

  it("accepts the right key in a header of exactly the cap's length", async () => {
    const key = "k".repeat(MAX_API_KEY_LENGTH);
    const keyed = createServerHandler(stubProvider(), { apiKey: key });
    const value = `Bearer ${key}`;
    assert.equal(value.length, MAX_AUTHORIZATION_LENGTH);
    const response = await keyed(
      new Request("http://127.0.0.1/health", {
        headers: { authorization: value },
      }),
    );
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

describe("server handler: models", () => {
  it("lists the announced services in the OpenAI list shape", async () => {
    const handler = createServerHandler(
      stubProvider(undefined, { services: ["gpt-5.4", "coder"] }),
      { now: () => 1_700_000_000_000 },
    );
    const body = await (await handler(
      new Request("http://127.0.0.1/v1/models"),
    )).json();
    assert.deepEqual(body, {
      object: "list",
      data: [
        {
          id: "gpt-5.4",
          object: "model",
          created: 1_700_000_000,
          owned_by: "openai",
        },
        {
          id: "coder",
          object: "model",
          created: 1_700_000_000,
          owned_by: "openai",
        },
      ],
    });
  });

  it("lists the backend's models with the seller's token when no service is announced", async () => {
    const seen: { url: string; headers: Headers }[] = [];
    const fakeFetch = ((input: URL | RequestInfo, init?: RequestInit) => {
      seen.push({ url: String(input), headers: new Headers(init?.headers) });
      return Promise.resolve(
        Response.json({
          models: [{ slug: "gpt-5.5" }, { slug: "gpt-5.4-mini" }],
        }),
      );
    }) as typeof fetch;
    const handler = createServerHandler(stubProvider(), { fetch: fakeFetch });
    const body = await (await handler(
      new Request("http://127.0.0.1/v1/models"),
    )).json();
    assert.deepEqual(body.data.map((m: { id: string }) => m.id), [
      "gpt-5.5",
      "gpt-5.4-mini",
    ]);
    assert.equal(body.object, "list");
    assert.equal(seen.length, 1);
    assert.equal(
      seen[0].url,
      "http://127.0.0.1:9/backend-api/codex/models?client_version=1.2.3",
    );
    assert.equal(
      seen[0].headers.get("authorization"),
      `Bearer ${SECRET_TOKEN}`,
    );
    assert.equal(seen[0].headers.get("chatgpt-account-id"), "acct_42");
  });

  it("answers 502 upstream_models_unavailable without secrets when the backend fails", async () => {
    const fakeFetch = (() =>
      Promise.resolve(
        new Response("nope", { status: 500 }),
      )) as unknown as typeof fetch;
    const handler = createServerHandler(stubProvider(), { fetch: fakeFetch });
    const response = await handler(new Request("http://127.0.0.1/v1/models"));
    assert.equal(response.status, 502);
    const text = await response.text();
    assert.equal(JSON.parse(text).error.code, "upstream_models_unavailable");
    assert.ok(!text.includes(SECRET_TOKEN));
  });
});

/**
 * The fields the Codex CLI requires of every catalog entry (spec, "The
 * model list"): it refuses the whole list when one entry lacks one.
 */
const REQUIRED_MODEL_FIELDS = [
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

/** A fetch that answers the simulated backend's catalog of `models`, recording the URLs. */
function catalogFetch(
  models: string[],
  minimalVersions: Record<string, string> = {},
): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  const fakeFetch = ((input: URL | RequestInfo) => {
    urls.push(String(input));
    const version = new URL(String(input)).searchParams.get("client_version");
    return Promise.resolve(
      Response.json({
        models: listModels(models, minimalVersions, version ?? undefined),
      }),
    );
  }) as typeof fetch;
  return { fetch: fakeFetch, urls };
}

function assertCompleteEntries(models: Record<string, unknown>[]): void {
  for (const model of models) {
    for (const field of REQUIRED_MODEL_FIELDS) {
      assert.ok(
        Object.hasOwn(model, field),
        `${field} missing from ${JSON.stringify(model)}`,
      );
    }
  }
}

describe("server handler: the Codex CLI's model list (client_version)", () => {
  it("answers the login's catalog in the backend's format {models: [...]}", async () => {
    const backend = catalogFetch(["gpt-5.5", "gpt-5.4"]);
    const handler = createServerHandler(stubProvider(), {
      fetch: backend.fetch,
    });
    const response = await handler(
      new Request("http://127.0.0.1/v1/models?client_version=0.171.0"),
    );
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(Object.keys(body), ["models"]);
    assert.deepEqual(
      body.models,
      listModels(["gpt-5.5", "gpt-5.4"], {}, "1.2.3"),
    );
    assertCompleteEntries(body.models);
    // The upstream catalog is read as the provider speaks (its own version).
    assert.deepEqual(backend.urls, [
      "http://127.0.0.1:9/backend-api/codex/models?client_version=1.2.3",
    ]);
  });

  it("leaves out a model whose minimal_client_version is newer than the client's", async () => {
    const backend = catalogFetch(["gpt-5.5", "gpt-5.6-sol"], {
      "gpt-5.6-sol": "0.144.0",
    });
    const provider = stubProvider(undefined, {
      settings: {
        modelsUrl: "http://127.0.0.1:9/backend-api/codex/models",
        clientVersion: "0.171.0",
        originator: "codex_cli_rs",
        maxBodyBytes: 1024,
      },
    });
    const handler = createServerHandler(provider, { fetch: backend.fetch });
    const slugs = async (version: string) =>
      (await (await handler(
        new Request(`http://127.0.0.1/v1/models?client_version=${version}`),
      )).json()).models.map((model: { slug: string }) => model.slug);
    assert.deepEqual(await slugs("0.171.0"), ["gpt-5.5", "gpt-5.6-sol"]);
    assert.deepEqual(await slugs("0.144.0"), ["gpt-5.5", "gpt-5.6-sol"]);
    assert.deepEqual(await slugs("0.143.9"), ["gpt-5.5"]);
    assert.deepEqual(await slugs("not-a-version"), ["gpt-5.5"]);
  });

  it("lists announced services in that format, with the catalog's entry of each one's model", async () => {
    const backend = catalogFetch(["gpt-5.5", "gpt-5.4"]);
    const provider = stubProvider(undefined, {
      services: ["coder", "gpt-5.5", "house-model"],
      settings: {
        modelsUrl: "http://127.0.0.1:9/backend-api/codex/models",
        clientVersion: "1.2.3",
        originator: "codex_cli_rs",
        maxBodyBytes: 1024,
        aliasMap: { coder: "gpt-5.4", "house-model": "gpt-9" },
        defaultInstructions: "Be brief.",
      },
    });
    const handler = createServerHandler(provider, { fetch: backend.fetch });
    const body = await (await handler(
      new Request("http://127.0.0.1/v1/models?client_version=0.171.0"),
    )).json();
    assertCompleteEntries(body.models);
    const [coder, direct, house] = body.models;
    const [gpt55, gpt54] = listModels(["gpt-5.5", "gpt-5.4"], {}, "1.2.3");
    assert.deepEqual(coder, {
      ...gpt54,
      slug: "coder",
      display_name: "coder",
      priority: 0,
    });
    assert.deepEqual(direct, { ...gpt55, priority: 1 });
    assert.equal(house.slug, "house-model");
    assert.equal(house.priority, 2);
    assert.equal(house.base_instructions, "Be brief.");
  });

  it("lists announced services with the required fields when the catalog cannot be read", async () => {
    const failing = (() =>
      Promise.resolve(
        new Response("nope", { status: 500 }),
      )) as unknown as typeof fetch;
    const handler = createServerHandler(
      stubProvider(undefined, { services: ["gpt-5.4", "coder"] }),
      { fetch: failing },
    );
    const response = await handler(
      new Request("http://127.0.0.1/v1/models?client_version=0.171.0"),
    );
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.deepEqual(
      body.models.map((model: { slug: string }) => model.slug),
      ["gpt-5.4", "coder"],
    );
    assertCompleteEntries(body.models);
  });

  it("answers 502 upstream_models_unavailable when no service is announced and the catalog cannot be read", async () => {
    const failing = (() =>
      Promise.resolve(
        new Response("nope", { status: 500 }),
      )) as unknown as typeof fetch;
    const handler = createServerHandler(stubProvider(), { fetch: failing });
    const response = await handler(
      new Request("http://127.0.0.1/v1/models?client_version=0.171.0"),
    );
    assert.equal(response.status, 502);
    assert.equal(
      (await response.json()).error.code,
      "upstream_models_unavailable",
    );
  });

  it("keeps the OpenAI list without client_version", async () => {
    const backend = catalogFetch(["gpt-5.5"]);
    const handler = createServerHandler(stubProvider(), {
      fetch: backend.fetch,
    });
    const body = await (await handler(
      new Request("http://127.0.0.1/v1/models"),
    )).json();
    assert.equal(body.object, "list");
    assert.deepEqual(body.data.map((model: { id: string }) => model.id), [
      "gpt-5.5",
    ]);
  });
});

describe("server handler: /v1/responses", () => {
  it("hands the provider the method, path, headers and body", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    const response = await handler(
      post({ model: "m", input: "hi" }, {
        headers: { "content-type": "application/json", "x-extra": "1" },
      }),
    );
    await response.body?.cancel();
    const { req } = provider.calls[0];
    assert.equal(req.method, "POST");
    assert.equal(req.path, "/v1/responses");
    assert.equal(req.headers["x-extra"], "1");
    assert.deepEqual(JSON.parse(decoder.decode(req.body)), {
      model: "m",
      input: "hi",
    });
    assert.ok(req.requestId.length > 0);
  });

  it("answers a response resolved without a stream start whole", async () => {
    const handler = createServerHandler(stubProvider((req) =>
      Promise.resolve({
        requestId: req.requestId,
        statusCode: 429,
        headers: { "content-type": "application/json", "retry-after": "7" },
        body: encoder.encode('{"error":{"code":"usage_limit_reached"}}'),
      })
    ));
    const response = await handler(post({ model: "m", input: "hi" }));
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "7");
    assert.deepEqual(await response.json(), {
      error: { code: "usage_limit_reached" },
    });
  });

  it("streams the chunks without the x-antseed-streaming header", async () => {
    const handler = createServerHandler(
      stubProvider(streamingScript(["event: a\n\n", "event: b\n\n"])),
    );
    const response = await handler(post({ model: "m", stream: true }));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("x-antseed-streaming"), null);
    assert.equal(response.headers.get("content-type"), "text/event-stream");
    assert.equal(await response.text(), "event: a\n\nevent: b\n\n");
  });

  it("answers before the stream ends, chunk by chunk", async () => {
    const script = streamingScript(["event: first\n\n"], true);
    const handler = createServerHandler(stubProvider(script));
    const response = await handler(post({ model: "m", stream: true }));
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.equal(decoder.decode(first.value), "event: first\n\n");
    script.sendLater("event: second\n\n", true);
    const second = await reader.read();
    assert.equal(decoder.decode(second.value), "event: second\n\n");
    assert.equal((await reader.read()).done, true);
  });

  it("aborts the provider's signal when the client cancels the stream", async () => {
    const provider = stubProvider(streamingScript(["event: a\n\n"], true));
    const handler = createServerHandler(provider);
    const response = await handler(post({ model: "m", stream: true }));
    const signal = provider.calls[0].signal!;
    assert.equal(signal.aborted, false);
    await response.body!.cancel();
    assert.equal(signal.aborted, true);
  });

  it("aborts the provider's signal when the request's signal aborts", async () => {
    const provider = stubProvider(streamingScript([], true));
    const handler = createServerHandler(provider);
    const client = new AbortController();
    const response = await handler(
      post({ model: "m", stream: true }, { signal: client.signal }),
    );
    client.abort();
    assert.equal(provider.calls[0].signal!.aborted, true);
    await response.body!.cancel().catch(() => {});
  });

  it("makes the chunk callback throw once the client has gone", async () => {
    const script = streamingScript([], true);
    const handler = createServerHandler(stubProvider(script));
    const response = await handler(post({ model: "m", stream: true }));
    await response.body!.cancel();
    assert.throws(() => script.sendLater("late"), /closed/);
  });

  it("refuses a body larger than the limit with 413 without calling the provider", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    const response = await handler(post("x".repeat(2000)));
    assert.equal(response.status, 413);
    assert.equal((await response.json()).error.code, "request_too_large");
    assert.equal(provider.calls.length, 0);
  });

  it("answers 500 internal_error when the provider throws before a stream starts", async () => {
    const handler = createServerHandler(
      stubProvider(() => Promise.reject(new Error(`boom ${SECRET_TOKEN}`))),
    );
    const response = await handler(post({ model: "m" }));
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.equal(JSON.parse(text).error.code, "internal_error");
    assert.ok(!text.includes(SECRET_TOKEN));
  });

  it("ends a started stream with an error event when the provider throws", async () => {
    const handler = createServerHandler(stubProvider((req, callbacks) => {
      callbacks.onResponseStart({
        requestId: req.requestId,
        statusCode: 200,
        headers: { "content-type": "text/event-stream" },
        body: new Uint8Array(0),
      });
      return Promise.reject(new Error("boom"));
    }));
    const response = await handler(post({ model: "m", stream: true }));
    const text = await response.text();
    assert.match(text, /^event: error\ndata: .*"internal_error"/);
  });
});

describe("server handler: host check", () => {
  const hosts = loopbackHosts("127.0.0.1", 8787);

  function health(host?: string, url = "http://127.0.0.1:8787/health") {
    return new Request(url, { headers: host ? { host } : {} });
  }

  it("lists the bound address and the loopback names with the port", () => {
    assert.deepEqual(loopbackHosts("127.0.0.1", 8787), [
      "127.0.0.1:8787",
      "localhost:8787",
      "[::1]:8787",
    ]);
    assert.deepEqual(loopbackHosts("::1", 1234), [
      "[::1]:1234",
      "localhost:1234",
      "127.0.0.1:1234",
    ]);
    assert.deepEqual(loopbackHosts("127.0.0.2", 80)[0], "127.0.0.2:80");
  });

  it("refuses a foreign host with 421 invalid_host without calling the provider", async () => {
    const provider = stubProvider();
    const entries: ServerLogEntry[] = [];
    const handler = createServerHandler(provider, {
      allowedHosts: hosts,
      onRequestDone: (entry) => entries.push(entry),
    });
    const response = await handler(
      post({ model: "m", input: "hi" }, {
        headers: {
          host: "rebound.evil.example:8787",
          "content-type": "application/json",
        },
      }),
    );
    assert.equal(response.status, 421);
    const body = await response.json();
    assert.equal(body.error.code, "invalid_host");
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(
      body.error.message,
      /expected one of "127\.0\.0\.1:8787", "localhost:8787", "\[::1\]:8787", found "rebound\.evil\.example:8787"/,
    );
    assert.equal(provider.calls.length, 0);
    assert.deepEqual(
      entries.map((entry) => [entry.status, entry.code]),
      [[421, "invalid_host"]],
    );
  });

  it("refuses another port, a missing port and a trailing dot", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedHosts: hosts,
    });
    for (const host of ["localhost:8788", "localhost", "localhost.:8787"]) {
      const response = await handler(health(host));
      assert.equal(response.status, 421, host);
      await response.body?.cancel();
    }
  });

  it("accepts the listed hosts whatever their case", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedHosts: hosts,
    });
    for (const host of ["127.0.0.1:8787", "LOCALHOST:8787", "[::1]:8787"]) {
      const response = await handler(health(host));
      assert.equal(response.status, 200, host);
      await response.body?.cancel();
    }
  });

  it("takes a host without a port for port 80", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedHosts: loopbackHosts("127.0.0.1", 80),
    });
    const response = await handler(health("localhost"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it("judges the URL's authority when there is no host header", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedHosts: hosts,
    });
    const refused = await handler(
      health(undefined, "http://rebound.evil.example:8787/health"),
    );
    assert.equal(refused.status, 421);
    await refused.body?.cancel();
    const served = await handler(health(undefined));
    assert.equal(served.status, 200);
    await served.body?.cancel();
  });

  it("asks a function for the hosts on every request", async () => {
    let current: string[] = [];
    const handler = createServerHandler(stubProvider(), {
      allowedHosts: () => current,
    });
    const before = await handler(health("127.0.0.1:8787"));
    assert.equal(before.status, 421);
    assert.match((await before.json()).error.message, /not listening/);
    current = hosts;
    const after = await handler(health("127.0.0.1:8787"));
    assert.equal(after.status, 200);
    await after.body?.cancel();
  });

  it("accepts any host without allowedHosts", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(health("seller.example.net:8787"));
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });
});

describe("server handler: origin check and CORS", () => {
  const ORIGIN = "http://localhost:3000";

  it("refuses a request with an origin by default with 403 origin_not_allowed", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    const response = await handler(
      post("{}", {
        headers: { origin: ORIGIN, "content-type": "text/plain" },
      }),
    );
    assert.equal(response.status, 403);
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    const body = await response.json();
    assert.equal(body.error.code, "origin_not_allowed");
    assert.match(
      body.error.message,
      /OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS, found "http:\/\/localhost:3000"/,
    );
    assert.equal(provider.calls.length, 0);
  });

  it("refuses an unlisted origin before asking for the API key", async () => {
    const handler = createServerHandler(stubProvider(), {
      apiKey: "k",
      allowedOrigins: [ORIGIN],
    });
    const response = await handler(
      new Request("http://127.0.0.1/health", {
        headers: { origin: "http://localhost:3001" },
      }),
    );
    assert.equal(response.status, 403);
    assert.equal((await response.json()).error.code, "origin_not_allowed");
  });

  it("adds access-control-allow-origin and vary to the answers of a listed origin, errors included", async () => {
    const handler = createServerHandler(stubProvider(), {
      apiKey: "k",
      allowedOrigins: [ORIGIN],
    });
    const served = await handler(
      new Request("http://127.0.0.1/health", {
        headers: { origin: ORIGIN, authorization: "Bearer k" },
      }),
    );
    assert.equal(served.status, 200);
    assert.equal(served.headers.get("access-control-allow-origin"), ORIGIN);
    assert.match(served.headers.get("vary") ?? "", /origin/i);
    await served.body?.cancel();
    const refused = await handler(
      new Request("http://127.0.0.1/health", { headers: { origin: ORIGIN } }),
    );
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("access-control-allow-origin"), ORIGIN);
    await refused.body?.cancel();
  });

  it("lets a page of a listed origin read retry-after (access-control-expose-headers)", async () => {
    const handler = createServerHandler(
      stubProvider((req) =>
        Promise.resolve({
          requestId: req.requestId,
          statusCode: 429,
          headers: { "content-type": "application/json", "retry-after": "7" },
          body: encoder.encode(
            '{"error":{"message":"busy","type":"rate_limit_error","code":"provider_at_capacity"}}',
          ),
        })
      ),
      { allowedOrigins: [ORIGIN] },
    );
    const response = await handler(
      post({ model: "m", input: "hi" }, {
        headers: { origin: ORIGIN, "content-type": "application/json" },
      }),
    );
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "7");
    const exposed = (response.headers.get("access-control-expose-headers") ??
      "").split(",").map((name) => name.trim().toLowerCase());
    assert.ok(exposed.includes("retry-after"), exposed.join(", "));
    await response.body?.cancel();
  });

  it("refuses origins that extend or shorten a listed one (another host, another port) with 403", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider, {
      allowedOrigins: [ORIGIN],
    });
    for (
      const origin of [
        "http://localhost:3000.evil.example",
        "http://localhost:30001",
        "http://localhost:300",
        "http://localhost:3000@evil.example",
        "https://localhost:3000",
      ]
    ) {
      const response = await handler(
        new Request("http://127.0.0.1/health", { headers: { origin } }),
      );
      assert.equal(response.status, 403, origin);
      assert.equal(response.headers.get("access-control-allow-origin"), null);
      assert.equal((await response.json()).error.code, "origin_not_allowed");
    }
  });

  it("streams to a listed origin with access-control-allow-origin", async () => {
    const handler = createServerHandler(
      stubProvider(streamingScript(["event: a\n\n"])),
      { allowedOrigins: [ORIGIN] },
    );
    const response = await handler(
      post({ model: "m", stream: true }, {
        headers: { origin: ORIGIN, "content-type": "application/json" },
      }),
    );
    assert.equal(response.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(await response.text(), "event: a\n\n");
  });

  it("answers the preflight of a listed origin with 204, without the API key", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider, {
      apiKey: "k",
      allowedOrigins: [ORIGIN],
    });
    const response = await handler(
      new Request("http://127.0.0.1/v1/responses", {
        method: "OPTIONS",
        headers: {
          origin: ORIGIN,
          "access-control-request-method": "POST",
          "access-control-request-headers":
            "authorization, content-type, x-stainless-retry-count",
        },
      }),
    );
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-origin"), ORIGIN);
    assert.equal(response.headers.get("access-control-allow-methods"), "POST");
    assert.equal(
      response.headers.get("access-control-allow-headers"),
      "authorization, content-type, x-stainless-retry-count",
    );
    assert.equal(response.headers.get("access-control-max-age"), "600");
    assert.match(response.headers.get("vary") ?? "", /\borigin\b/i);
    assert.equal(provider.calls.length, 0);
  });

  it("allows authorization and content-type in a preflight that names no header", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedOrigins: [ORIGIN],
    });
    const response = await handler(
      new Request("http://127.0.0.1/health", {
        method: "OPTIONS",
        headers: { origin: ORIGIN, "access-control-request-method": "GET" },
      }),
    );
    assert.equal(response.status, 204);
    assert.equal(response.headers.get("access-control-allow-methods"), "GET");
    assert.equal(
      response.headers.get("access-control-allow-headers"),
      "authorization, content-type",
    );
  });

  it("answers a preflight on an unknown path with 404", async () => {
    const handler = createServerHandler(stubProvider(), {
      allowedOrigins: [ORIGIN],
    });
    const response = await handler(
      new Request("http://127.0.0.1/v1/embeddings", {
        method: "OPTIONS",
        headers: { origin: ORIGIN, "access-control-request-method": "POST" },
      }),
    );
    assert.equal(response.status, 404);
    assert.equal(response.headers.get("access-control-allow-origin"), ORIGIN);
    await response.body?.cancel();
  });

  it("answers OPTIONS without an origin with 405 as before", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(
      new Request("http://127.0.0.1/v1/responses", { method: "OPTIONS" }),
    );
    assert.equal(response.status, 405);
    await response.body?.cancel();
  });
});

describe("server handler: content type", () => {
  it("refuses a text/plain POST /v1/responses with 415 without calling the provider", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    const response = await handler(
      post({ model: "m" }, { headers: { "content-type": "text/plain" } }),
    );
    assert.equal(response.status, 415);
    const body = await response.json();
    assert.equal(body.error.code, "unsupported_media_type");
    assert.match(body.error.message, /found "text\/plain"$/);
    assert.equal(provider.calls.length, 0);
  });

  it("refuses a POST /v1/responses without content-type with 415", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(
      new Request("http://127.0.0.1/v1/responses", {
        method: "POST",
        body: new TextEncoder().encode("{}"),
      }),
    );
    assert.equal(response.status, 415);
    assert.match(
      (await response.json()).error.message,
      /found no content-type header$/,
    );
  });

  it("refuses a non-JSON body before measuring it", async () => {
    const handler = createServerHandler(stubProvider());
    const response = await handler(
      post("x".repeat(2000), { headers: { "content-type": "text/plain" } }),
    );
    assert.equal(response.status, 415);
    await response.body?.cancel();
  });

  it("accepts application/json with parameters, in any case", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    const response = await handler(
      post({ model: "m" }, {
        headers: { "content-type": "Application/JSON ; charset=utf-8" },
      }),
    );
    assert.equal(response.status, 200);
    await response.body?.cancel();
    assert.equal(provider.calls.length, 1);
  });
});

describe("node:http adapter", () => {
  it("serves the handler on loopback and reports the real port", async () => {
    const server = await serveWithNodeHttp(
      (request) => Promise.resolve(new Response(new URL(request.url).pathname)),
      { hostname: "127.0.0.1", port: 0 },
    );
    try {
      assert.ok(server.port > 0);
      const response = await fetch(`http://127.0.0.1:${server.port}/ping`);
      assert.equal(await response.text(), "/ping");
    } finally {
      await server.close(1000);
    }
  });

  it("passes a request body through as a stream", async () => {
    const server = await serveWithNodeHttp(
      async (request) => new Response(`got ${(await request.text()).length}`),
      { hostname: "127.0.0.1", port: 0 },
    );
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/`, {
        method: "POST",
        body: "y".repeat(100_000),
      });
      assert.equal(await response.text(), "got 100000");
    } finally {
      await server.close(1000);
    }
  });

  it("aborts the request signal when the client disconnects mid-stream", async () => {
    let aborted: () => void = () => {};
    const abortSeen = new Promise<void>((resolve) => {
      aborted = resolve;
    });
    let timer: ReturnType<typeof setInterval> | undefined;
    const server = await serveWithNodeHttp((request) => {
      request.signal.addEventListener("abort", () => aborted(), { once: true });
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(() => {
            try {
              controller.enqueue(encoder.encode("tick\n"));
            } catch {
              clearInterval(timer);
            }
          }, 10);
        },
        cancel() {
          clearInterval(timer);
        },
      });
      return Promise.resolve(new Response(body));
    }, { hostname: "127.0.0.1", port: 0 });
    const client = new AbortController();
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/`, {
        signal: client.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      client.abort();
      await reader.cancel().catch(() => {});
      let deadline: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        abortSeen,
        new Promise((_, reject) => {
          deadline = setTimeout(
            () => reject(new Error("request signal not aborted within 2 s")),
            2000,
          );
        }),
      ]).finally(() => clearTimeout(deadline));
    } finally {
      clearInterval(timer);
      await server.close(1000);
    }
  });

  it("lets a request in flight finish when closing", async () => {
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await serveWithNodeHttp(async () => {
      await released;
      return new Response("finished");
    }, { hostname: "127.0.0.1", port: 0 });
    const answer = fetch(`http://127.0.0.1:${server.port}/`).then((r) =>
      r.text()
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close(5000);
    setTimeout(release, 50);
    assert.equal(await answer, "finished");
    await closing;
  });
});

describe("node:http adapter: slow clients", () => {
  const SHORT_MS = 300;
  const LONG_MS = 20_000;

  /** The handler over a stub provider, served with the given timeouts (others long). */
  async function serveSlow(
    timeouts: Partial<ListenOptions>,
    provider: StubProvider = stubProvider(),
  ): Promise<RunningServer> {
    return await serveWithNodeHttp(createServerHandler(provider), {
      hostname: "127.0.0.1",
      port: 0,
      headersTimeoutMs: LONG_MS,
      bodyTimeoutMs: LONG_MS,
      keepAliveTimeoutMs: LONG_MS,
      ...timeouts,
    });
  }

  it("answers 408 and closes a connection whose headers are not complete within headersTimeoutMs", async () => {
    const server = await serveSlow({ headersTimeoutMs: SHORT_MS });
    try {
      const connection = await openRaw(
        server.port,
        "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n",
      );
      const closedAfter = await connection.closedWithin(3_000);
      assert.ok(closedAfter !== undefined, "still open after 3 s");
      assert.ok(closedAfter >= SHORT_MS - 50, `closed after ${closedAfter} ms`);
      assert.match(connection.received(), /^HTTP\/1\.1 408 /);
    } finally {
      await server.close(100);
    }
  });

  it("closes a connection that sends nothing within headersTimeoutMs", async () => {
    const server = await serveSlow({ headersTimeoutMs: SHORT_MS });
    try {
      const connection = await openRaw(server.port);
      assert.ok(
        await connection.closedWithin(3_000) !== undefined,
        "still open after 3 s",
      );
    } finally {
      await server.close(100);
    }
  });

  it("answers 408 request_body_timeout to a body that pauses for longer than bodyTimeoutMs, closes the connection, and never calls the provider", async () => {
    const provider = stubProvider();
    const server = await serveSlow({ bodyTimeoutMs: SHORT_MS }, provider);
    try {
      const connection = await openRaw(
        server.port,
        "POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          "content-type: application/json\r\ncontent-length: 100\r\n\r\n" +
          '{"model":',
      );
      const closedAfter = await connection.closedWithin(3_000);
      assert.ok(closedAfter !== undefined, "still open after 3 s");
      assert.ok(closedAfter >= SHORT_MS - 50, `closed after ${closedAfter} ms`);
      const answer = connection.received();
      assert.match(answer, /^HTTP\/1\.1 408 /);
      assert.match(answer, /connection: close/i);
      assert.match(answer, /"code":"request_body_timeout"/);
      assert.equal(provider.calls.length, 0);
    } finally {
      await server.close(100);
    }
  });

  it("accepts a body that arrives slowly but never pauses for bodyTimeoutMs", async () => {
    const provider = stubProvider();
    const server = await serveSlow({ bodyTimeoutMs: SHORT_MS }, provider);
    try {
      const body = JSON.stringify({ model: "m", input: "a slow body" });
      const connection = await openRaw(
        server.port,
        "POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n" +
          `content-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
      );
      // Longer in all than the pause bound, in pauses shorter than it.
      for (let offset = 0; offset < body.length; offset += 10) {
        await new Promise((resolve) => setTimeout(resolve, SHORT_MS / 3));
        connection.socket.write(body.slice(offset, offset + 10));
      }
      assert.ok(await connection.closedWithin(3_000) !== undefined);
      assert.match(connection.received(), /^HTTP\/1\.1 200 /);
      assert.equal(decoder.decode(provider.calls[0].req.body), body);
    } finally {
      await server.close(100);
    }
  });

  it("closes an idle keep-alive connection after keepAliveTimeoutMs (and Node's second of grace)", async () => {
    const server = await serveSlow({ keepAliveTimeoutMs: SHORT_MS });
    try {
      const connection = await openRaw(
        server.port,
        "GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
      );
      const closedAfter = await connection.closedWithin(4_000);
      assert.ok(closedAfter !== undefined, "still open after 4 s");
      assert.ok(closedAfter >= SHORT_MS, `closed after ${closedAfter} ms`);
      assert.match(connection.received(), /^HTTP\/1\.1 200 /);
      assert.match(connection.received(), /keep-alive/i);
    } finally {
      await server.close(100);
    }
  });

  it("ends the connection of a request answered before its body arrived, without waiting for the rest", async () => {
    const server = await serveSlow({});
    try {
      const connection = await openRaw(
        server.port,
        "POST /nope HTTP/1.1\r\nhost: 127.0.0.1\r\n" +
          "content-type: application/json\r\ncontent-length: 100\r\n\r\n{",
      );
      const closedAfter = await connection.closedWithin(3_000);
      assert.ok(closedAfter !== undefined, "still open after 3 s");
      assert.match(connection.received(), /^HTTP\/1\.1 404 /);
      assert.match(connection.received(), /connection: close/i);
    } finally {
      await server.close(100);
    }
  });
});

describe("server handler: one model and the buyer scope", () => {
  it("answers GET /v1/models/{id} with the model, and 404 model_not_found for another", async () => {
    const handler = createServerHandler(
      stubProvider(undefined, { services: ["gpt-5.4", "gpt 5/x"] }),
    );
    const found = await handler(
      new Request("http://127.0.0.1/v1/models/gpt-5.4"),
    );
    assert.equal(found.status, 200);
    const model = await found.json();
    assert.equal(model.id, "gpt-5.4");
    assert.equal(model.object, "model");
    const escaped = await handler(
      new Request("http://127.0.0.1/v1/models/gpt%205%2Fx"),
    );
    assert.equal((await escaped.json()).id, "gpt 5/x");
    const missing = await handler(
      new Request("http://127.0.0.1/v1/models/gpt-9"),
    );
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "model_not_found");
    const post = await handler(
      new Request("http://127.0.0.1/v1/models/gpt-5.4", { method: "POST" }),
    );
    assert.equal(post.status, 405);
  });

  it("hands the provider its own buyer scope, never one a client sends", async () => {
    const provider = stubProvider();
    const handler = createServerHandler(provider);
    await handler(
      new Request("http://127.0.0.1/v1/responses", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-antseed-buyer-peer-id": "someone-else",
          "x-antseed-other": "1",
        },
        body: '{"model":"gpt-5.4"}',
      }),
    );
    const headers = provider.calls[0].req.headers;
    assert.equal(headers["x-antseed-buyer-peer-id"], "serve");
    assert.equal(headers["x-antseed-other"], undefined);
  });
});

describe("server handler: health of each login", () => {
  it("lists each login with its state, usage-limit end, rate limits and banked resets, no secret", async () => {
    const until = Date.UTC(2030, 0, 2, 3, 4, 5);
    const handler = createServerHandler(
      stubProvider(undefined, {
        logins: () =>
          Promise.resolve([
            {
              name: "work",
              state: "ok",
              inFlight: 1,
              resetCredits: {
                availableCount: 2,
                credits: [
                  { id: "credit_a", expiresAt: until },
                  { id: "credit_b" },
                ],
              },
            },
            {
              name: "home",
              state: "usage_limited",
              inFlight: 0,
              usageLimitedUntil: until,
              rateLimits: { primary: { usedPercent: 100 } },
              usageError: "The usage endpoint answered 503",
              resetCreditsError: "The reset endpoint answered 404",
            },
          ]),
      }),
    );
    const body = await (await handler(
      new Request("http://127.0.0.1/health"),
    )).json();
    assert.deepEqual(body.logins, [
      {
        name: "work",
        state: "ok",
        inFlight: 1,
        usageLimitedUntil: null,
        rateLimits: null,
        usage: null,
        usageUnavailable: null,
        resets: {
          available: 2,
          expiresAt: ["2030-01-02T03:04:05.000Z", null],
        },
        resetsUnavailable: null,
      },
      {
        name: "home",
        state: "usage_limited",
        inFlight: 0,
        usageLimitedUntil: "2030-01-02T03:04:05.000Z",
        rateLimits: { primary: { usedPercent: 100 } },
        usage: null,
        usageUnavailable: "The usage endpoint answered 503",
        resets: null,
        resetsUnavailable: "The reset endpoint answered 404",
      },
    ]);
    // Credit ids are the backend's handles for spending: /health shows none.
    assert.doesNotMatch(JSON.stringify(body), /credit_a/);
  });
});
