/**
 * Small requests (about 10 events): latency p50/p99 and CPU time per
 * request, floor and relay interleaved one request at a time (ABC CBA, the
 * order turned every second round: {@linkcode runSides}), after a warm-up of
 * each. A third side, the floor plus the
 * provider's reading and shaping of the buyer's body, shows how much of the
 * relay's extra time is that work, which any relay that checks what it
 * forwards has to do; a fourth, the CLI floor (that reading and shaping, the
 * login's identity per request and an abort signal: {@linkcode cliFloorRequest}),
 * what any relay that checks what it forwards, must look like today's CLI and
 * can stop its request pays.
 *
 * @module
 */

import {
  cliFloorRequest,
  floorRequest,
  type ReadResult,
  shapedFloorRequest,
} from "./floor.ts";
import { REF_LABEL, referenceProvider } from "./reference.ts";
import { benchProvider, relayRequest } from "./relay_client.ts";
import { cpuMicros } from "./runtime.ts";
import { mean, percentile, type ResultRow } from "./stats.ts";

/** Options of {@linkcode benchSmall}. */
export interface SmallOptions {
  /** Measured requests per side. */
  requests: number;
  /** Warm-up requests per side. */
  warmup: number;
  /** The reference plugin's entry, measured as a fourth side when set. */
  ref?: string;
}

/** Raw figures of one side. */
export interface SmallSide {
  /** Latency of each request, in milliseconds. */
  latencies: number[];
  /** CPU time of each request, in microseconds. */
  cpu: number[];
}

/** One side of a request benchmark: where its figures go, and one request. */
export type Side = [SmallSide, () => Promise<ReadResult>];

/**
 * Runs `sides` one request at a time, `options.warmup` rounds unmeasured,
 * then `options.requests` rounds measured, each round's order the one before
 * reversed (ABC CBA) and, every second round, turned by one (BCA ACB, CAB
 * BAC, …), so that every side runs as often first, in the middle and last
 * (the garbage a side leaves is collected while whichever comes next runs):
 * the latency and the process CPU of each request go into its side. Throws when a side's
 * answer is not the size its first one was (each side reads the same bytes
 * every time; the relay's buyer a few more than the upstream sent: its own
 * fields echoed).
 *
 * @example
 * ```ts ignore
 * const floor: SmallSide = { latencies: [], cpu: [] };
 * await runSides([[floor, () => floorRequest(url)]], { requests: 100, warmup: 10 });
 * ```
 */
export async function runSides(
  sides: Side[],
  options: { requests: number; warmup: number },
): Promise<void> {
  const expected = new Map<() => Promise<ReadResult>, number>();
  async function one(
    side: SmallSide | undefined,
    run: () => Promise<ReadResult>,
  ): Promise<void> {
    const cpu0 = cpuMicros();
    const t0 = performance.now();
    const { bytes } = await run();
    const t1 = performance.now();
    const cpu1 = cpuMicros();
    const want = expected.get(run) ?? bytes;
    expected.set(run, want);
    if (bytes !== want) {
      throw new Error(`Expected ${want} body bytes, found ${bytes}`);
    }
    if (side) {
      side.latencies.push(t1 - t0);
      side.cpu.push(cpu1 - cpu0);
    }
  }
  for (let index = 0; index < options.warmup; index++) {
    for (const [, run] of sides) await one(undefined, run);
  }
  for (let index = 0; index < options.requests; index++) {
    for (const [side, run] of roundOrder(sides, index)) await one(side, run);
  }
}

/**
 * The order of `sides` in round `index` of {@linkcode runSides}: turned by
 * one every second round, reversed every other round.
 *
 * @example
 * ```ts
 * import { roundOrder } from "./small.ts";
 * console.log([0, 1, 2, 3].map((round) => roundOrder(["a", "b", "c"], round).join("")));
 * // ["abc", "cba", "bca", "acb"]
 * ```
 */
export function roundOrder<T>(sides: readonly T[], index: number): T[] {
  const turn = Math.floor(index / 2) % sides.length;
  const order = [...sides.slice(turn), ...sides.slice(0, turn)];
  return index % 2 === 0 ? order : order.reverse();
}

/**
 * Runs the small-request benchmark against `<baseUrl>/small`.
 *
 * @example
 * ```ts ignore
 * const rows = await benchSmall(upstream.baseUrl, { requests: 2000, warmup: 200 });
 * ```
 */
export async function benchSmall(
  baseUrl: string,
  options: SmallOptions,
): Promise<ResultRow[]> {
  const url = `${baseUrl}/small/codex/responses`;
  const provider = benchProvider(`${baseUrl}/small`, 4);
  const floor: SmallSide = { latencies: [], cpu: [] };
  const shaped: SmallSide = { latencies: [], cpu: [] };
  const cli: SmallSide = { latencies: [], cpu: [] };
  const relay: SmallSide = { latencies: [], cpu: [] };
  const ref: SmallSide = { latencies: [], cpu: [] };
  const sides: Side[] = [
    [floor, () => floorRequest(url)],
    [shaped, () => shapedFloorRequest(url)],
    [cli, () => cliFloorRequest(url)],
    [relay, () => relayRequest(provider)],
  ];
  if (options.ref) {
    const reference = await referenceProvider(
      options.ref,
      `${baseUrl}/small`,
      4,
    );
    sides.push([ref, () => relayRequest(reference)]);
  }
  await runSides(sides, options);
  const rows = smallRows(floor, relay, shaped, cli);
  return options.ref
    ? [...rows, ...smallReferenceRows(floor, relay, ref)]
    : rows;
}

