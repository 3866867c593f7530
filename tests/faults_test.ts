// Faults: every way the upstream, the token endpoint or the auth file can
// fail, each for a streaming and a non-streaming buyer through the
// seller-node emulation. Each ends with its documented error code (in the
// JSON error, or in the final `response.failed` event of a started stream,
// which then has exactly one done chunk), leaves no slot taken, and the next
// good request succeeds.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTokenSource } from "../src/auth/token_source.ts";
import type { TokenSource } from "../src/auth/types.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeBehaviour,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { makeAccessToken, makeAuthJson } from "../src/testing/jwt.ts";
import { type BuyerResult, callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const SERVICE = "gpt-5.4";
/** Short timeouts keep the header and idle faults fast. */
const TIMEOUT_MS = 400;
const MODES = [true, false] as const;
/** How often the credential faults' token source looks at auth.json. */
const STAT_INTERVAL_MS = 50;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let backend: FakeCodexBackend;
/** Access tokens the fake backend refuses (401), e.g. of a replaced login. */
const revoked = new Set<string>();
let dir: string;

/** A free loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function provider(
  options: { tokenSource?: TokenSource; fetch?: typeof fetch } = {},
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: join(dir, "unused-auth.json"),
    OPENAI_RESPONSES_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS),
    OPENAI_RESPONSES_IDLE_TIMEOUT_MS: String(TIMEOUT_MS),
    ANTSEED_ALLOWED_SERVICES: SERVICE,
  }, {
    tokenSource: options.tokenSource ??
      fixedTokens(ACCOUNT, makeAccessToken({ accountId: ACCOUNT })),
    fetch: options.fetch,
    random: () => 0,
  });
}

/** The requests of buyers' turns (the login's model catalog is read besides). */
function responsePosts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function ask(p: OpenAIResponsesProvider, stream: boolean) {
  return callProvider(p, { body: { model: SERVICE, input: "hi", stream } });
}

// deno-lint-ignore no-explicit-any
function sseEvents(text: string): { event: string; data: any }[] {
  return text.split("\n\n").filter((frame) => frame.trim() !== "").map(
    (frame) => {
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? "message";
      const data = frame.split("\n").filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim()).join("\n");
      try {
        return { event, data: JSON.parse(data) };
      } catch {
        return { event, data };
      }
    },
  );
}

/** The error code a buyer sees, and where it saw it. */
function errorOf(result: BuyerResult): { status: number; code?: string } {
  if (result.mode === "stream") {
    const last = sseEvents(result.text).at(-1);
    const code = last?.event === "response.failed"
      ? last.data?.response?.error?.code
      : last?.event === "error"
      ? last.data?.code ?? last.data?.error?.code
      : undefined;
    return { status: result.status, code };
  }
  try {
    return {
      status: result.status,
      code: JSON.parse(result.text).error?.code,
    };
  } catch {
    return { status: result.status };
  }
}

/** Asserts the documented failure, the done-chunk rule and a free slot. */
function assertFailure(
  result: BuyerResult,
  p: OpenAIResponsesProvider,
  expected: { status: number; code: string; streamed: boolean },
  stream: boolean,
  busy = 0,
): void {
  assert.deepEqual(result.violations, []);
  const streamed = stream && expected.streamed;
  assert.equal(result.mode, streamed ? "stream" : "whole", result.text);
  assert.equal(result.doneCount, streamed ? 1 : 0);
  assert.deepEqual(errorOf(result), {
    status: streamed ? 200 : expected.status,
    code: expected.code,
  });
  assert.equal(p.getCapacity().current, busy);
}

async function assertRecovers(
  p: OpenAIResponsesProvider,
  stream: boolean,
): Promise<void> {
  const result = await ask(p, stream);
  assert.equal(result.status, 200, result.text);
  assert.deepEqual(result.violations, []);
  if (stream) {
    assert.equal(result.doneCount, 1);
    assert.equal(sseEvents(result.text).at(-1)?.event, "response.completed");
  } else {
    assert.equal(JSON.parse(result.text).status, "completed");
  }
  assert.equal(p.getCapacity().current, 0);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "faults-"));
  backend = await startFakeCodexBackend({
    acceptToken: (token) => !revoked.has(token),
  });
});

after(async () => {
  await backend?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  backend.reset();
});

