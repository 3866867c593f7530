/**
 * A lean Codex-style SSE upstream on 127.0.0.1 for the benchmarks: no
 * validation, no per-request scripting, answers prebuilt as bytes, so that
 * its own cost is as small as a server's can be and the floor (a plain
 * `fetch`) and the provider read exactly the same bytes from it.
 *
 * Routes, chosen by the first path segment (point the provider at
 * `<baseUrl>/<route>` as its base URL; it posts to `<route>/codex/responses`):
 *
 * - `small`: about 10 events (created ... 2 deltas ... completed), one write;
 * - `large`: 5,000 delta events, written in batches of `writeBytes`;
 * - each `small` and `large` answer's terminal event carries a response id of
 *   its own (as the backend's do), so that a provider's response store fills
 *   with distinct turns as in use;
 * - `ttfc`: headers at once, then after `firstEventDelayMs` the first event,
 *   its write time recorded (`performance.now()`), then the rest;
 * - `hold`: headers and the first 4 events, then silence until
 *   {@linkcode BenchUpstream.release} (or `GET /_release`), then the rest;
 * - `GET /_release`: releases every held answer, answers their number.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { batchFrames, type SseAnswer, textAnswer } from "./frames.ts";

/** Options of {@linkcode startBenchUpstream}. */
export interface BenchUpstreamOptions {
  /** Delta events of the `large` answer (default 5,000). */
  largeDeltas?: number;
  /** Bytes per write of the `large` answer (default 16,384). */
  writeBytes?: number;
  /** Delay between the headers and the first event of `ttfc` (default 20 ms). */
  firstEventDelayMs?: number;
}

/** A running benchmark upstream. */
export interface BenchUpstream {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** Bytes of the `small` answer body. */
  readonly smallBytes: number;
  /** Bytes of the `large` answer body. */
  readonly largeBytes: number;
  /** `performance.now()` of each `ttfc` first-event write, in arrival order. */
  readonly firstEventWrites: number[];
  /** Answers held open by the `hold` route now. */
  readonly held: number;
  /** Releases every held answer; returns how many. */
  release(): number;
  /** Closes the server and every open connection. */
  close(): Promise<void>;
}

const HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-codex-primary-used-percent": "12.5",
  "x-codex-primary-window-minutes": "300",
  "x-codex-primary-reset-after-seconds": "9000",
  "x-codex-secondary-used-percent": "3",
  "x-codex-secondary-window-minutes": "10080",
  "x-codex-secondary-reset-after-seconds": "500000",
  "x-codex-plan-type": "plus",
};

/** The account's model catalog (`GET <route>/codex/models`): the benchmark's model, in the classic shape. */
const CATALOG = JSON.stringify({
  models: [{ slug: "gpt-5.4", use_responses_lite: false }],
});

/** Frames of `hold` sent before the silence. */
const HOLD_FIRST_FRAMES = 4;

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.byteLength;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/**
 * Gives each answer the id of a response of its own, as the backend does (a
 * seller's response store then fills with distinct turns, as in use): the
 * last `resp_bench_0001` of `writes` (the terminal event's, which the store
 * keys by) gets four base-36 digits of a counter, in a copy of the one write
 * that holds it. The other writes are shared.
 */
function idStamper(writes: Uint8Array[]): () => Uint8Array[] {
  const marker = new TextEncoder().encode("resp_bench_0001");
  let writeIndex = -1;
  let at = -1;
  for (let w = writes.length - 1; w >= 0 && writeIndex < 0; w--) {
    const write = writes[w];
    for (let i = write.length - marker.length; i >= 0; i--) {
      if (marker.every((byte, k) => write[i + k] === byte)) {
        writeIndex = w;
        at = i + marker.length - 4;
        break;
      }
    }
  }
  if (writeIndex < 0) throw new Error("Expected a response id in the answer");
  let counter = 0;
  return () => {
    const digits = (counter++ % 36 ** 4).toString(36).padStart(4, "0");
    const write = writes[writeIndex].slice();
    for (let k = 0; k < 4; k++) write[at + k] = digits.charCodeAt(k);
    const stamped = writes.slice();
    stamped[writeIndex] = write;
    return stamped;
  };
}

