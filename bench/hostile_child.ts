/**
 * One scenario of the hostile-buyer benchmark (`bench/hostile.ts`), run in
 * a process of its own against the modules of one tree: this repository or
 * an older checkout of it. Prints one JSON line ({@linkcode ChildResult}).
 *
 * Usage: `deno run -A --v8-flags=--max-old-space-size=1024,--expose-gc
 * bench/hostile_child.ts <root> <scenario>`, run from this repository (its
 * `deno.json` resolves the bare specifiers of either tree).
 *
 * The modules are imported by path, so nothing here is checked against the
 * other tree's types: each is described by the little this file calls, and
 * whatever a call returns is awaited (a store's `put` or `expand` may be
 * synchronous in one tree and asynchronous in the other).
 *
 * @module
 */

import process from "node:process";
import { pathToFileURL } from "node:url";

/** What a child prints: the outcome of the scenario and what it cost. */
export interface ChildResult {
  /** `ok <status>`, or the status and code of the refusal (`413 request_too_large`). */
  outcome: string;
  /** Wall time of the request (for `admission`: the slowest refusal), in ms. */
  ms: number;
  /** Largest heap growth seen while the request ran (samples and its end), in MiB. */
  heapPeakMiB?: number;
  /** Heap growth after a full collection with the result still held, in MiB. */
  heapKeptMiB?: number;
  /** Longest the event loop was held beyond a 10 ms timer, in ms. */
  loopBlockMs?: number;
  /** Anything else worth a line (sizes, counts, per-request times). */
  note?: string;
}

const MIB = 1024 * 1024;
const BUYER_HEADER = "x-antseed-buyer-peer-id";
const BUYER = "peer-hostile";
const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// The little of each module this benchmark calls.

interface Request {
  requestId: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

interface Response {
  statusCode: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

interface Store {
  put(scope: string, turn: unknown): unknown;
}

interface Provider {
  handleRequest(req: Request, options?: { signal?: AbortSignal }): Promise<
    Response
  >;
}

interface Backend {
  baseUrl: string;
  inFlight: number;
  enqueue(behaviour: { kind: string }): void;
  close(): Promise<void>;
}

type Prepare = (req: Request, settings: unknown, store?: Store) => unknown;

// ---------------------------------------------------------------------------
// Measuring.

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    gc();
    await sleep(5);
  }
}

/**
 * Runs `work` while a 10 ms timer samples the event loop's lateness and the
 * heap; reports the wall time, the worst lateness and the heap growth (at
 * its peak, and kept after a collection while the result is held).
 */
async function measure<T>(work: () => Promise<T>): Promise<
  {
    value: T | undefined;
    error: unknown;
    ms: number;
    loopBlockMs: number;
    heapPeakMiB: number;
    heapKeptMiB: number;
  }
> {
  await settle();
  const base = heapUsed();
  let peak = base;
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - 10);
    last = now;
    peak = Math.max(peak, heapUsed());
  }, 10);
  const started = performance.now();
  let value: T | undefined;
  let error: unknown;
  try {
    value = await work();
  } catch (caught) {
    error = caught;
  }
  const ms = performance.now() - started;
  peak = Math.max(peak, heapUsed());
  // One more tick, so that a block at the very end is seen.
  await sleep(15);
  clearInterval(timer);
  await settle();
  // `value` is still held (it is returned): `kept` counts what the request produced.
  const kept = heapUsed() - base;
  return {
    value,
    error,
    ms,
    loopBlockMs: Math.max(0, worst),
    heapPeakMiB: (peak - base) / MIB,
    heapKeptMiB: kept / MIB,
  };
}