/** Upstream faults scripted on the simulated backend. */
const SCRIPTED: {
  name: string;
  /** Answers every request until the fault ends (a storm). */
  storm?: FakeBehaviour;
  /** Answers the next requests, in order. */
  behaviours?: FakeBehaviour[];
  expected: { status: number; code: string; streamed: boolean };
}[] = [
  {
    name: "reset before headers (every attempt)",
    storm: { kind: "reset_before_headers" },
    expected: { status: 502, code: "upstream_unreachable", streamed: false },
  },
  {
    name: "reset mid-stream",
    behaviours: [{ kind: "reset_mid_stream" }],
    expected: { status: 502, code: "upstream_stream_error", streamed: true },
  },
  {
    name: "headers never sent",
    behaviours: [{ kind: "headers_never" }],
    expected: { status: 504, code: "upstream_timeout", streamed: false },
  },
  {
    name: "stall mid-stream",
    behaviours: [{ kind: "stall" }],
    expected: { status: 504, code: "upstream_idle_timeout", streamed: true },
  },
  {
    name: "truncated SSE event",
    behaviours: [{ kind: "truncated" }],
    expected: {
      status: 502,
      code: "upstream_stream_incomplete",
      streamed: true,
    },
  },
  {
    name: "no terminal event",
    behaviours: [{ kind: "no_terminal" }],
    expected: {
      status: 502,
      code: "upstream_stream_incomplete",
      streamed: true,
    },
  },
  {
    name: "response.failed",
    behaviours: [{ kind: "failed", code: "server_is_overloaded" }],
    expected: { status: 503, code: "server_is_overloaded", streamed: true },
  },
  {
    name: "5xx storm (500 on every attempt)",
    storm: { kind: "status", status: 500 },
    expected: { status: 502, code: "upstream_error", streamed: false },
  },
  {
    name: "503 storm (on every attempt)",
    storm: { kind: "status", status: 503 },
    expected: { status: 503, code: "server_is_overloaded", streamed: false },
  },
];

