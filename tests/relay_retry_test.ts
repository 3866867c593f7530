// The retry policy of one upstream exchange, as the README states it
// ("Relay"): which failures are retried, how often, how long each wait and
// all waits together may last. First against a scripted `fetch` (no socket),
// with the relay's waits recorded and run at once so that a 10 s wait costs
// nothing; then against the simulated backend and real sockets, for what only
// a socket shows.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { RelayError } from "../src/errors.ts";
import { createProvider } from "../src/provider/provider.ts";
import { openUpstream, type RelayContext } from "../src/relay.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { Watchdog } from "../src/watchdog.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const SERVICE = "gpt-5.4";
const BODY = { model: SERVICE, input: "hi" };

/** The README's numbers, written out rather than imported from the code. */
const MAX_RETRIES = 3;
const LONGEST_HONOURED_RETRY_AFTER_MS = 10_000;
const LONGEST_TOTAL_WAIT_MS = 20_000;

/** One scripted upstream answer: a status with headers, or a failed connection. */
type Step =
  | { status: number; headers?: Record<string, string>; body?: string }
  | "network_error";

const COMPLETED =
  'event: response.completed\ndata: {"type":"response.completed"}\n\n';

/**
 * A `fetch` that answers from `steps` in order (200 with one completed event
 * once they run out) and counts its calls. A network error is the
 * `TypeError` a real `fetch` rejects with.
 */
function scriptedFetch(steps: Step[]): { fetch: typeof fetch; calls: number } {
  const script = { calls: 0, fetch: undefined as unknown as typeof fetch };
  script.fetch = (() => {
    script.calls++;
    const step = steps.shift() ?? { status: 200, body: COMPLETED };
    if (step === "network_error") {
      return Promise.reject(
        new TypeError("error sending request: connection refused"),
      );
    }
    return Promise.resolve(
      new Response(step.body ?? "{}", {
        status: step.status,
        headers: step.headers,
      }),
    );
  }) as typeof fetch;
  return script;
}

/**
 * Records every timer started while `run` runs and fires it at once. Against
 * a scripted fetch the relay's waits between attempts are the only timers
 * (the watchdog uses an interval), so the record is exactly what the relay
 * chose to wait, however long.
 */
async function recordingWaits<T>(
  run: () => Promise<T>,
): Promise<{ waits: number[]; outcome: T | RelayError }> {
  const original = globalThis.setTimeout;
  const waits: number[] = [];
  globalThis.setTimeout = ((handler: () => void, ms?: number) => {
    waits.push(ms ?? 0);
    return original(handler, 0);
  }) as unknown as typeof setTimeout;
  try {
    return { waits, outcome: await run() };
  } catch (error) {
    if (error instanceof RelayError) return { waits, outcome: error };
    throw error;
  } finally {
    globalThis.setTimeout = original;
  }
}

function relayContext(
  fetch: typeof globalThis.fetch,
  random = () => 0.5,
): RelayContext {
  return {
    responsesUrl: "http://127.0.0.1:9/backend-api/codex/responses",
    requestTimeoutMs: 60_000,
    idleTimeoutMs: 60_000,
    watchdog: new Watchdog(),
    tokens: fixedTokens(ACCOUNT, TOKEN),
    fetch,
    random,
  };
}

/** Opens one exchange against `steps`; the upstream is closed at once. */
async function exchange(steps: Step[], random?: () => number) {
  const script = scriptedFetch(steps);
  const { waits, outcome } = await recordingWaits(async () => {
    const upstream = await openUpstream(
      { body: JSON.stringify(BODY), sessionId: "session-1" },
      relayContext(script.fetch, random),
    );
    await upstream.body?.cancel();
    upstream.release();
    return "opened" as const;
  });
  return { waits, outcome, calls: script.calls };
}

function failed(outcome: unknown): RelayError {
  assert.ok(
    outcome instanceof RelayError,
    `expected an error, found ${outcome}`,
  );
  return outcome;
}

describe("retry policy: network errors", () => {
  it("retries a failed connection 3 times, then answers 502 upstream_unreachable", async () => {
    const { outcome, calls, waits } = await exchange(
      Array(10).fill("network_error"),
    );
    const error = failed(outcome);
    assert.equal(error.status, 502);
    assert.equal(error.code, "upstream_unreachable");
    assert.equal(calls, 1 + MAX_RETRIES);
    assert.equal(waits.length, MAX_RETRIES);
  });

  it("answers with the attempt that follows a failed connection", async () => {
    const { outcome, calls } = await exchange(["network_error"]);
    assert.equal(outcome, "opened");
    assert.equal(calls, 2);
  });
});

