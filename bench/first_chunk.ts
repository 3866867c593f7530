/**
 * Time to first chunk: the delay between the upstream writing its first
 * event (`performance.now()` in the same process, so clocks agree) and the
 * client receiving it: the floor's reader, or the relay's host callback.
 * Floor and relay alternate (ABBA), one request at a time.
 *
 * @module
 */

import { floorRequest, type ReadResult } from "./floor.ts";
import { benchProvider, relayRequest } from "./relay_client.ts";
import { percentile, type ResultRow } from "./stats.ts";
import { startBenchUpstream } from "./upstream.ts";

/** Options of {@linkcode benchFirstChunk}. */
export interface FirstChunkOptions {
  /** Measured requests per side. */
  requests: number;
  /** Delay between headers and the first event, in milliseconds. */
  firstEventDelayMs: number;
}

/**
 * Runs the time-to-first-chunk benchmark against an upstream in this process.
 *
 * @example
 * ```ts ignore
 * const rows = await benchFirstChunk({ requests: 100, firstEventDelayMs: 5 });
 * ```
 */
export async function benchFirstChunk(
  options: FirstChunkOptions,
): Promise<ResultRow[]> {
  const upstream = await startBenchUpstream({
    firstEventDelayMs: options.firstEventDelayMs,
  });
  try {
    const url = `${upstream.baseUrl}/ttfc/codex/responses`;
    const provider = benchProvider(`${upstream.baseUrl}/ttfc`, 4);
    const floor: number[] = [];
    const relay: number[] = [];
    const one = async (
      side: number[] | undefined,
      run: () => Promise<ReadResult>,
    ): Promise<void> => {
      const writes = upstream.firstEventWrites.length;
      const { firstChunkAt } = await run();
      if (upstream.firstEventWrites.length !== writes + 1) {
        throw new Error("Expected exactly one first-event write per request");
      }
      side?.push(firstChunkAt - upstream.firstEventWrites[writes]);
    };
    const runFloor = () => floorRequest(url);
    const runRelay = () => relayRequest(provider);
    for (let index = 0; index < 20; index++) {
      await one(undefined, runFloor);
      await one(undefined, runRelay);
    }
    for (let index = 0; index < options.requests; index++) {
      if (index % 2 === 0) {
        await one(floor, runFloor);
        await one(relay, runRelay);
      } else {
        await one(relay, runRelay);
        await one(floor, runFloor);
      }
    }
    const p50f = percentile(floor, 50);
    const p50r = percentile(relay, 50);
    const p99f = percentile(floor, 99);
    const p99r = percentile(relay, 99);
    return [
      {
        name: "first chunk: p50 delay",
        floor: `${p50f.toFixed(3)} ms`,
        relay: `${p50r.toFixed(3)} ms`,
        value: p50r - p50f,
        kind: "diff_max",
        target: 0.5,
        unit: "ms",
      },
      {
        name: "first chunk: p99 delay",
        floor: `${p99f.toFixed(3)} ms`,
        relay: `${p99r.toFixed(3)} ms`,
        value: p99r - p99f,
        unit: "ms",
      },
    ];
  } finally {
    await upstream.close();
  }
}