/**
 * Starts the benchmark upstream on a free port of 127.0.0.1.
 *
 * @example
 * ```ts ignore
 * import { startBenchUpstream } from "./upstream.ts";
 * const upstream = await startBenchUpstream();
 * const answer = await fetch(`${upstream.baseUrl}/small/codex/responses`, {
 *   method: "POST",
 *   body: "{}",
 * });
 * await answer.arrayBuffer();
 * await upstream.close();
 * ```
 */
export async function startBenchUpstream(
  options: BenchUpstreamOptions = {},
): Promise<BenchUpstream> {
  const small: SseAnswer = textAnswer(2, "Hi! ");
  const large: SseAnswer = textAnswer(options.largeDeltas ?? 5000, "lazy");
  const largeWrites = batchFrames(large.frames, options.writeBytes ?? 16_384);
  const smallAnswer = idStamper([small.bytes]);
  const largeAnswer = idStamper(largeWrites);
  const ttfcFirst = batchFrames(small.frames.slice(0, 1), 1)[0];
  const ttfcRest = concatBytes(batchFrames(small.frames.slice(1), 1 << 30));
  const holdFirst = concatBytes(
    batchFrames(small.frames.slice(0, HOLD_FIRST_FRAMES), 1 << 30),
  );
  const holdRest = concatBytes(
    batchFrames(small.frames.slice(HOLD_FIRST_FRAMES), 1 << 30),
  );
  const firstEventDelayMs = options.firstEventDelayMs ?? 20;
  const firstEventWrites: number[] = [];
  const heldAnswers = new Set<ServerResponse>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  function writeAll(res: ServerResponse, writes: Uint8Array[], index = 0) {
    while (index < writes.length) {
      const ok = res.write(writes[index++]);
      if (!ok && index < writes.length) {
        res.once("drain", () => writeAll(res, writes, index));
        return;
      }
    }
    res.end();
  }

  function answer(route: string, res: ServerResponse): void {
    if (route === "small") {
      res.writeHead(200, HEADERS);
      res.end(smallAnswer()[0]);
    } else if (route === "large") {
      res.writeHead(200, HEADERS);
      writeAll(res, largeAnswer());
    } else if (route === "ttfc") {
      res.writeHead(200, HEADERS);
      res.flushHeaders();
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (res.destroyed) return;
        firstEventWrites.push(performance.now());
        res.write(ttfcFirst);
        res.end(ttfcRest);
      }, firstEventDelayMs);
      timers.add(timer);
    } else if (route === "hold") {
      res.writeHead(200, HEADERS);
      res.write(holdFirst);
      heldAnswers.add(res);
      res.once("close", () => heldAnswers.delete(res));
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"detail":"Not Found"}');
    }
  }

  function release(): number {
    const count = heldAnswers.size;
    for (const res of heldAnswers) {
      if (!res.destroyed) res.end(holdRest);
    }
    heldAnswers.clear();
    return count;
  }

  const server: Server = createServer(
    (req: IncomingMessage, res: ServerResponse) => {
      const url = req.url ?? "/";
      if (url === "/_release") {
        const count = release();
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(String(count));
        req.resume();
        return;
      }
      // Each login reads its model catalog once (then on its refresh
      // interval), as from the real backend; it is no route's answer.
      if (url.split("?")[0].endsWith("/codex/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(CATALOG);
        req.resume();
        return;
      }
      const route = url.split("/")[1] ?? "";
      req.on("data", () => {});
      req.on("end", () => answer(route, res));
    },
  );
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    smallBytes: small.bytes.byteLength,
    largeBytes: large.bytes.byteLength,
    firstEventWrites,
    get held() {
      return heldAnswers.size;
    },
    release,
    close(): Promise<void> {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const res of heldAnswers) res.destroy();
      heldAnswers.clear();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