describe("retry policy: waits", () => {
  it("waits exactly the Retry-After the backend asks for", async () => {
    const { outcome, waits } = await exchange([
      { status: 503, headers: { "retry-after": "2" } },
    ]);
    assert.equal(outcome, "opened");
    assert.deepEqual(waits, [2000]);
  });

  it("waits exactly the retry-after-ms the backend asks for", async () => {
    const { outcome, waits } = await exchange([
      { status: 429, headers: { "retry-after-ms": "1500" } },
    ]);
    assert.equal(outcome, "opened");
    assert.deepEqual(waits, [1500]);
  });

  it("waits a Retry-After of 10 s, the longest it honours", async () => {
    const { outcome, waits } = await exchange([
      { status: 429, headers: { "retry-after": "10" } },
    ]);
    assert.equal(outcome, "opened");
    assert.deepEqual(waits, [LONGEST_HONOURED_RETRY_AFTER_MS]);
  });

  it("answers a Retry-After over 10 s to the buyer instead of waiting", async () => {
    const { outcome, waits, calls } = await exchange([
      { status: 429, headers: { "retry-after": "11" } },
    ]);
    const error = failed(outcome);
    assert.equal(error.status, 429);
    assert.equal(error.code, "rate_limited");
    assert.equal(error.headers["retry-after"], "11");
    assert.deepEqual(waits, []);
    assert.equal(calls, 1);
  });

  it("waits 20 s at most in all: gives up before a wait that would pass it", async () => {
    const { outcome, waits, calls } = await exchange(
      Array(4).fill({ status: 503, headers: { "retry-after": "10" } }),
    );
    const error = failed(outcome);
    assert.equal(error.status, 503);
    assert.equal(error.headers["retry-after"], "10");
    assert.deepEqual(waits, [10_000, 10_000]);
    assert.ok(
      waits.reduce((sum, wait) => sum + wait, 0) <= LONGEST_TOTAL_WAIT_MS,
    );
    assert.equal(calls, 3);
  });

  it("backs off with full jitter from 250 ms, doubling per retry", async () => {
    const { outcome, waits, calls } = await exchange(
      Array(5).fill({ status: 502, body: "bad gateway" }),
      () => 0.999,
    );
    assert.equal(failed(outcome).code, "upstream_error");
    assert.deepEqual(waits, [249, 499, 999]);
    assert.equal(calls, 1 + MAX_RETRIES);
  });
});

describe("retry policy through sockets", () => {
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

  function provider(
    config: Record<string, string> = {},
    options: { fetch?: typeof fetch } = {},
  ) {
    return createProvider({
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      ANTSEED_ALLOWED_SERVICES: SERVICE,
      ...config,
    }, {
      tokenSource: fixedTokens(ACCOUNT, TOKEN),
      random: () => 0,
      fetch: options.fetch,
    });
  }

  function responsePosts(): number {
    return backend.requests.filter((request) =>
      request.method === "POST" && request.path.endsWith("/codex/responses")
    ).length;
  }

  it("retries a connection reset before the headers", async () => {
    backend.enqueue({ kind: "reset_before_headers" }, { kind: "text" });
    const result = await callProvider(provider(), {
      body: { ...BODY, stream: true },
    });
    assert.equal(result.status, 200);
    assert.equal(result.doneCount, 1);
    assert.equal(responsePosts(), 2);
  });

  it("tries a refused connection 4 times in all", async () => {
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      // The login's model catalog is read too; only the POSTs are attempts.
      if (init?.method === "POST") attempts++;
      return fetch(input, init);
    };
    const p = provider(
      { OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:1/backend-api" },
      { fetch: counting },
    );
    const result = await callProvider(p, { body: BODY });
    assert.equal(result.status, 502);
    assert.equal(JSON.parse(result.text).error.code, "upstream_unreachable");
    assert.equal(attempts, 1 + MAX_RETRIES);
  });

  it("waits about one second for Retry-After: 1, not several", async () => {
    backend.enqueue(
      { kind: "status", status: 429, headers: { "retry-after": "1" } },
      { kind: "text" },
    );
    const started = Date.now();
    const result = await callProvider(provider(), { body: BODY });
    const elapsed = Date.now() - started;
    assert.equal(result.status, 200);
    assert.ok(elapsed >= 950, `waited ${elapsed} ms`);
    // Three seconds would be Retry-After honoured three times over.
    assert.ok(elapsed < 2500, `waited ${elapsed} ms`);
  });

  it("bounds the read of an error body by the header timeout", async () => {
    // A backend that sends a 400's headers and a first part of its body,
    // then nothing.
    const stuck: Server = createServer((_request, response) => {
      response.writeHead(400, { "content-type": "application/json" });
      response.write('{"detail":"');
    });
    await new Promise<void>((resolve) => stuck.listen(0, "127.0.0.1", resolve));
    const { port } = stuck.address() as AddressInfo;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const p = provider({
        OPENAI_RESPONSES_BASE_URL: `http://127.0.0.1:${port}/backend-api`,
        OPENAI_RESPONSES_REQUEST_TIMEOUT_MS: "300",
      });
      const started = Date.now();
      const result = await Promise.race([
        callProvider(p, { body: BODY }),
        new Promise<"hung">((resolve) => {
          timer = setTimeout(() => resolve("hung"), 5000);
        }),
      ]);
      assert.notEqual(result, "hung", "the error body was read without bound");
      if (result === "hung") return;
      assert.equal(result.status, 400);
      assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
      assert.equal(p.getCapacity().current, 0);
    } finally {
      clearTimeout(timer);
      stuck.closeAllConnections();
      await new Promise((resolve) => stuck.close(resolve));
    }
  });
});
