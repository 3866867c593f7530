/**
 * An emulation of how an AntSeed seller node calls a provider
 * (spec/HOST_CONTRACT.md, "How the seller node calls a provider"), recording
 * every contract violation instead of hiding it.
 *
 * @module
 */

import { concat } from "../fixtures/zstd_frames.ts";
import type {
  Provider,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
  SerializedHttpResponseChunk,
} from "../../src/host_types.ts";

/** A buyer request as the node receives it. */
export interface BuyerRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  /** A JSON value (stringified), a string, or raw bytes. */
  body?: unknown;
}

/**
 * The buyer's side of a request (spec/HOST_CONTRACT.md, "Buyer timeouts"):
 * the AntSeed buyer node gives the seller a window for the first answer
 * (the whole response or a stream start), then a window between chunks,
 * and bounds a stream's length (checked as each chunk arrives) and, for a
 * client that did not ask for a stream, the bytes it buffers. Any field left
 * out takes the node's value ({@linkcode NODE_BUYER_LIMITS}); tests scale
 * them down.
 */
export interface BuyerLimits {
  /**
   * Whether the buyer's client asked for a stream. Default: as the buyer
   * proxy decides, `accept` containing `text/event-stream` or a JSON body
   * with `stream: true`.
   */
  streaming?: boolean;
  /** Time to the first answer of a non-streaming buyer (node: 30 s). */
  firstAnswerMs?: number;
  /** Time to the first answer of a streaming buyer (node: 90 s). */
  firstAnswerStreamingMs?: number;
  /** Longest pause between a stream's start and chunks (node: 60 s). */
  betweenChunksMs?: number;
  /** Longest stream from its start, checked as each chunk arrives (node: 5 minutes). */
  streamMs?: number;
  /** Most bytes a non-streaming buyer buffers of a stream (node: 16 MiB). */
  maxBufferBytes?: number;
}

/** The buyer node's limits (`antseed buyer start`, which sets no `requestTimeoutMs`). */
export const NODE_BUYER_LIMITS: Readonly<
  Required<Omit<BuyerLimits, "streaming">>
> = {
  firstAnswerMs: 30_000,
  firstAnswerStreamingMs: 90_000,
  betweenChunksMs: 60_000,
  streamMs: 5 * 60_000,
  maxBufferBytes: 16 * 1024 * 1024,
};

/** Why the buyer node gave up on a request. */
export interface BuyerFailure {
  /** Which limit ended it. */
  reason: "first_answer" | "between_chunks" | "stream_length" | "buffer";
  /** When, in ms since the request was sent. */
  afterMs: number;
  /** The buyer node's error message (the proxy answers `502 P2P request failed: <message>`). */
  message: string;
}

/** Options of {@linkcode callProvider}. */
export interface CallOptions {
  /**
   * The buyer's limits (default: the node's, {@linkcode NODE_BUYER_LIMITS});
   * `false` for none.
   */
  buyer?: BuyerLimits | false;
  /** Make `onResponseChunk` throw ("Cannot send in state closed") after this many chunks. */
  throwAfterChunks?: number;
  /** Make `onResponseStart` throw. */
  throwOnStart?: boolean;
  /** Skip the node's own routing check (service in provider.services). */
  skipRouting?: boolean;
  /** The buyer's peer id the node adds as `x-antseed-buyer-peer-id` (default `peer-buyer-1`). */
  buyerPeerId?: string;
  /**
   * Passed as `{ signal }`, the third argument of `handleRequestStream` (this
   * provider's extension of the contract: the node passes none), to abort
   * the exchange as a buyer who goes away.
   */
  signal?: AbortSignal;
}

