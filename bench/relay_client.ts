/**
 * The relay side of the benchmarks: the provider as a seller runs it (its
 * token source over an auth.json file), called through `handleRequestStream`
 * with the leanest host callbacks (count bytes, note the first chunk's
 * time), as a seller node calls it for a streaming buyer.
 *
 * @module
 */

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type {
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../src/host_types.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import {
  BENCH_ACCOUNT,
  BENCH_TOKEN,
  BUYER_BODY,
  BUYER_BYTES,
  type ReadResult,
} from "./floor.ts";

let authFile: string | undefined;

/**
 * An auth.json holding the benchmark token (valid for an hour, so no refresh
 * happens in a run), in a temp folder removed when the process exits.
 *
 * @example
 * ```ts ignore
 * const file = benchAuthFile();
 * ```
 */
export function benchAuthFile(): string {
  if (authFile) return authFile;
  const dir = mkdtempSync(join(tmpdir(), "bench-auth-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  authFile = join(dir, "auth.json");
  const document = makeAuthJson({
    accessToken: BENCH_TOKEN.accessToken,
    accountId: BENCH_ACCOUNT,
  });
  writeFileSync(authFile, JSON.stringify(document, null, 2), { mode: 0o600 });
  return authFile;
}

/**
 * A provider as a seller runs it, with its backend at `baseUrl` (requests
 * go to `<baseUrl>/codex/responses`), the token source over an auth.json
 * holding the benchmark token, and room for `maxConcurrency` exchanges. The
 * token endpoint is a closed loopback port: a run that needed a refresh
 * would fail, not reach the network.
 *
 * @example
 * ```ts ignore
 * const provider = benchProvider(`${base}/small`, 16);
 * ```
 */
export function benchProvider(
  baseUrl: string,
  maxConcurrency: number,
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: benchAuthFile(),
    OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    ANTSEED_MAX_CONCURRENCY: String(maxConcurrency),
    ...storeSettings(),
  });
}

/**
 * The response store's settings of the environment, passed through as they
 * are: a comparison of two trees whose stores keep different amounts (the
 * store's bound decides how much heap the benchmark's one buyer leaves, and
 * the collector's marking of it is charged to every side of the run) pins
 * them, e.g. `OPENAI_RESPONSES_STATE_MAX_BYTES=16777216`.
 */
function storeSettings(): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const key of STORE_KEYS) {
    const value = process.env[key];
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}

const STORE_KEYS = [
  "OPENAI_RESPONSES_STATE_MAX_BYTES",
  "OPENAI_RESPONSES_STATE_BUYER_SHARE",
  "OPENAI_RESPONSES_STATE_TTL_S",
] as const;

/**
 * What the benchmarks call: the streaming entry of a provider (this one, or
 * the public 0.1.32 plugin of bench/reference.ts).
 */
export interface StreamingProvider {
  /** Relays one buyer request, streaming it into `callbacks`. */
  handleRequestStream(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks,
  ): Promise<SerializedHttpResponse>;
}

let counter = 0;

/** The same question as Chat Completions, streamed with the usage chunk. */
const CHAT_BYTES = new TextEncoder().encode(JSON.stringify({
  model: "gpt-5.4",
  messages: [
    { role: "system", content: "You are a concise assistant." },
    { role: "user", content: "Say hello in three words." },
  ],
  stream: true,
  stream_options: { include_usage: true },
}));

/** The Responses request with `store: false`: the provider keeps nothing of it. */
const UNSTORED_BYTES = new TextEncoder().encode(
  JSON.stringify({ ...BUYER_BODY, store: false }),
);

/**
 * Which API the buyer speaks: `responses_unstored` is the same Responses
 * request with `store: false`.
 */
export type BuyerProtocol = "responses" | "responses_unstored" | "chat";

function buyerRequest(
  protocol: BuyerProtocol = "responses",
): SerializedHttpRequest {
  return {
    requestId: `bench-${++counter}`,
    method: "POST",
    path: protocol === "chat" ? "/v1/chat/completions" : "/v1/responses",
    headers: {
      "content-type": "application/json",
      "x-antseed-buyer-peer-id": "peer-bench",
    },
    body: protocol === "chat"
      ? CHAT_BYTES
      : protocol === "responses_unstored"
      ? UNSTORED_BYTES
      : BUYER_BYTES,
  };
}

/**
 * The relay: one streaming buyer request through `provider`, chunks counted
 * by the leanest host callbacks. Rejects when the answer is not a 200 stream
 * ending with exactly one done chunk.
 *
 * @example
 * ```ts ignore
 * const { bytes } = await relayRequest(provider);
 * ```
 */
export async function relayRequest(
  provider: StreamingProvider,
  protocol: BuyerProtocol = "responses",
): Promise<ReadResult> {
  let bytes = 0;
  let firstChunkAt = 0;
  let dones = 0;
  let started = false;
  const response = await provider.handleRequestStream(buyerRequest(protocol), {
    onResponseStart() {
      started = true;
    },
    onResponseChunk(chunk) {
      if (chunk.done) {
        dones++;
        return;
      }
      if (bytes === 0) firstChunkAt = performance.now();
      bytes += chunk.data.byteLength;
    },
  });
  if (!started || dones !== 1 || response.statusCode !== 200) {
    throw new Error(
      `Expected a 200 stream with one done chunk, found status ${response.statusCode}, ${dones} done chunks: ${
        new TextDecoder().decode(response.body.subarray(0, 300))
      }`,
    );
  }
  return { bytes, firstChunkAt };
}

/** A relay stream held open after its first chunk. */
export interface HeldRelay {
  /** Resolves with the bytes of the whole stream once it ends. */
  finish(): Promise<number>;
}

/**
 * The relay of an open stream: resolves once the first chunk reached the
 * host callbacks; the exchange goes on until the upstream ends it.
 *
 * @example
 * ```ts ignore
 * const held = await relayHold(provider);
 * await held.finish();
 * ```
 */
export function relayHold(
  provider: StreamingProvider,
): Promise<HeldRelay> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const whole = provider.handleRequestStream(buyerRequest(), {
      onResponseStart() {},
      onResponseChunk(chunk) {
        if (chunk.done) return;
        if (bytes === 0) resolve({ finish: () => whole.then(() => bytes) });
        bytes += chunk.data.byteLength;
      },
    });
    whole.then((response) => {
      if (bytes === 0) {
        reject(new Error(`Expected a stream, found ${response.statusCode}`));
      }
    }, reject);
  });
}
