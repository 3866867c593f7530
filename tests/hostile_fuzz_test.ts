// A bounded fuzz of the provider and of `serve` (issue 19): structured
// random bodies, encodings, ids, paths and headers from a fixed seed and
// from one printed random seed (set FUZZ_SEED to replay a run). After every
// input: an OpenAI-shaped answer, one done chunk on a stream, no secret of
// the seller in any byte; over the run: heap growth and event-loop delay
// within the bounds the README names ("Limits and abuse").

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import { createServerHandler } from "../src/serve/handler.ts";
import type { FakeBehaviour } from "../src/testing/fake_backend.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { type BuyerResult, callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { prng } from "./fakes/prng.ts";

/** Inputs per seed, for the provider and for `serve` each. */
const INPUTS = 150;
/** Most heap growth over one seed's run (both targets), in bytes. */
const MAX_HEAP_GROWTH = 64 * 1024 * 1024;
/** Longest event-loop delay seen while the fuzz runs, in milliseconds. */
const MAX_LOOP_DELAY_MS = 1000;

const ACCOUNT = "acct_fuzz_seller";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const API_KEY = "sk-serve-fuzz-key-0123456789";
/** What must never reach a buyer. */
const SECRETS = [
  TOKEN,
  "/home/seller/.codex/auth.json",
  "/home/seller",
  API_KEY,
  "x-codex-primary",
  "codex.rate_limits",
];

const encoder = new TextEncoder();
let backend: FakeCodexBackend;

const FIXED_SEED = 19;
const RANDOM_SEED = process.env.FUZZ_SEED !== undefined
  ? Number(process.env.FUZZ_SEED)
  : Math.floor(Math.random() * 2 ** 31);

before(async () => {
  backend = await startFakeCodexBackend();
  console.log(`fuzz seeds: ${FIXED_SEED} and ${RANDOM_SEED}`);
});
after(async () => {
  await backend.close();
});

/** A random generator of hostile inputs. */
class Hostile {
  readonly random: () => number;
  /** Response and item ids seen in answers, to refer back to. */
  readonly ids: string[] = [];

  constructor(seed: number) {
    this.random = prng(seed);
  }

  int(max: number): number {
    return Math.floor(this.random() * max);
  }

  pick<T>(values: readonly T[]): T {
    return values[this.int(values.length)];
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  text(max = 40): string {
    const alphabet = [
      "a",
      "Z",
      " ",
      "\n",
      "\r",
      "\x1b",
      "\u0000",
      '"',
      "\\",
      "é",
      "\u2028",
      "😀",
      "\ud800",
    ];
    let text = "";
    for (let i = this.int(max); i > 0; i--) text += this.pick(alphabet);
    return text;
  }

  id(): string {
    if (this.ids.length > 0 && this.chance(0.6)) return this.pick(this.ids);
    return this.pick(["resp_", "msg_", "rs_", "fc_", "", "x".repeat(300)]) +
      this.text(10);
  }

  item(): unknown {
    switch (this.int(8)) {
      case 0:
        return { type: "item_reference", id: this.id() };
      case 1:
        return { type: "reasoning", id: this.id(), summary: [] };
      case 2:
        return { role: "user", content: this.text() };
      case 3:
        return {
          type: "message",
          role: this.pick(["user", "assistant", "system", "developer", "x"]),
          content: [{ type: "input_text", text: this.text() }],
        };
      case 4:
        return {
          type: "function_call_output",
          call_id: this.text(8),
          output: this.text(),
        };
      case 5:
        return { type: "compaction_trigger" };
      case 6:
        return this.pick([null, 1, "text", [], true]);
      default:
        return { type: this.text(8), id: this.id() };
    }
  }

  body(): Record<string, unknown> {
    const body: Record<string, unknown> = {};
    if (!this.chance(0.05)) {
      body.model = this.pick([
        "gpt-5.4",
        "gpt-5.4",
        "gpt-5.4-high",
        "gpt-unknown",
        "",
        7,
      ]);
    }
    body.input = this.chance(0.3)
      ? this.text()
      : Array.from({ length: this.int(6) }, () => this.item());
    if (this.chance(0.5)) body.stream = this.pick([true, false, "yes"]);
    if (this.chance(0.3)) body.store = this.pick([true, false, null]);
    if (this.chance(0.3)) body.previous_response_id = this.id();
    if (this.chance(0.1)) body.conversation = this.text(8);
    if (this.chance(0.2)) body.instructions = this.text();
    if (this.chance(0.2)) body.prompt_cache_key = this.text(20);
    if (this.chance(0.1)) body.tools = this.pick([[], "x", [{ type: "x" }]]);
    if (this.chance(0.1)) body.max_output_tokens = this.pick([1, -1, "9"]);
    if (this.chance(0.1)) {
      body.reasoning = this.pick([{ effort: "high" }, null, "high"]);
    }
    return body;
  }

  /** A body as bytes: JSON, with duplicate keys, cut, or garbage. */
  bytes(body: Record<string, unknown>): Uint8Array {
    const text = JSON.stringify(body);
    switch (this.int(10)) {
      case 0:
        return encoder.encode(text.slice(0, this.int(text.length)));
      case 1:
        return encoder.encode(`{"model":"gpt-5.4",${text.slice(1)}`);
      case 2: {
        const garbage = new Uint8Array(this.int(64));
        for (let i = 0; i < garbage.length; i++) garbage[i] = this.int(256);
        return garbage;
      }
      default:
        return encoder.encode(text);
    }
  }

  behaviour(): FakeBehaviour {
    return this.pick<FakeBehaviour>([
      { kind: "text" },
      { kind: "text", rateLimitsEvent: true },
      { kind: "text", reasoning: true },
      { kind: "failed", code: "server_error" },
      { kind: "usage_limit_in_stream", as: "failed", resetsInSeconds: 1 },
      { kind: "reset_mid_stream" },
      { kind: "truncated" },
      { kind: "no_terminal" },
      { kind: "error_event", code: "internal_error" },
      { kind: "status", status: this.pick([400, 404, 500, 503]) },
    ]);
  }

  headers(): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": this.pick([
        "application/json",
        "application/json",
        "text/plain",
        "application/json; charset=utf-8",
      ]),
    };
    if (this.chance(0.2)) headers["session-id"] = this.text(30);
    if (this.chance(0.1)) headers["x-antseed-buyer-peer-id"] = this.text(10);
    if (this.chance(0.1)) headers.cookie = `session=${this.text(10)}`;
    if (this.chance(0.1)) {
      headers.authorization = `Bearer ${" ".repeat(this.int(70_000))}x`;
    }
    return headers;
  }
}