describe("upstream faults", () => {
  for (const fault of SCRIPTED) {
    for (const stream of MODES) {
      const buyer = stream ? "streaming" : "non-streaming";
      it(`${fault.name}: ${buyer} buyer gets ${fault.expected.code}, then recovers`, async () => {
        const p = provider();
        if (fault.storm) backend.setDefault(fault.storm);
        backend.enqueue(...fault.behaviours ?? []);
        let result: BuyerResult;
        try {
          result = await ask(p, stream);
        } finally {
          backend.setDefault({ kind: "text" });
        }
        assertFailure(result, p, fault.expected, stream);
        await assertRecovers(p, stream);
      });
    }
  }

  for (const stream of MODES) {
    const buyer = stream ? "streaming" : "non-streaming";
    it(`connection refused: ${buyer} buyer gets upstream_unreachable, then recovers`, async () => {
      const refused = `http://127.0.0.1:${await closedPort()}`;
      const origin = new URL(backend.baseUrl).origin;
      let down = true;
      const p = provider({
        fetch: (input, init) =>
          fetch(down ? String(input).replace(origin, refused) : input, init),
      });
      const result = await ask(p, stream);
      assertFailure(result, p, {
        status: 502,
        code: "upstream_unreachable",
        streamed: false,
      }, stream);
      down = false;
      await assertRecovers(p, stream);
    });

    it(`429 storm with Retry-After: 1: ${buyer} buyer waits, then gets rate_limited with retry-after`, async () => {
      const p = provider();
      backend.setDefault({
        kind: "status",
        status: 429,
        headers: { "retry-after": "1" },
      });
      const started = Date.now();
      let result: BuyerResult;
      try {
        result = await ask(p, stream);
      } finally {
        backend.setDefault({ kind: "text" });
      }
      const elapsed = Date.now() - started;
      assertFailure(result, p, {
        status: 429,
        code: "rate_limited",
        streamed: false,
      }, stream);
      assert.ok(result.headers["retry-after"], "retry-after is passed on");
      assert.ok(elapsed >= 2900, `honoured Retry-After (${elapsed} ms)`);
      assert.equal(responsePosts().length, 4, "three retries");
      await assertRecovers(p, stream);
    });

    it(`usage limit: ${buyer} buyer gets usage_limit_reached, then recovers after the reset`, async () => {
      const p = provider();
      backend.enqueue({ kind: "usage_limit", resetsInSeconds: 1 });
      const result = await ask(p, stream);
      assertFailure(
        result,
        p,
        {
          status: 429,
          code: "usage_limit_reached",
          streamed: false,
        },
        stream,
        p.getCapacity().max,
      ); // reported full while limited
      assert.ok(p.usageLimitedUntil() !== undefined, "the limit is kept");
      // Both the provider and the simulated backend hold the limit until the
      // same reset second.
      const deadline = Date.now() + 4000;
      while (p.usageLimitedUntil() !== undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await assertRecovers(p, stream);
    });
  }
});

/** Waits (at most 5 s) until the simulated backend holds one answer open. */
async function untilHeld(): Promise<void> {
  const deadline = Date.now() + 5000;
  while (backend.inFlight === 0) {
    assert.ok(Date.now() < deadline, "the request never reached the backend");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** An auth.json in its own folder, and a provider over it with the real token source. */
async function login(
  name: string,
  options: { exp?: number; refreshToken: string; tokenUrl: string },
): Promise<{ authFile: string; p: OpenAIResponsesProvider }> {
  const authFile = join(dir, `${name}-auth.json`);
  await writeFile(
    authFile,
    JSON.stringify(makeAuthJson({
      exp: options.exp,
      refreshToken: options.refreshToken,
      extra: { jti: name },
    })),
    { mode: 0o600 },
  );
  const tokens = createTokenSource(authFile, {
    tokenUrl: options.tokenUrl,
    statIntervalMs: STAT_INTERVAL_MS,
    backoffMs: 10,
    maxBackoffMs: 10,
    refreshTimeoutMs: 2000,
    onWarning: () => {},
  });
  return { authFile, p: provider({ tokenSource: tokens }) };
}

describe("credential faults", () => {
  let endpoint: FakeTokenEndpoint;

  before(async () => {
    endpoint = await startFakeTokenEndpoint();
  });

  after(async () => {
    await endpoint?.close();
  });

  for (
    const [failure, label] of [
      [{ kind: "down" }, "down"],
      [{ kind: "transient", status: 500 }, "answering 500"],
    ] as const
  ) {
    for (const stream of MODES) {
      const buyer = stream ? "streaming" : "non-streaming";
      it(`token endpoint ${label} during a refresh: ${buyer} buyer gets upstream_auth_unavailable, then recovers`, async () => {
        const refreshToken = `rt_${label.replace(/\W/g, "")}_${buyer}`;
        endpoint.addRefreshToken(refreshToken);
        const { p } = await login(`refresh-${label}-${buyer}`, {
          exp: Math.floor(Date.now() / 1000) - 60,
          refreshToken,
          tokenUrl: endpoint.url,
        });
        endpoint.setFailure(failure);
        try {
          const result = await ask(p, stream);
          assertFailure(result, p, {
            status: 503,
            code: "upstream_auth_unavailable",
            streamed: false,
          }, stream);
          assert.equal(backend.requests.length, 0, "no upstream call");
        } finally {
          endpoint.setFailure(undefined);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
        await assertRecovers(p, stream);
        assert.ok(endpoint.isSpent(refreshToken), "refreshed once it was up");
      });
    }
  }

  for (const stream of MODES) {
    const buyer = stream ? "streaming" : "non-streaming";
    it(`auth file deleted mid-run: the open ${buyer} answer completes, the next gets upstream_auth_failed, a new login recovers`, async () => {
      const { authFile, p } = await login(`deleted-${buyer}`, {
        refreshToken: `rt_deleted_${buyer}`,
        tokenUrl: endpoint.url,
      });
      await p.init();
      backend.enqueue({ kind: "text", text: "held", pauseAfterEvents: 3 });
      const open = ask(p, stream);
      await untilHeld();
      await unlink(authFile);
      // The token source looks at the file once per statIntervalMs.
      await sleep(STAT_INTERVAL_MS + 20);
      backend.release();
      const first = await open;
      assert.equal(first.status, 200, first.text);
      if (stream) assert.equal(first.doneCount, 1);

      const result = await ask(p, stream);
      assertFailure(result, p, {
        status: 503,
        code: "upstream_auth_failed",
        streamed: false,
      }, stream);

      await writeFile(
        authFile,
        JSON.stringify(
          makeAuthJson({
            refreshToken: `rt_relogin_${buyer}`,
            extra: { jti: `relogin-${buyer}` },
          }),
        ),
        { mode: 0o600 },
      );
      await assertRecovers(p, stream);
    });

    it(`auth file replaced by a new login mid-run: the open ${buyer} answer completes, the next uses the new token`, async () => {
      const { authFile, p } = await login(`replaced-${buyer}`, {
        refreshToken: `rt_replaced_${buyer}`,
        tokenUrl: endpoint.url,
      });
      await p.init();
      const old = (await p.tokens.getToken()).accessToken;
      backend.enqueue({ kind: "text", text: "held", pauseAfterEvents: 3 });
      const open = ask(p, stream);
      await untilHeld();
      const fresh = makeAuthJson({
        refreshToken: `rt_new_login_${buyer}`,
        extra: { jti: `new-login-${buyer}` },
      });
      await writeFile(authFile, JSON.stringify(fresh), { mode: 0o600 });
      revoked.add(old);
      await sleep(STAT_INTERVAL_MS + 20);
      backend.release();
      const first = await open;
      assert.equal(first.status, 200, first.text);
      if (stream) assert.equal(first.doneCount, 1);

      await assertRecovers(p, stream);
      const sent = responsePosts().at(-1)!.headers.authorization;
      const newToken = (fresh.tokens as Record<string, string>).access_token;
      assert.equal(sent, `Bearer ${newToken}`);
      assert.equal(
        responsePosts().filter((request) =>
          request.headers.authorization === `Bearer ${old}`
        ).length,
        1,
        "the old token was used once, before the replacement",
      );
    });
  }
});