/** `413 request_too_large` for a thrown `RelayError`, `ok` for a prepared request. */
function outcomeOf(value: unknown, error: unknown): string {
  if (error === undefined) {
    const body = (value as { body?: unknown } | undefined)?.body;
    const size = typeof body === "string"
      ? body.length
      : body instanceof Uint8Array
      ? body.byteLength
      : undefined;
    return size === undefined
      ? "ok"
      : `ok (upstream body ${(size / MIB).toFixed(1)} MiB)`;
  }
  const relay = error as {
    status?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (typeof relay.status === "number") {
    return `${relay.status} ${String(relay.code ?? "")}`.trim();
  }
  return `threw ${String(relay.message ?? error).slice(0, 120)}`;
}

function codeOf(response: Response): string {
  try {
    const code = JSON.parse(new TextDecoder().decode(response.body)).error
      ?.code;
    return typeof code === "string" ? code : "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------------------
// The tree under test.

const [root, scenario] = process.argv.slice(2);
if (root === undefined || scenario === undefined) {
  console.error("Usage: hostile_child.ts <root> <scenario>");
  process.exit(2);
}

function load(path: string): Promise<Record<string, unknown>> {
  return import(pathToFileURL(`${root}/${path}`).href);
}

function request(
  body: Uint8Array,
  headers: Record<string, string> = {},
  path = "/v1/responses",
  method = "POST",
): Request {
  return {
    requestId: crypto.randomUUID(),
    method,
    path,
    headers: { "content-type": "application/json", ...headers },
    body,
  };
}

/**
 * `prepareRequest` of the tree, its settings (`extra` config on top of the
 * defaults) and a store with room for every scenario's turns.
 */
async function preparation(extra: Record<string, string> = {}): Promise<{
  prepare: Prepare;
  settings: unknown;
  newStore: () => Store;
}> {
  const { prepareRequest } = await load("src/provider/prepare.ts");
  const { parseConfig } = await load("src/config.ts");
  const { ResponseStore } = await load("src/state/response_store.ts");
  const settings = (parseConfig as (config: Record<string, string>) => unknown)(
    { ANTSEED_ALLOWED_SERVICES: "gpt-5.4", ...extra },
  );
  const Store = ResponseStore as new (options: object) => Store;
  // Room for every scenario's turns; `buyerShare` is ignored by a store
  // without shares, and lets one buyer hold them all in a store with them.
  const newStore = () => new Store({ maxBytes: 256 * MIB, buyerShare: 1 });
  const prepare = prepareRequest as Prepare;
  // A small request first: modules loaded and compiled before measuring.
  await prepare(
    request(encoder.encode('{"model":"gpt-5.4","input":"warm"}'), {
      [BUYER_HEADER]: BUYER,
    }),
    settings,
    newStore(),
  );
  return { prepare, settings, newStore };
}

// ---------------------------------------------------------------------------
// The scenarios.

/** One stored 100 KB input item, then a body of `count` references to it. */
async function references(count: number): Promise<ChildResult> {
  const { prepare, settings, newStore } = await preparation();
  const store = newStore();
  await store.put(BUYER, {
    responseId: "resp_picked_by_buyer",
    input: [{
      type: "message",
      role: "user",
      id: "item_0001",
      content: [{ type: "input_text", text: "a".repeat(100_000) }],
    }],
    output: [],
  });
  const reference = '{"type":"item_reference","id":"item_0001"}';
  const text = `{"model":"gpt-5.4","input":[${
    Array(count).fill(reference).join(",")
  }]}`;
  const body = encoder.encode(text);
  const run = await measure(async () =>
    await prepare(request(body, { [BUYER_HEADER]: BUYER }), settings, store)
  );
  return {
    outcome: outcomeOf(run.value, run.error),
    ms: run.ms,
    heapPeakMiB: run.heapPeakMiB,
    heapKeptMiB: run.heapKeptMiB,
    loopBlockMs: run.loopBlockMs,
    note: `${count} references, body ${(body.byteLength / MIB).toFixed(2)} MiB`,
  };
}

/** 3.6 MB of empty zstd frames, `content-encoding: zstd`. */
async function zstdFrames(): Promise<ChildResult> {
  const { prepare, settings, newStore } = await preparation();
  const frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x48, 0x01, 0x00, 0x00];
  const count = 400_000;
  const body = new Uint8Array(frame.length * count);
  for (let index = 0; index < count; index++) {
    body.set(frame, index * frame.length);
  }
  const run = await measure(async () =>
    await prepare(
      request(body, { [BUYER_HEADER]: BUYER, "content-encoding": "zstd" }),
      settings,
      newStore(),
    )
  );
  return {
    outcome: outcomeOf(run.value, run.error),
    ms: run.ms,
    heapPeakMiB: run.heapPeakMiB,
    heapKeptMiB: run.heapKeptMiB,
    loopBlockMs: run.loopBlockMs,
    note: `${count} frames, ${(body.byteLength / 1e6).toFixed(1)} MB`,
  };
}

/**
 * 55 stored turns of 1 MiB each, then a 67-byte request continuing the
 * last, with `config` on top of the defaults (e.g. a body limit).
 */
async function chain(config: Record<string, string>): Promise<ChildResult> {
  const { prepare, settings, newStore } = await preparation(config);
  const limit = (settings as { maxBodyBytes?: number }).maxBodyBytes;
  const store = newStore();
  const turns = 55;
  const text = "c".repeat(MIB - 200);
  let previous: string | undefined;
  for (let turn = 0; turn < turns; turn++) {
    const responseId = `resp_${String(turn).padStart(5, "0")}`;
    const stored: Record<string, unknown> = {
      responseId,
      input: [{
        type: "message",
        role: "user",
        content: [{ type: "input_text", text }],
      }],
      output: [],
    };
    if (previous !== undefined) stored.previousResponseId = previous;
    if (!await store.put(BUYER, stored)) {
      return { outcome: `setup failed: turn ${turn} not stored`, ms: 0 };
    }
    previous = responseId;
  }
  const body = encoder.encode(
    `{"model":"gpt-5.4","input":"x","previous_response_id":"${previous}"}`,
  );
  const run = await measure(async () =>
    await prepare(request(body, { [BUYER_HEADER]: BUYER }), settings, store)
  );
  return {
    outcome: outcomeOf(run.value, run.error),
    ms: run.ms,
    heapPeakMiB: run.heapPeakMiB,
    heapKeptMiB: run.heapKeptMiB,
    loopBlockMs: run.loopBlockMs,
    note:
      `${turns} turns of 1 MiB, request ${body.byteLength} bytes, body limit ${
        limit === undefined ? "?" : `${limit / MIB} MiB`
      }`,
  };
}

function fixedTokens(accessToken: string, accountId: string) {
  const info = () =>
    Promise.resolve({ authFile: "/home/seller/.codex/auth.json", accountId });
  return {
    init: info,
    info,
    forceRefresh: info,
    getToken: () => Promise.resolve({ accessToken, accountId }),
    handleUnauthorized: () => Promise.resolve(undefined),
  };
}

async function newProvider(
  baseUrl: string,
  config: Record<string, string> = {},
): Promise<Provider> {
  const { createProvider } = await load("src/provider/provider.ts");
  const { makeAccessToken } = await load("src/testing/jwt.ts");
  const token = (makeAccessToken as (options: object) => string)({
    accountId: "acct_hostile",
  });
  return (createProvider as (
    config: Record<string, string>,
    options: object,
  ) => Provider)({
    OPENAI_RESPONSES_BASE_URL: baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    ...config,
  }, {
    tokenSource: fixedTokens(token, "acct_hostile"),
    onLog: () => {},
    onWarning: () => {},
  });
}

/**
 * `GET /health` to a `serve` handler with an API key, with 64k spaces in
 * `authorization`. Measured: `Bearer x<spaces>y`, the shape that makes
 * `/^\s*bearer\s+(.+?)\s*$/i` quadratic (the lazy group stops at each
 * space and `\s*$` rescans the rest); `Bearer <spaces>x`, which that
 * expression matches at once, is in the note.
 */
async function authHeader(): Promise<ChildResult> {
  const { createServerHandler } = await load("src/serve/handler.ts");
  // Nothing reaches the backend: the key is checked first.
  const provider = await newProvider("http://127.0.0.1:9");
  const handler = (createServerHandler as (
    provider: Provider,
    options: object,
  ) => (request: globalThis.Request) => Promise<globalThis.Response>)(
    provider,
    { apiKey: "hostile-bench-key" },
  );
  const ask = async (authorization: string) => {
    const response = await handler(
      new globalThis.Request("http://127.0.0.1/health", {
        headers: { authorization },
      }),
    );
    await response.body?.cancel();
    return response.status;
  };
  // A wrong key first: the check compiled and its digest warm.
  await ask("Bearer wrong");
  const spaces = " ".repeat(65_536);
  /** Up to 5 tries while they are fast: the median, the last status and loop block, every time. */
  const tries = async (header: string) => {
    const times: number[] = [];
    let run: Awaited<ReturnType<typeof measure<number>>> | undefined;
    for (let attempt = 0; attempt < 5; attempt++) {
      run = await measure(() => ask(header));
      times.push(run.ms);
      if (run.ms > 1000) break;
    }
    const sorted = [...times].sort((a, b) => a - b);
    return {
      outcome: run?.error === undefined
        ? String(run?.value)
        : outcomeOf(undefined, run.error),
      ms: sorted[sorted.length >> 1],
      loopBlockMs: run?.loopBlockMs,
      times: times.map((ms) => ms.toFixed(1)).join(", "),
    };
  };
  const between = await tries(`Bearer x${spaces}y`);
  const leading = await tries(`Bearer ${spaces}x`);
  return {
    outcome: between.outcome,
    ms: between.ms,
    loopBlockMs: between.loopBlockMs,
    note: `"Bearer x<64k spaces>y": ${between.times} ms; ` +
      `"Bearer <64k spaces>x": ${leading.outcome}, median ${
        leading.ms.toFixed(1)
      } ms (${leading.times} ms)`,
  };
}

/** Concurrency 1, one stalled stream in flight, then 20 simultaneous 8 MB bodies. */
async function admission(): Promise<ChildResult> {
  const { startFakeCodexBackend } = await load("src/testing/fake_backend.ts");
  const backend = await (startFakeCodexBackend as () => Promise<Backend>)();
  try {
    const provider = await newProvider(backend.baseUrl, {
      ANTSEED_MAX_CONCURRENCY: "1",
    });
    // A request first: the pipeline compiled, the login known.
    await provider.handleRequest(
      request(encoder.encode('{"model":"gpt-5.4","input":"warm"}')),
    );
    backend.enqueue({ kind: "stall" });
    const controller = new AbortController();
    const holding = provider.handleRequest(
      request(
        encoder.encode('{"model":"gpt-5.4","input":"Hold","stream":true}'),
      ),
      { signal: controller.signal },
    ).catch(() => undefined);
    for (let waited = 0; backend.inFlight < 1; waited += 5) {
      if (waited > 10_000) {
        return { outcome: "setup failed: no request in flight", ms: 0 };
      }
      await sleep(5);
    }
    // Valid JSON, so that a pipeline that parses before it admits pays the
    // whole parse and still answers 429, as one that admits first does.
    const body = encoder.encode(
      `{"model":"gpt-5.4","input":"${"x".repeat(8_000_000 - 40)}"}`,
    );
    const run = await measure(() => {
      const started = performance.now();
      return Promise.all(
        Array.from(
          { length: 20 },
          () =>
            provider.handleRequest(request(body)).then((response) => ({
              status: response.statusCode,
              code: codeOf(response),
              ms: performance.now() - started,
            })),
        ),
      );
    });
    controller.abort();
    await holding;
    const answers = run.value ?? [];
    const statuses = new Map<string, number>();
    for (const answer of answers) {
      const key = `${answer.status} ${answer.code}`.trim();
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
    const times = answers.map((answer) => answer.ms).sort((a, b) => a - b);
    return {
      outcome: run.error !== undefined
        ? outcomeOf(undefined, run.error)
        : [...statuses].map(([key, n]) => `${n}× ${key}`).join(", "),
      ms: times.length > 0 ? times[times.length - 1] : run.ms,
      heapPeakMiB: run.heapPeakMiB,
      loopBlockMs: run.loopBlockMs,
      note: `20 bodies of ${(body.byteLength / 1e6).toFixed(1)} MB; first ${
        times[0]?.toFixed(1)
      } ms, median ${times[times.length >> 1]?.toFixed(1)} ms`,
    };
  } finally {
    await backend.close();
  }
}

const scenarios: Record<string, () => Promise<ChildResult>> = {
  references: () => references(20_000),
  references_1k: () => references(1_000),
  zstd_frames: zstdFrames,
  // The issue's figure was taken with a 32 MiB body limit (the default
  // then): the 55 MiB expansion is over it.
  chain: () => chain({ OPENAI_RESPONSES_MAX_BODY_BYTES: String(32 * MIB) }),
  // Each tree's default limit: over it, a refusal; within it, the cost of
  // an expansion that is allowed.
  chain_default: () => chain({}),
  auth_header: authHeader,
  admission,
};

const run = scenarios[scenario];
if (run === undefined) {
  console.error(
    `Unknown scenario ${JSON.stringify(scenario)}: expected one of ${
      Object.keys(scenarios).join(", ")
    }`,
  );
  process.exit(2);
}
const result = await run();
console.log(JSON.stringify(result));
process.exit(0);
