/**
 * An emulation of how an AntSeed seller node calls a provider
 * (spec/HOST_CONTRACT.md, "How the seller node calls a provider"), recording
 * every contract violation instead of hiding it.
 *
 * @module
 */

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

/** Options of {@linkcode callProvider}. */
export interface CallOptions {
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
  /** Upstream calls counted by the node? No: time the promise settled. */
  settledAt: number;
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
        settledAt: Date.now(),
      };
    }
  }

  let started: SerializedHttpResponse | undefined;
  let startCalls = 0;
  let streaming = false;
  let chunkCount = 0;
  let doneCount = 0;
  const chunks: { at: number; data: Uint8Array }[] = [];
  let settled = false;

  const callbacks = {
    onResponseStart(response: SerializedHttpResponse) {
      startCalls++;
      if (options.throwOnStart) throw new Error("Cannot send in state closed");
      if (started) violations.push("onResponseStart called twice");
      if (settled) violations.push("onResponseStart after the promise settled");
      if (response.requestId !== requestId) violations.push("wrong requestId");
      started = response;
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
  const result = (
    mode: BuyerResult["mode"],
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
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
    settledAt,
  });

  if (streaming && started) {
    const extra: Uint8Array[] = [];
    if (thrown !== undefined) {
      extra.push(toBytes(`event: error\ndata: ${String(thrown)}\n\n`));
    }
    if (doneCount !== 1 && thrown === undefined) {
      violations.push(`stream ended with ${doneCount} done chunks`);
    }
    const parts = [...chunks.map((chunk) => chunk.data), ...extra];
    const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const part of parts) {
      all.set(part, offset);
      offset += part.byteLength;
    }
    return result("stream", started.statusCode, started.headers, all);
  }

  const whole = started ?? resolved;
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
