/**
 * Large streams (5,000 delta events), 8 concurrent: throughput and CPU time
 * per request, floor and relay in alternating rounds (ABBA order) of 8
 * concurrent requests each, after a warm-up round of both.
 *
 * @module
 */

import { floorRequest, type ReadResult } from "./floor.ts";
import { benchProvider, relayRequest } from "./relay_client.ts";
import { cpuMicros } from "./runtime.ts";
import type { ResultRow } from "./stats.ts";

/** Options of {@linkcode benchLarge}. */
export interface LargeOptions {
  /** Measured rounds per side. */
  rounds: number;
  /** Concurrent requests per round. */
  concurrency: number;
  /** Body bytes each request must read. */
  expectedBytes: number;
}

interface LargeSide {
  bytes: number;
  wallMs: number;
  cpuMicros: number;
  requests: number;
}

/**
 * Runs the large-stream benchmark against `<baseUrl>/large`.
 *
 * @example
 * ```ts ignore
 * const rows = await benchLarge(base, { rounds: 10, concurrency: 8, expectedBytes });
 * ```
 */
export async function benchLarge(
  baseUrl: string,
  options: LargeOptions,
): Promise<ResultRow[]> {
  const url = `${baseUrl}/large/codex/responses`;
  const provider = benchProvider(`${baseUrl}/large`, options.concurrency);
  const floor: LargeSide = { bytes: 0, wallMs: 0, cpuMicros: 0, requests: 0 };
  const relay: LargeSide = { bytes: 0, wallMs: 0, cpuMicros: 0, requests: 0 };

  async function round(
    side: LargeSide | undefined,
    run: () => Promise<ReadResult>,
  ): Promise<void> {
    const cpu0 = cpuMicros();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: options.concurrency }, run),
    );
    const t1 = performance.now();
    const cpu1 = cpuMicros();
    for (const { bytes } of results) {
      if (bytes !== options.expectedBytes) {
        throw new Error(
          `Expected ${options.expectedBytes} body bytes, found ${bytes}`,
        );
      }
    }
    if (side) {
      side.bytes += options.expectedBytes * options.concurrency;
      side.wallMs += t1 - t0;
      side.cpuMicros += cpu1 - cpu0;
      side.requests += options.concurrency;
    }
  }
  const runFloor = () => floorRequest(url);
  const runRelay = () => relayRequest(provider);

  for (let index = 0; index < 2; index++) {
    await round(undefined, runFloor);
    await round(undefined, runRelay);
  }
  for (let index = 0; index < options.rounds; index++) {
    if (index % 2 === 0) {
      await round(floor, runFloor);
      await round(relay, runRelay);
    } else {
      await round(relay, runRelay);
      await round(floor, runFloor);
    }
  }
  const mbps = (side: LargeSide) => side.bytes / 1e6 / (side.wallMs / 1000);
  const cpu = (side: LargeSide) => side.cpuMicros / side.requests / 1000;
  return [
    {
      name: `large x${options.concurrency}: throughput`,
      floor: `${mbps(floor).toFixed(1)} MB/s`,
      relay: `${mbps(relay).toFixed(1)} MB/s`,
      value: mbps(relay) / mbps(floor),
      kind: "ratio_min",
      target: 0.95,
    },
    {
      name: `large x${options.concurrency}: CPU per request`,
      floor: `${cpu(floor).toFixed(2)} ms`,
      relay: `${cpu(relay).toFixed(2)} ms`,
      value: cpu(relay) / cpu(floor),
      kind: "ratio_max",
      target: 1.1,
    },
  ];
}
