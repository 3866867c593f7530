/**
 * What storing a turn costs a small request: the same Responses request
 * through the same provider, once as most clients send it (the provider keeps
 * the turn for a later `previous_response_id`) and once with `store: false`
 * (nothing kept, the completed event not looked for), the floor as a third
 * side, interleaved one request at a time (ABC CBA, turned every second
 * round: every side as often in each place). Issue 22 asks that
 * the stored request cost at most 0.03x of the floor more than the other, at
 * p50 and in CPU.
 *
 * The store keeps what the benchmark's one buyer leaves in it for the whole
 * run (as much as `OPENAI_RESPONSES_STATE_MAX_BYTES` and
 * `OPENAI_RESPONSES_STATE_BUYER_SHARE` let it), and every side shares the
 * heap that holds it: pin both to compare runs (BENCHMARKS.md).
 *
 * @module
 */

import { floorRequest } from "./floor.ts";
import { benchProvider, relayRequest } from "./relay_client.ts";
import { runSides, type SmallSide } from "./small.ts";
import { mean, percentile, type ResultRow } from "./stats.ts";

/** Options of {@linkcode benchStore}. */
export interface StoreOptions {
  /** Measured requests per side. */
  requests: number;
  /** Warm-up requests per side. */
  warmup: number;
}

/**
 * Runs the stored-turn benchmark against `<baseUrl>/small`.
 *
 * @example
 * ```ts ignore
 * const rows = await benchStore(upstream.baseUrl, { requests: 2000, warmup: 300 });
 * ```
 */
export async function benchStore(
  baseUrl: string,
  options: StoreOptions,
): Promise<ResultRow[]> {
  const url = `${baseUrl}/small/codex/responses`;
  const provider = benchProvider(`${baseUrl}/small`, 4);
  const floor: SmallSide = { latencies: [], cpu: [] };
  const stored: SmallSide = { latencies: [], cpu: [] };
  const unstored: SmallSide = { latencies: [], cpu: [] };
  await runSides([
    [floor, () => floorRequest(url)],
    [stored, () => relayRequest(provider)],
    [unstored, () => relayRequest(provider, "responses_unstored")],
  ], options);
  return storeRows(floor, stored, unstored);
}

/**
 * The rows of the stored-turn benchmark: each request against the floor, and
 * the stored one's step over the unstored one in units of the floor.
 */
export function storeRows(
  floor: SmallSide,
  stored: SmallSide,
  unstored: SmallSide,
): ResultRow[] {
  const p50f = percentile(floor.latencies, 50);
  const p50s = percentile(stored.latencies, 50);
  const p50u = percentile(unstored.latencies, 50);
  const cpuF = mean(floor.cpu);
  const cpuS = mean(stored.cpu);
  const cpuU = mean(unstored.cpu);
  return [
    {
      name: "store: p50, the turn stored",
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50s.toFixed(3)} ms`,
      value: p50s / p50f,
    },
    {
      name: "store: p50, store: false",
      floor: `${p50f.toFixed(3)} ms`,
      relay: `${p50u.toFixed(3)} ms`,
      value: p50u / p50f,
    },
    {
      name: "store: p50 step of storing (x of the floor)",
      floor: `${p50u.toFixed(3)} ms`,
      relay: `${p50s.toFixed(3)} ms`,
      value: (p50s - p50u) / p50f,
      kind: "diff_max",
      target: 0.03,
      unit: "x",
    },
    {
      name: "store: CPU, the turn stored",
      floor: `${cpuF.toFixed(1)} us`,
      relay: `${cpuS.toFixed(1)} us`,
      value: cpuS / cpuF,
    },
    {
      name: "store: CPU, store: false",
      floor: `${cpuF.toFixed(1)} us`,
      relay: `${cpuU.toFixed(1)} us`,
      value: cpuU / cpuF,
    },
    {
      name: "store: CPU step of storing (x of the floor)",
      floor: `${cpuU.toFixed(1)} us`,
      relay: `${cpuS.toFixed(1)} us`,
      value: (cpuS - cpuU) / cpuF,
      kind: "diff_max",
      target: 0.03,
      unit: "x",
    },
  ];
}