/** What the buyer received, and what the node saw. */
export interface BuyerResult {
  /** "stream" when the provider started a stream, else "whole". */
  mode: "stream" | "whole";
  /**
   * Status the buyer's client got: for a request the buyer node gave up on
   * before anything reached a streaming client, or for any non-streaming
   * client, 502 with `P2P request failed: <message>` as text.
   */
  status: number;
  headers: Record<string, string>;
  /** Body bytes the buyer received (stream chunks concatenated). */
  body: Uint8Array;
  /** Body text. */
  text: string;
  /** Non-final chunks forwarded to the buyer, with arrival times. */
  chunks: { at: number; data: Uint8Array }[];
  /** `done: true` chunks received. */
  doneCount: number;
  /** Calls of `onResponseStart`. */
  startCalls: number;
  /** What the provider's promise resolved with (undefined if it threw). */
  resolved?: SerializedHttpResponse;
  /** What it threw, if anything. */
  thrown?: unknown;
  /** Contract violations seen. */
  violations: string[];
  /** Usage the node would bill, parsed from the resolved body. */
  usage?: { input: number; output: number; cached: number };
  /** When the request was sent (ms since the epoch). */
  sentAt: number;
  /** When the provider called `onResponseStart` (ms since the epoch), if it did. */
  startedAt?: number;
  /** Time the promise settled. */
  settledAt: number;
  /**
   * Set when the buyer node gave up (a limit of {@linkcode BuyerLimits}):
   * then a streaming client got the chunks before it (`text`) and a cut
   * stream, any other client a 502. What the node saw and metered (`chunks`,
   * `resolved`, `usage`) is kept: the seller's request runs to its end.
   */
  buyerFailure?: BuyerFailure;
}

const decoder = new TextDecoder();

function toBytes(body: unknown): Uint8Array {
  if (body === undefined) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return new TextEncoder().encode(body);
  return new TextEncoder().encode(JSON.stringify(body));
}

/**
 * Usage the node bills, parsed as the node does from a resolved body
 * (spec/HOST_CONTRACT.md, "Billing"): the top-level `usage` of a JSON body;
 * over SSE, the `usage`, `response.usage` or `message.usage` of every `data:`
 * line (`[DONE]` and lines that are not JSON skipped), taking per field the
 * largest value. Responses (`input_tokens`, `output_tokens`,
 * `input_tokens_details.cached_tokens`) and Chat Completions
 * (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`)
 * field names are both read.
 */
export function parseBilledUsage(
  response: SerializedHttpResponse,
): BuyerResult["usage"] {
  const text = decoder.decode(response.body);
  const found = { input: 0, output: 0, cached: 0 };
  let seen = false;
  const take = (usage: unknown) => {
    if (!usage || typeof usage !== "object") return;
    seen = true;
    const fields = usage as Record<string, unknown>;
    const details = (fields.input_tokens_details ??
      fields.prompt_tokens_details) as
        | Record<string, unknown>
        | null
        | undefined;
    found.input = Math.max(
      found.input,
      Number(fields.input_tokens ?? fields.prompt_tokens ?? 0),
    );
    found.output = Math.max(
      found.output,
      Number(fields.output_tokens ?? fields.completion_tokens ?? 0),
    );
    found.cached = Math.max(found.cached, Number(details?.cached_tokens ?? 0));
  };
  const type = response.headers["content-type"] ?? "";
  if (type.includes("text/event-stream")) {
    for (const line of text.split("\n")) {
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") continue;
      try {
        const json = JSON.parse(data);
        take(json?.usage ?? json?.response?.usage ?? json?.message?.usage);
      } catch {
        // not JSON: the node skips it too
      }
    }
  } else {
    try {
      take(JSON.parse(text).usage);
    } catch {
      // not JSON
    }
  }
  return seen ? found : undefined;
}

/**
 * Sends one buyer request through the provider the way the seller node does:
 * routes JSON requests by `service ?? model`, adds `x-antseed-buyer-peer-id`,
 * always calls `handleRequestStream`, forwards chunks only after a streaming
 * start, holds the done chunk until the promise settles.
 */
