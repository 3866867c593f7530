/**
 * The floor of the benchmarks: a plain `fetch` POST to the upstream with the
 * exact headers and an equivalent body of what the provider sends, its body
 * read to the end, nothing else.
 *
 * @module
 */

import type { AccessToken } from "../src/auth/types.ts";
import { buildUpstreamHeaders } from "../src/codex/request.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";

/** Account id of the benchmark token. */
export const BENCH_ACCOUNT = "acct_bench";
/** The benchmark token (a test JWT; the upstream checks nothing). */
export const BENCH_TOKEN: AccessToken = {
  accessToken: makeAccessToken({ accountId: BENCH_ACCOUNT }),
  accountId: BENCH_ACCOUNT,
};

/** What the buyer sends: a typical small streaming Responses request. */
export const BUYER_BODY: Record<string, unknown> = {
  model: "gpt-5.4",
  instructions: "You are a concise assistant.",
  input: [{
    role: "user",
    content: [{ type: "input_text", text: "Say hello in three words." }],
  }],
  stream: true,
};

/** What the provider sends upstream for {@linkcode BUYER_BODY}. */
const FLOOR_BODY = JSON.stringify({
  ...BUYER_BODY,
  stream: true,
  store: false,
});
const FLOOR_HEADERS = buildUpstreamHeaders(BENCH_TOKEN, crypto.randomUUID());

/** What one request read. */
export interface ReadResult {
  /** Body bytes received. */
  bytes: number;
  /** `performance.now()` when the first body chunk was received. */
  firstChunkAt: number;
}

/**
 * The floor: POSTs to `url` and reads the body to its end.
 *
 * @example
 * ```ts ignore
 * const { bytes } = await floorRequest(`${base}/small/codex/responses`);
 * ```
 */
export async function floorRequest(url: string): Promise<ReadResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: FLOOR_HEADERS,
    body: FLOOR_BODY,
  });
  const reader = response.body!.getReader();
  let bytes = 0;
  let firstChunkAt = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    if (bytes === 0) firstChunkAt = performance.now();
    bytes += value.byteLength;
  }
  return { bytes, firstChunkAt };
}

/** A floor stream held open after its first chunk. */
export interface HeldFloor {
  /** Reads the rest of the body; resolves with the bytes of the whole body. */
  finish(): Promise<number>;
}

/**
 * The floor of an open stream: POSTs, reads the first chunk, and keeps the
 * reader open until `finish()`.
 *
 * @example
 * ```ts ignore
 * const held = await floorHold(`${base}/hold/codex/responses`);
 * await held.finish();
 * ```
 */
export async function floorHold(url: string): Promise<HeldFloor> {
  const response = await fetch(url, {
    method: "POST",
    headers: FLOOR_HEADERS,
    body: FLOOR_BODY,
  });
  const reader = response.body!.getReader();
  const first = await reader.read();
  let bytes = first.value?.byteLength ?? 0;
  return {
    async finish(): Promise<number> {
      while (true) {
        const { done, value } = await reader.read();
        if (done) return bytes;
        bytes += value.byteLength;
      }
    },
  };
}
