/**
 * Memory of open streams: `streams` concurrent streams held open by the
 * upstream after their first events, heap and RSS per stream above the
 * idle process, relay vs floor (plain fetches held open after their first
 * chunk). Rounds alternate floor/relay (ABBA); each is measured after full
 * garbage collections (`--expose-gc`). With a reference build
 * (bench/reference.ts), the public 0.1.32 plugin holds streams as a third
 * side (rounds then in ABC CBA order).
 *
 * @module
 */

import { floorHold } from "./floor.ts";
import { REF_LABEL, referenceProvider } from "./reference.ts";
import { benchProvider, relayHold } from "./relay_client.ts";
import {
  type ChildUpstream,
  collectGarbage,
  memory,
  type MemorySample,
} from "./runtime.ts";
import { median, type ResultRow } from "./stats.ts";

/** Options of {@linkcode benchMemory}. */
export interface MemoryOptions {
  /** Streams held open at once. */
  streams: number;
  /** Measured rounds per side. */
  rounds: number;
  /** The reference plugin's entry, measured as a third side when set. */
  ref?: string;
}

interface PerStream {
  heap: number;
  rss: number;
}

/**
 * Runs the open-streams memory benchmark against `<baseUrl>/hold` of a child
 * upstream (its memory is not in this process).
 *
 * @example
 * ```ts ignore
 * const rows = await benchMemory(upstream, { streams: 200, rounds: 2 });
 * ```
 */
export async function benchMemory(
  upstream: ChildUpstream,
  options: MemoryOptions,
): Promise<ResultRow[]> {
  const url = `${upstream.baseUrl}/hold/codex/responses`;
  const provider = benchProvider(`${upstream.baseUrl}/hold`, options.streams);

  async function round(
    open: () => Promise<{ finish(): Promise<number> }>,
  ): Promise<PerStream> {
    await collectGarbage();
    const before: MemorySample = memory();
    const held = await Promise.all(
      Array.from({ length: options.streams }, open),
    );
    await collectGarbage();
    const during: MemorySample = memory();
    const released = await upstream.release();
    if (released !== options.streams) {
      throw new Error(
        `Expected ${options.streams} held streams, found ${released}`,
      );
    }
    await Promise.all(held.map((stream) => stream.finish()));
    return {
      heap: (during.heapUsed - before.heapUsed) / options.streams,
      rss: (during.rss - before.rss) / options.streams,
    };
  }
  const openFloor = () => floorHold(url);
  const openRelay = () => relayHold(provider);

  const floor: PerStream[] = [];
  const relay: PerStream[] = [];
  const ref: PerStream[] = [];
  const sides: [PerStream[], () => Promise<{ finish(): Promise<number> }>][] = [
    [floor, openFloor],
    [relay, openRelay],
  ];
  if (options.ref) {
    const reference = await referenceProvider(
      options.ref,
      `${upstream.baseUrl}/hold`,
      options.streams,
    );
    sides.push([ref, () => relayHold(reference)]);
  }
  for (const [, open] of sides) await round(open);
  for (let index = 0; index < options.rounds; index++) {
    const order = index % 2 === 0 ? sides : [...sides].reverse();
    for (const [side, open] of order) side.push(await round(open));
  }
  const kib = (values: PerStream[], key: keyof PerStream) =>
    median(values.map((value) => value[key])) / 1024;
  const heapF = kib(floor, "heap");
  const heapR = kib(relay, "heap");
  const rssF = kib(floor, "rss");
  const rssR = kib(relay, "rss");
  return [
    {
      name: `${options.streams} open streams: heap per stream`,
      floor: `${heapF.toFixed(2)} KiB`,
      relay: `${heapR.toFixed(2)} KiB`,
      value: heapR - heapF,
      kind: "diff_max",
      target: 8,
      unit: "KiB",
    },
    {
      name: `${options.streams} open streams: RSS per stream`,
      floor: `${rssF.toFixed(2)} KiB`,
      relay: `${rssR.toFixed(2)} KiB`,
      value: rssR - rssF,
      unit: "KiB",
    },
    ...(options.ref
      ? memoryReferenceRows(options.streams, heapF, heapR, kib(ref, "heap"))
      : []),
  ];
}

/** The heap rows of the reference side: over the floor, and relay / reference. */
function memoryReferenceRows(
  streams: number,
  heapF: number,
  heapR: number,
  heapX: number,
): ResultRow[] {
  return [
    {
      name: `${streams} open streams: heap per stream, ${REF_LABEL} vs floor`,
      floor: `${heapF.toFixed(2)} KiB`,
      relay: `${heapX.toFixed(2)} KiB`,
      value: heapX - heapF,
      unit: "KiB",
    },
    {
      name: `${streams} open streams: heap per stream, relay vs ${REF_LABEL}`,
      floor: `${heapX.toFixed(2)} KiB`,
      relay: `${heapR.toFixed(2)} KiB`,
      value: heapR / heapX,
    },
  ];
}