export async function callProvider(
  provider: Provider,
  request: BuyerRequest,
  options: CallOptions = {},
): Promise<BuyerResult> {
  const sentAt = Date.now();
  const requestId = crypto.randomUUID();
  const headers: Record<string, string> = {
    "content-type": "application/json",
    ...request.headers,
    // The node sets it from the peer; a buyer's own header never counts.
    "x-antseed-buyer-peer-id": options.buyerPeerId ?? "peer-buyer-1",
  };
  const body = toBytes(request.body);
  const violations: string[] = [];

  if (!options.skipRouting && headers["content-type"]?.includes("json")) {
    let service: unknown;
    try {
      const json = JSON.parse(decoder.decode(body));
      service = json?.service ?? json?.model;
    } catch {
      service = undefined;
    }
    if (typeof service !== "string" || !provider.services.includes(service)) {
      const text = `No provider serves ${String(service)}`;
      return {
        mode: "whole",
        status: 400,
        headers: { "content-type": "text/plain" },
        body: toBytes(text),
        text,
        chunks: [],
        doneCount: 0,
        startCalls: 0,
        violations,
        sentAt,
        settledAt: Date.now(),
      };
    }
  }

  let started: SerializedHttpResponse | undefined;
  let startedAt: number | undefined;
  let startCalls = 0;
  let streaming = false;
  let chunkCount = 0;
  let doneCount = 0;
  const chunks: { at: number; data: Uint8Array }[] = [];
  let doneAt: number | undefined;
  let settled = false;

  const callbacks = {
    onResponseStart(response: SerializedHttpResponse) {
      startCalls++;
      if (options.throwOnStart) throw new Error("Cannot send in state closed");
      if (started) violations.push("onResponseStart called twice");
      if (settled) violations.push("onResponseStart after the promise settled");
      if (response.requestId !== requestId) violations.push("wrong requestId");
      started = response;
      startedAt = Date.now();
      streaming = response.headers["x-antseed-streaming"] === "1";
      if (streaming && response.body.byteLength !== 0) {
        violations.push("stream start with a non-empty body");
      }
    },
    onResponseChunk(chunk: SerializedHttpResponseChunk) {
      if (chunk.requestId !== requestId) violations.push("wrong requestId");
      if (settled) violations.push("chunk after the promise settled");
      if (!started) {
        violations.push("chunk before onResponseStart (dropped)");
        return;
      }
      if (!streaming) return; // the node drops chunks after a whole response
      if (chunk.done) {
        doneCount++;
        doneAt ??= Date.now();
        return;
      }
      if (doneCount > 0) violations.push("chunk after the done chunk");
      chunkCount++;
      if (
        options.throwAfterChunks !== undefined &&
        chunkCount > options.throwAfterChunks
      ) {
        throw new Error("Cannot send in state closed");
      }
      chunks.push({ at: Date.now(), data: chunk.data });
    },
  };

  let resolved: SerializedHttpResponse | undefined;
  let thrown: unknown;
  try {
    const handle = provider.handleRequestStream! as (
      req: SerializedHttpRequest,
      callbacks: ProviderStreamCallbacks,
      options?: { signal?: AbortSignal },
    ) => Promise<SerializedHttpResponse>;
    resolved = await handle.call(
      provider,
      {
        requestId,
        method: request.method ?? "POST",
        path: request.path ?? "/v1/responses",
        headers,
        body,
      },
      callbacks,
      options.signal ? { signal: options.signal } : undefined,
    );
  } catch (error) {
    thrown = error;
  }
  settled = true;
  const settledAt = Date.now();
  const limits = options.buyer === false ? undefined : {
    ...NODE_BUYER_LIMITS,
    ...options.buyer,
    streaming: options.buyer?.streaming ?? wantsStreaming(headers, body),
  };
  const result = (
    mode: BuyerResult["mode"],
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
    buyerFailure?: BuyerFailure,
  ): BuyerResult => ({
    mode,
    status,
    headers,
    body,
    text: decoder.decode(body),
    chunks,
    doneCount,
    startCalls,
    resolved,
    thrown,
    violations,
    usage: resolved ? parseBilledUsage(resolved) : undefined,
    sentAt,
    startedAt,
    settledAt,
    buyerFailure,
  });

  if (streaming && started) {
    const extra: Uint8Array[] = [];
    if (thrown !== undefined) {
      extra.push(toBytes(`event: error\ndata: ${String(thrown)}\n\n`));
    }
    if (doneCount !== 1 && thrown === undefined) {
      violations.push(`stream ended with ${doneCount} done chunks`);
    }
    // The node sends the held done chunk (after an error chunk when the
    // provider threw) once the promise has settled.
    const ended = doneCount > 0 || thrown !== undefined;
    const cut = limits &&
      streamVerdict(limits, requestId, sentAt, startedAt!, [
        ...chunks.map((chunk) => ({ at: chunk.at, bytes: chunk.data })),
        ...(ended ? [{ at: settledAt, bytes: concat(extra) }] : []),
      ], ended);
    if (cut && !limits.streaming) {
      return result("stream", ...failed(cut.failure), cut.failure);
    }
    const delivered = cut
      ? chunks.slice(0, cut.delivered).map((chunk) => chunk.data)
      : [...chunks.map((chunk) => chunk.data), ...extra];
    return result(
      "stream",
      started.statusCode,
      started.headers,
      concat(delivered),
      cut?.failure,
    );
  }

  const whole = started ?? resolved;
  // A start without the streaming header is taken as the whole answer.
  const answeredAt = started ? startedAt! : settledAt;
  if (limits) {
    const window = limits.streaming
      ? limits.firstAnswerStreamingMs
      : limits.firstAnswerMs;
    if (answeredAt - sentAt > window) {
      const failure = timedOut("first_answer", requestId, window);
      return result("whole", ...failed(failure), failure);
    }
  }
  if (!whole) {
    return result(
      "whole",
      500,
      { "content-type": "text/plain" },
      toBytes(String(thrown)),
    );
  }
  return result("whole", whole.statusCode, whole.headers, whole.body);
}