/**
 * The rows of the reference side: the 0.1.32 plugin against the floor, and
 * the relay against the plugin (issue 22's targets: p50 at most 0.88x).
 */
export function smallReferenceRows(
  floor: SmallSide,
  relay: SmallSide,
  ref: SmallSide,
): ResultRow[] {
  const p50f = percentile(floor.latencies, 50);
  const p50r = percentile(relay.latencies, 50);
  const p50x = percentile(ref.latencies, 50);
  const cpuF = mean(floor.cpu);
  const cpuR = mean(relay.cpu);
  const cpuX = mean(ref.cpu);
  return [
    {
      name: `small: p50 latency, ${REF_LABEL} vs floor`,
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50x.toFixed(3)} ms`,
      value: p50x / p50f,
    },
    {
      name: `small: CPU per request, ${REF_LABEL} vs floor`,
      floor: `${cpuF.toFixed(1)} us`,
      relay: `${cpuX.toFixed(1)} us`,
      value: cpuX / cpuF,
    },
    {
      name: `small: p50 latency, relay vs ${REF_LABEL}`,
      floor: `${p50x.toFixed(3)} ms`,
      relay: `${p50r.toFixed(3)} ms`,
      value: p50r / p50x,
      kind: "ratio_max",
      target: 0.88,
    },
    {
      name: `small: CPU per request, relay vs ${REF_LABEL}`,
      floor: `${cpuX.toFixed(1)} us`,
      relay: `${cpuR.toFixed(1)} us`,
      value: cpuR / cpuX,
    },
  ];
}

/**
 * The rows of the small-request benchmark from raw figures, with
 * information rows: the floor plus reading and shaping against the floor,
 * the relay against the floor plus reading and shaping, and, when measured,
 * the CLI floor against the floor and the relay against it.
 */
export function smallRows(
  floor: SmallSide,
  relay: SmallSide,
  shaped: SmallSide,
  cli?: SmallSide,
): ResultRow[] {
  const p50f = percentile(floor.latencies, 50);
  const p50r = percentile(relay.latencies, 50);
  const p99f = percentile(floor.latencies, 99);
  const p99r = percentile(relay.latencies, 99);
  const cpuF = mean(floor.cpu);
  const cpuR = mean(relay.cpu);
  const p50s = percentile(shaped.latencies, 50);
  return [
    {
      name: "small: p50 latency",
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50r.toFixed(3)} ms`,
      value: p50r / p50f,
      kind: "ratio_max",
      target: 1.1,
    },
    {
      name: "small: p99 latency",
      floor: `${p99f.toFixed(3)} ms`,
      relay: `${p99r.toFixed(3)} ms`,
      value: p99r / p99f,
    },
    {
      name: "small: CPU per request",
      floor: `${cpuF.toFixed(1)} us`,
      relay: `${cpuR.toFixed(1)} us`,
      value: cpuR / cpuF,
      kind: "ratio_max",
      target: 1.15,
    },
    {
      name: "small: p50, floor + reading and shaping",
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50s.toFixed(3)} ms`,
      value: p50s / p50f,
    },
    {
      name: "small: p50, relay vs floor + reading and shaping",
      floor: `${p50s.toFixed(3)} ms`,
      relay: `${p50r.toFixed(3)} ms`,
      value: p50r / p50s,
    },
    ...(cli ? cliRows(floor, relay, cli) : []),
  ];
}

/**
 * The CLI floor (reading and shaping, the login's identity per request, an
 * abort signal) against the floor, and the relay against it: how much of the
 * relay's step over the floor any relay that checks what it forwards and
 * must speak as today's CLI pays, and what is the relay's own.
 */
function cliRows(
  floor: SmallSide,
  relay: SmallSide,
  cli: SmallSide,
): ResultRow[] {
  const p50f = percentile(floor.latencies, 50);
  const p50r = percentile(relay.latencies, 50);
  const p50c = percentile(cli.latencies, 50);
  const cpuF = mean(floor.cpu);
  const cpuR = mean(relay.cpu);
  const cpuC = mean(cli.cpu);
  return [
    {
      name: "small: p50, CLI floor (shaped, identity, signal)",
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50c.toFixed(3)} ms`,
      value: p50c / p50f,
    },
    {
      name: "small: CPU, CLI floor (shaped, identity, signal)",
      floor: `${cpuF.toFixed(1)} us`,
      relay: `${cpuC.toFixed(1)} us`,
      value: cpuC / cpuF,
    },
    {
      name: "small: p50, relay vs CLI floor",
      floor: `${p50c.toFixed(3)} ms`,
      relay: `${p50r.toFixed(3)} ms`,
      value: p50r / p50c,
    },
    {
      name: "small: CPU, relay vs CLI floor",
      floor: `${cpuC.toFixed(1)} us`,
      relay: `${cpuR.toFixed(1)} us`,
      value: cpuR / cpuC,
    },
  ];
}
