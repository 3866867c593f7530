/**
 * The floor of the benchmarks: a plain `fetch` POST to the upstream with the
 * exact headers and an equivalent body of what the provider sends, its body
 * read to the end, nothing else.
 *
 * @module
 */

import type { AccessToken } from "../src/auth/types.ts";
import {
  LoginInstallation,
  withClientMetadata,
} from "../src/codex/login_identity.ts";
import {
  buildUpstreamHeaders,
  encodeUpstreamBody,
  machineInfo,
  readRequestJson,
  shapeRequest,
  upstreamIdentity,
} from "../src/codex/request.ts";
import { DEFAULT_CLIENT_VERSION, parseConfig } from "../src/config.ts";
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

/** {@linkcode BUYER_BODY} as the bytes a seller node hands the provider. */
export const BUYER_BYTES: Uint8Array = new TextEncoder().encode(
  JSON.stringify(BUYER_BODY),
);

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
  return readToEnd(await postFloor(url), false);
}

/** The floor's POST: the provider's headers and body, nothing else. */
function postFloor(url: string): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: FLOOR_HEADERS,
    body: FLOOR_BODY,
  });
}

const SHAPE_OPTIONS = parseConfig({});

/**
 * The floor of any relay that checks what it forwards: the provider's own
 * reading and shaping of the buyer's body ({@linkcode readRequestJson},
 * {@linkcode shapeRequest}, {@linkcode encodeUpstreamBody}) and a fresh
 * `session_id`, then the plain `fetch` of {@linkcode floorRequest}. It
 * shows how much of the relay's time over the floor is that work.
 *
 * @example
 * ```ts ignore
 * const { bytes } = await shapedFloorRequest(`${base}/small/codex/responses`);
 * ```
 */
export async function shapedFloorRequest(url: string): Promise<ReadResult> {
  const buyer = readRequestJson(BUYER_BYTES, SHAPE_OPTIONS.maxBodyBytes);
  const shaped = shapeRequest(buyer.value, SHAPE_OPTIONS);
  const response = await fetch(url, {
    method: "POST",
    headers: buildUpstreamHeaders(BENCH_TOKEN, crypto.randomUUID()),
    body: encodeUpstreamBody(buyer, shaped.body),
  });
  return readToEnd(response, false);
}

const STORED_SHAPE_OPTIONS = {
  ...SHAPE_OPTIONS,
  includeEncryptedReasoning: true,
};

/** The identity a provider speaks by default (the configured originator, today's CLI version). */
const CLI_IDENTITY = upstreamIdentity(
  SHAPE_OPTIONS.originator,
  DEFAULT_CLIENT_VERSION,
  machineInfo(),
);
/** One login's installation, built once as the provider builds it per login. */
const CLI_LOGIN = new LoginInstallation(crypto.randomUUID(), {
  originator: SHAPE_OPTIONS.originator,
  version: DEFAULT_CLIENT_VERSION,
});

/**
 * The floor of any relay that checks what it forwards, speaks as today's
 * Codex CLI (issue 21) and can stop its upstream request: the reading and
 * shaping of {@linkcode shapedFloorRequest}, a fresh session id, the login's
 * identity of the turn (the CLI's five headers and the body's
 * `client_metadata`, {@linkcode LoginInstallation.turn}), an `AbortSignal`
 * (the relay's timeouts and the buyer's cancel need one) and no redirect
 * followed: the relay's fetch exactly, the body read to its end. What the
 * relay does beyond it (streaming to the host, the echo, the rate-limits
 * filter, the observation, the store, the pool, the log) is its own.
 *
 * @example
 * ```ts ignore
 * const { bytes } = await cliFloorRequest(`${base}/small/codex/responses`);
 * ```
 */
export async function cliFloorRequest(url: string): Promise<ReadResult> {
  const buyer = readRequestJson(BUYER_BYTES, SHAPE_OPTIONS.maxBodyBytes);
  // As the provider shapes a request whose turn it stores, with the
  // conversation's key as the session id and the cache key.
  const shaped = shapeRequest(buyer.value, STORED_SHAPE_OPTIONS);
  const sessionId = crypto.randomUUID();
  shaped.body.prompt_cache_key = sessionId;
  const turn = CLI_LOGIN.turn(sessionId, shaped.model);
  const response = await fetch(url, {
    method: "POST",
    headers: buildUpstreamHeaders(
      BENCH_TOKEN,
      sessionId,
      CLI_IDENTITY,
      turn.headers,
    ),
    body: withClientMetadata(
      encodeUpstreamBody(buyer, shaped.body),
      turn.bodyTail,
    ),
    signal: new AbortController().signal,
    // As the relay's: on Node, a fetch that may follow a redirect keeps a
    // clone of the request while its answer streams.
    redirect: "error",
  });
  return readToEnd(response, false);
}

/**
 * The floor of any relay bound by the host contract, which resolves with the
 * whole stream so that the node can bill it: {@linkcode floorRequest}, keeping
 * every chunk and joining them into one body at the end.
 *
 * @example
 * ```ts ignore
 * const { bytes } = await keepingFloorRequest(`${base}/large/codex/responses`);
 * ```
 */
export async function keepingFloorRequest(url: string): Promise<ReadResult> {
  return readToEnd(await postFloor(url), true);
}

/**
 * Reads `response` to its end; with `keep`, keeps every chunk and joins
 * them into one body at the end, as the relay does.
 */
async function readToEnd(
  response: Response,
  keep: boolean,
): Promise<ReadResult> {
  const reader = response.body!.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let firstChunkAt = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    if (bytes === 0) firstChunkAt = performance.now();
    if (keep) chunks.push(value);
    bytes += value.byteLength;
  }
  if (keep) {
    const body = new Uint8Array(bytes);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    bytes = body.byteLength;
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
  const response = await postFloor(url);
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