/** Compresses with a web-standard CompressionStream. */
async function compress(
  data: Uint8Array,
  format: "gzip" | "deflate",
): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(
    new CompressionStream(format),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A body and its `content-encoding`, maybe wrong for it. */
async function encoded(
  hostile: Hostile,
  bytes: Uint8Array,
): Promise<{ body: Uint8Array; encoding?: string }> {
  switch (hostile.int(8)) {
    case 0:
      return { body: await compress(bytes, "gzip"), encoding: "gzip" };
    case 1:
      return { body: await compress(bytes, "deflate"), encoding: "deflate" };
    case 2:
      return { body: bytes, encoding: "zstd" };
    case 3: {
      // Empty zstd frames, many of them.
      const frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x48, 0x01, 0x00, 0x00];
      const frames = new Uint8Array(frame.length * (1 + hostile.int(20_000)));
      for (let i = 0; i < frames.length; i++) {
        frames[i] = frame[i % frame.length];
      }
      return { body: frames, encoding: "zstd" };
    }
    case 4:
      return {
        body: bytes,
        encoding: hostile.pick([
          "br, gzip",
          "x-unknown",
          "gzip, gzip, gzip, gzip, gzip",
        ]),
      };
    default:
      return { body: bytes };
  }
}

/**
 * Header values as an HTTP parser lets them through: bytes, no line
 * breaks or NUL (the others are what a hostile client can still send).
 */
function byteStrings(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    // deno-lint-ignore no-control-regex
    result[name] = value.replace(/[^\x01-\x09\x0b\x0c\x0e-\xff]/g, "?");
  }
  return result;
}

/** Asserts what every answer must be, whatever was sent. */
function assertAnswer(result: BuyerResult, context: string): void {
  assert.deepEqual(result.violations, [], context);
  assert.equal(result.thrown, undefined, context);
  const text = result.text;
  for (const secret of SECRETS) {
    assert.ok(!text.includes(secret), `${context}: the answer holds ${secret}`);
  }
  for (const name of Object.keys(result.headers)) {
    assert.ok(
      !name.toLowerCase().startsWith("x-codex-"),
      `${context}: header ${name}`,
    );
  }
  if (result.mode === "stream") {
    assert.equal(result.doneCount, 1, context);
    return;
  }
  const answer = JSON.parse(text);
  if (result.status >= 400) {
    assert.equal(typeof answer.error?.code, "string", `${context}: ${text}`);
    assert.equal(typeof answer.error?.message, "string", context);
  } else {
    assert.equal(typeof answer, "object", context);
  }
}

/**
 * Every slot released (getCapacity shows a usage-limited pool as full). A
 * `serve` stream ends at the provider's done chunk, and the provider frees
 * its slot when its promise settles, a few microtasks later: the last answer
 * may have been read before that, so the count gets a second to reach 0 (a
 * slot that is never released still fails).
 */
async function assertReleased(
  provider: OpenAIResponsesProvider,
): Promise<void> {
  const idle = /^openai_responses_requests_in_flight 0$/m;
  const until = Date.now() + 1000;
  while (!idle.test(provider.metrics()) && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.match(provider.metrics(), idle);
}

/** Largest delay of a 10 ms ticker while `run` runs. */
async function loopDelay(run: () => Promise<void>): Promise<number> {
  let worst = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
  }, 10);
  try {
    await run();
  } finally {
    clearInterval(ticker);
  }
  return worst;
}

