// serve's model list read from the backend (src/serve/models.ts), through
// the handler as a buyer reaches it: a crowd of buyers on a cold cache, or
// on a failing backend, costs the seller one call with their token, not
// one each. The backend is a node:http server on 127.0.0.1 that counts its
// `GET /codex/models` calls; the clock is the handler's `now`.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createServerHandler,
  type ServedProvider,
} from "../src/serve/handler.ts";
import {
  MODELS_CACHE_MS,
  MODELS_FAILURE_CACHE_MS,
} from "../src/serve/models.ts";

/** As many buyers as the review sent at once. */
const CROWD = 200;

/** What the backend answers next, and whether it holds its answers. */
let status = 200;
let held: ServerResponse[] = [];
let holding = false;
let calls = 0;

function answer(res: ServerResponse): void {
  if (status === 200) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ models: [{ slug: "gpt-5.4" }] }));
  } else {
    res.writeHead(status);
    res.end("busy");
  }
}

const backend = createServer((req, res) => {
  if (!req.url?.startsWith("/backend-api/codex/models")) {
    res.writeHead(404);
    res.end();
    return;
  }
  calls++;
  if (holding) held.push(res);
  else answer(res);
});
let port = 0;

before(async () => {
  await new Promise<void>((resolve) =>
    backend.listen(0, "127.0.0.1", () => resolve())
  );
  port = (backend.address() as AddressInfo).port;
});

after(async () => {
  backend.closeAllConnections();
  await new Promise<void>((resolve) => backend.close(() => resolve()));
});

/** A fresh provider (a cold cache: the cache is per provider) on the backend. */
function provider(): ServedProvider {
  return {
    services: [],
    settings: {
      modelsUrl: `http://127.0.0.1:${port}/backend-api/codex/models`,
      clientVersion: "0.171.0",
      originator: "codex_cli_rs",
      maxBodyBytes: 1024,
    },
    tokens: {
      getToken: () =>
        Promise.resolve({ accessToken: "token", accountId: "acct" }),
    },
    handleRequestStream: () => Promise.reject(new Error("unreached")),
    getCapacity: () => ({ current: 0, max: 1 }),
    getRateLimits: () => undefined,
    usageLimitedUntil: () => undefined,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Status and body of one answer. */
async function read(
  response: Response,
): Promise<{ status: number; body: unknown }> {
  return { status: response.status, body: await response.json() };
}

/** Status and body of each of `count` concurrent `GET path`s. */
function crowd(
  handler: (request: Request) => Promise<Response>,
  count: number,
  path: (index: number) => string,
): Promise<{ status: number; body: unknown }[]> {
  return Promise.all(
    Array.from(
      { length: count },
      (_, index) =>
        handler(new Request(`http://127.0.0.1${path(index)}`)).then(read),
    ),
  );
}

describe("serve's model list from the backend", () => {
  it("answers concurrent requests on a cold cache with one backend call", async () => {
    status = 200;
    calls = 0;
    holding = true;
    const handler = createServerHandler(provider());
    const answers = crowd(
      handler,
      CROWD,
      (index) =>
        index % 2 === 0 ? "/v1/models/gpt-5.4" : `/v1/models/x${index}`,
    );
    // Every request has had the time to reach the backend before any
    // answer comes back.
    for (let waited = 0; calls === 0 && waited < 5_000; waited += 10) {
      await sleep(10);
    }
    await sleep(200);
    holding = false;
    for (const res of held) answer(res);
    held = [];
    const statuses = (await answers).map((answer) => answer.status);
    assert.equal(calls, 1);
    assert.equal(statuses.filter((status) => status === 200).length, CROWD / 2);
    assert.equal(statuses.filter((status) => status === 404).length, CROWD / 2);
  });

  it("answers requests on a failing backend with one call per failure window, each as the live failure was answered", async () => {
    status = 503;
    calls = 0;
    holding = false;
    let clock = 1_700_000_000_000;
    const handler = createServerHandler(provider(), { now: () => clock });
    const live = await read(
      await handler(new Request("http://127.0.0.1/v1/models")),
    );
    assert.equal(live.status, 502);
    assert.equal(
      (live.body as { error: { code: string } }).error.code,
      "upstream_models_unavailable",
    );
    assert.equal(calls, 1);

    clock += MODELS_FAILURE_CACHE_MS - 1;
    const remembered = await crowd(
      handler,
      CROWD,
      (index) => index % 2 === 0 ? "/v1/models" : `/v1/models/x${index}`,
    );
    assert.equal(calls, 1, "the failing backend was asked again");
    for (const answer of remembered) assert.deepEqual(answer, live);

    // Once the window has passed, the backend is asked again (once).
    clock += 1;
    const again = await crowd(handler, CROWD, () => "/v1/models");
    assert.equal(calls, 2);
    for (const answer of again) assert.deepEqual(answer, live);

    // And once it answers, its list is served.
    status = 200;
    clock += MODELS_FAILURE_CACHE_MS;
    const recovered = await read(
      await handler(new Request("http://127.0.0.1/v1/models/gpt-5.4")),
    );
    assert.equal(recovered.status, 200);
    assert.equal(calls, 3);
  });

  it("reuses a list read from the backend for MODELS_CACHE_MS, then reads it again, and at once when the clock was set back", async () => {
    status = 200;
    calls = 0;
    holding = false;
    let clock = 1_700_000_000_000;
    const handler = createServerHandler(provider(), { now: () => clock });
    assert.equal(
      (await handler(new Request("http://127.0.0.1/v1/models"))).status,
      200,
    );
    clock += MODELS_CACHE_MS - 1;
    await crowd(handler, 10, () => "/v1/models");
    assert.equal(calls, 1);
    clock += 1;
    await crowd(handler, 10, () => "/v1/models");
    assert.equal(calls, 2);
    // The clock set back an hour: the list's age is unknown, it is read again.
    clock -= 60 * 60 * 1000;
    await crowd(handler, 10, () => "/v1/models");
    assert.equal(calls, 3);
  });
});
