/**
 * Large streams (5,000 delta events), 8 concurrent: throughput and CPU time
 * per request, floor and relay in alternating rounds (ABC CBA order) of 8
 * concurrent requests each, after warm-up rounds of each. A third side, the
 * floor keeping the whole body as the host contract asks of a relay (one
 * copy of the stream), shows how much of the relay's extra time is that.
 * With a reference build (bench/reference.ts), the public 0.1.32 plugin is a
 * fourth side, in the same rounds.
 *
 * @module
 */

import { floorRequest, keepingFloorRequest, type ReadResult } from "./floor.ts";
import { REF_LABEL, referenceProvider } from "./reference.ts";
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
  /** The reference plugin's entry, measured as a fourth side when set. */
  ref?: string;
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
  const keeping: LargeSide = {
    bytes: 0,
    wallMs: 0,
    cpuMicros: 0,
    requests: 0,
  };
  const ref: LargeSide = { bytes: 0, wallMs: 0, cpuMicros: 0, requests: 0 };

  // The relay's buyer may read a few bytes more than the upstream sent (its
  // own fields echoed in the lifecycle events): the same count every time.
  const expected = new Map<() => Promise<ReadResult>, number>();

  async function round(
    side: LargeSide | undefined,
    run: () => Promise<ReadResult>,
    exact = true,
  ): Promise<void> {
    const cpu0 = cpuMicros();
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: options.concurrency }, run),
    );
    const t1 = performance.now();
    const cpu1 = cpuMicros();
    const want = exact
      ? options.expectedBytes
      : expected.get(run) ?? results[0].bytes;
    expected.set(run, want);
    for (const { bytes } of results) {
      if (bytes !== want) {
        throw new Error(`Expected ${want} body bytes, found ${bytes}`);
      }
    }
    if (side) {
      side.bytes += want * options.concurrency;
      side.wallMs += t1 - t0;
      side.cpuMicros += cpu1 - cpu0;
      side.requests += options.concurrency;
    }
  }
  const relayRun = () => relayRequest(provider);
  const sides: [LargeSide, () => Promise<ReadResult>][] = [
    [floor, () => floorRequest(url)],
    [keeping, () => keepingFloorRequest(url)],
    [relay, relayRun],
  ];
  if (options.ref) {
    const reference = await referenceProvider(
      options.ref,
      `${baseUrl}/large`,
      options.concurrency,
    );
    sides.push([ref, () => relayRequest(reference)]);
  }
  const reversed = [...sides].reverse();

  for (let index = 0; index < 2; index++) {
    for (const [, run] of sides) {
      await round(undefined, run, run !== relayRun);
    }
  }
  for (let index = 0; index < options.rounds; index++) {
    for (const [side, run] of index % 2 === 0 ? sides : reversed) {
      await round(side, run, run !== relayRun);
    }
  }
  const mbps = (side: LargeSide) => side.bytes / 1e6 / (side.wallMs / 1000);
  const cpu = (side: LargeSide) => side.cpuMicros / side.requests / 1000;
  const n = options.concurrency;
  const refRows: ResultRow[] = !options.ref ? [] : [
    {
      name: `large x${n}: throughput, ${REF_LABEL} vs floor`,
      floor: `${mbps(floor).toFixed(1)} MB/s`,
      relay: `${mbps(ref).toFixed(1)} MB/s`,
      value: mbps(ref) / mbps(floor),
    },
    {
      name: `large x${n}: CPU per request, ${REF_LABEL} vs floor`,
      floor: `${cpu(floor).toFixed(2)} ms`,
      relay: `${cpu(ref).toFixed(2)} ms`,
      value: cpu(ref) / cpu(floor),
    },
    {
      name: `large x${n}: throughput, relay vs ${REF_LABEL}`,
      floor: `${mbps(ref).toFixed(1)} MB/s`,
      relay: `${mbps(relay).toFixed(1)} MB/s`,
      value: mbps(relay) / mbps(ref),
    },
    {
      name: `large x${n}: CPU per request, relay vs ${REF_LABEL}`,
      floor: `${cpu(ref).toFixed(2)} ms`,
      relay: `${cpu(relay).toFixed(2)} ms`,
      value: cpu(relay) / cpu(ref),
      kind: "ratio_max",
      target: 0.88,
    },
  ];
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
    {
      name: `large x${options.concurrency}: CPU, floor keeping the body`,
      floor: `${cpu(floor).toFixed(2)} ms`,
      relay: `${cpu(keeping).toFixed(2)} ms`,
      value: cpu(keeping) / cpu(floor),
    },
    {
      name:
        `large x${options.concurrency}: CPU, relay vs floor keeping the body`,
      floor: `${cpu(keeping).toFixed(2)} ms`,
      relay: `${cpu(relay).toFixed(2)} ms`,
      value: cpu(relay) / cpu(keeping),
    },
    ...refRows,
  ];
}
