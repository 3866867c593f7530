/**
 * The relay side of the benchmarks: the provider's `handleRequestStream`
 * with the leanest host callbacks (count bytes, note the first chunk's
 * time), as a seller node calls it for a streaming buyer.
 *
 * @module
 */

import type { TokenSource } from "../src/auth/types.ts";
import type { SerializedHttpRequest } from "../src/host_types.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider.ts";
import {
  BENCH_ACCOUNT,
  BENCH_TOKEN,
  BUYER_BYTES,
  type ReadResult,
} from "./floor.ts";

/** A token source over one fixed token: no file, no refresh. */
function fixedTokenSource(): TokenSource {
  const info = () =>
    Promise.resolve({ authFile: "bench-auth.json", accountId: BENCH_ACCOUNT });
  return {
    init: info,
    info,
    forceRefresh: info,
    getToken: () => Promise.resolve(BENCH_TOKEN),
    handleUnauthorized: () => Promise.resolve(undefined),
  };
}

/**
 * A provider whose backend is `baseUrl` (requests go to
 * `<baseUrl>/codex/responses`), with a fixed token and room for
 * `maxConcurrency` exchanges.
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
    ANTSEED_MAX_CONCURRENCY: String(maxConcurrency),
  }, { tokenSource: fixedTokenSource() });
}

let counter = 0;

function buyerRequest(): SerializedHttpRequest {
  return {
    requestId: `bench-${++counter}`,
    method: "POST",
    path: "/v1/responses",
    headers: {
      "content-type": "application/json",
      "x-antseed-buyer-peer-id": "peer-bench",
    },
    body: BUYER_BYTES,
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
  provider: OpenAIResponsesProvider,
): Promise<ReadResult> {
  let bytes = 0;
  let firstChunkAt = 0;
  let dones = 0;
  let started = false;
  const response = await provider.handleRequestStream(buyerRequest(), {
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
  provider: OpenAIResponsesProvider,
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