/** Whether the buyer proxy asks for a stream: `accept: text/event-stream`, or `stream: true` in a JSON body. */
function wantsStreaming(
  headers: Record<string, string>,
  body: Uint8Array,
): boolean {
  const header = (name: string) =>
    Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1]
      ?.toLowerCase() ?? "";
  if (header("accept").includes("text/event-stream")) return true;
  if (!header("content-type").includes("application/json")) return false;
  try {
    return JSON.parse(decoder.decode(body))?.stream === true;
  } catch {
    return false;
  }
}

function timedOut(
  reason: BuyerFailure["reason"],
  requestId: string,
  afterMs: number,
): BuyerFailure {
  return { reason, afterMs, message: `Request ${requestId} timed out` };
}

/** What the buyer proxy answers a client when the buyer node gave up before anything reached it. */
function failed(
  failure: BuyerFailure,
): [number, Record<string, string>, Uint8Array] {
  return [
    502,
    { "content-type": "text/plain" },
    toBytes(`P2P request failed: ${failure.message}`),
  ];
}

/**
 * Where the buyer node gives up on a started stream, as
 * `buyer-request-handler.ts` does: the first answer's window, then the
 * window between chunks (moved by each chunk, the done chunk included), the
 * stream's length checked as each chunk arrives, and a non-streaming
 * client's buffer; a stream that never ends runs into the window between
 * chunks. `delivered` counts the chunks the client got before.
 */
function streamVerdict(
  limits: Required<BuyerLimits>,
  requestId: string,
  sentAt: number,
  startedAt: number,
  arrivals: { at: number; bytes: Uint8Array }[],
  ended: boolean,
): { failure: BuyerFailure; delivered: number } | undefined {
  const window = limits.streaming
    ? limits.firstAnswerStreamingMs
    : limits.firstAnswerMs;
  if (startedAt - sentAt > window) {
    return {
      failure: timedOut("first_answer", requestId, window),
      delivered: 0,
    };
  }
  let deadline = startedAt + limits.betweenChunksMs;
  let buffered = 0;
  for (const [index, arrival] of arrivals.entries()) {
    if (arrival.at > deadline) {
      return {
        failure: timedOut("between_chunks", requestId, deadline - sentAt),
        delivered: index,
      };
    }
    deadline = arrival.at + limits.betweenChunksMs;
    if (arrival.at - startedAt > limits.streamMs) {
      return {
        failure: {
          reason: "stream_length",
          afterMs: arrival.at - sentAt,
          message:
            `Stream ${requestId} exceeded max duration (${limits.streamMs}ms)`,
        },
        delivered: index,
      };
    }
    buffered += arrival.bytes.byteLength;
    if (!limits.streaming && buffered > limits.maxBufferBytes) {
      return {
        failure: {
          reason: "buffer",
          afterMs: arrival.at - sentAt,
          message:
            `Stream ${requestId} exceeded max buffered size (${limits.maxBufferBytes} bytes)`,
        },
        delivered: index,
      };
    }
  }
  if (ended) return undefined;
  // No done chunk: the buyer waits until the window between chunks ends.
  return {
    failure: timedOut("between_chunks", requestId, deadline - sentAt),
    delivered: arrivals.length,
  };
}