function remember(hostile: Hostile, text: string): void {
  for (const match of text.matchAll(/"id":"((?:resp|msg|rs)_[^"]{1,40})"/g)) {
    if (hostile.ids.length < 50) hostile.ids.push(match[1]);
  }
}

async function fuzzProvider(seed: number): Promise<void> {
  const hostile = new Hostile(seed);
  const provider = createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "2000",
    OPENAI_RESPONSES_LOG: "requests",
  }, {
    tokenSource: fixedTokens(ACCOUNT, TOKEN),
    onLog: (line) => {
      assert.ok(!line.includes("\n") || line.startsWith("logins"), line);
      assert.ok(!line.includes("\x1b"), line);
    },
    onWarning: () => {},
  });
  for (let i = 0; i < INPUTS; i++) {
    backend.enqueue(hostile.behaviour());
    const bytes = hostile.bytes(hostile.body());
    const { body, encoding } = await encoded(hostile, bytes);
    const headers = hostile.headers();
    if (encoding !== undefined) headers["content-encoding"] = encoding;
    const result = await callProvider(provider, {
      method: hostile.chance(0.05) ? hostile.pick(["GET", "PUT", "x"]) : "POST",
      path: hostile.chance(0.1)
        ? hostile.pick([
          "/v1/chat/completions",
          "/v1/../etc",
          `/v1/${hostile.text()}`,
        ])
        : "/v1/responses",
      headers,
      body,
    }, {
      skipRouting: true,
      buyerPeerId: hostile.pick(["buyer-a", "buyer-b", "buyer-c"]),
    });
    assertAnswer(result, `seed ${seed}, provider input ${i}`);
    remember(hostile, result.text);
    backend.reset();
  }
  await assertReleased(provider);
}

async function fuzzServe(seed: number): Promise<void> {
  const hostile = new Hostile(seed ^ 0x5eed);
  const provider = createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    OPENAI_RESPONSES_IDLE_TIMEOUT_MS: "2000",
  }, {
    tokenSource: fixedTokens(ACCOUNT, TOKEN),
    onLog: () => {},
    onWarning: () => {},
  });
  const handler = createServerHandler(provider, { apiKey: API_KEY });
  for (let i = 0; i < INPUTS; i++) {
    backend.enqueue(hostile.behaviour());
    const bytes = hostile.bytes(hostile.body());
    const { body, encoding } = await encoded(hostile, bytes);
    const headers = hostile.headers();
    if (encoding !== undefined) headers["content-encoding"] = encoding;
    if (hostile.chance(0.7)) headers.authorization = `Bearer ${API_KEY}`;
    if (hostile.chance(0.1)) {
      headers.origin = hostile.pick(["http://evil.example", "null"]);
    }
    const method = hostile.chance(0.1)
      ? hostile.pick(["GET", "OPTIONS", "DELETE"])
      : "POST";
    const path = hostile.chance(0.15)
      ? hostile.pick([
        "/health",
        "/v1/models",
        "/metrics",
        "/v1/chat/completions",
        `/v1/${
          encodeURIComponent(hostile.text(10).replace(/[\ud800-\udfff]/g, "?"))
        }`,
      ])
      : "/v1/responses";
    const context = `seed ${seed}, serve input ${i}`;
    const response = await handler(
      new Request(`http://127.0.0.1${path}`, {
        method,
        headers: byteStrings(headers),
        body: method === "POST" ? body as BodyInit : undefined,
      }),
    );
    const text = await response.text();
    for (const secret of SECRETS) {
      assert.ok(
        !text.includes(secret),
        `${context}: the answer holds ${secret}`,
      );
    }
    if (response.status >= 400) {
      const answer = JSON.parse(text);
      assert.equal(typeof answer.error?.code, "string", `${context}: ${text}`);
    }
    remember(hostile, text);
    backend.reset();
  }
  await assertReleased(provider);
}

describe("fuzz: hostile buyers against the provider and serve", () => {
  for (const seed of [FIXED_SEED, RANDOM_SEED]) {
    it(`keeps every answer shaped, ended and clean (seed ${seed})`, async () => {
      const heapBefore = process.memoryUsage().heapUsed;
      const worst = await loopDelay(async () => {
        await fuzzProvider(seed);
        await fuzzServe(seed);
      });
      const growth = process.memoryUsage().heapUsed - heapBefore;
      assert.ok(
        worst < MAX_LOOP_DELAY_MS,
        `seed ${seed}: the event loop was held for ${worst.toFixed(0)} ms`,
      );
      assert.ok(
        growth < MAX_HEAP_GROWTH,
        `seed ${seed}: the heap grew by ${(growth / 1048576).toFixed(1)} MiB`,
      );
    });
  }
});
