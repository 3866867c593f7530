/**
 * Chat Completions against the Responses path of the same provider, in the
 * same run: the first chunk's delay after the upstream's first event (same
 * in-process upstream as `first_chunk`), and CPU per large stream (5,000
 * deltas translated into `chat.completion.chunk` lines).
 *
 * @module
 */

import { benchProvider, relayRequest } from "./relay_client.ts";
import { cpuMicros } from "./runtime.ts";
import { percentile, type ResultRow } from "./stats.ts";
import { startBenchUpstream } from "./upstream.ts";

/** Options of {@linkcode benchChat}. */
export interface ChatOptions {
  /** Measured requests per side for the first chunk. */
  requests: number;
  /** Measured large streams per side. */
  streams: number;
}

/**
 * Runs the Chat Completions benchmark.
 *
 * @example
 * ```ts ignore
 * const rows = await benchChat(upstream.baseUrl, { requests: 300, streams: 60 });
 * ```
 */
export async function benchChat(
  baseUrl: string,
  options: ChatOptions,
): Promise<ResultRow[]> {
  const ttfc = await startBenchUpstream({ firstEventDelayMs: 5 });
  const rows: ResultRow[] = [];
  try {
    const provider = benchProvider(`${ttfc.baseUrl}/ttfc`, 4);
    const delays = { responses: [] as number[], chat: [] as number[] };
    const one = async (side: "responses" | "chat", keep: boolean) => {
      const writes = ttfc.firstEventWrites.length;
      const { firstChunkAt } = await relayRequest(provider, side);
      if (keep) delays[side].push(firstChunkAt - ttfc.firstEventWrites[writes]);
    };
    for (let index = 0; index < 20; index++) {
      await one("responses", false);
      await one("chat", false);
    }
    for (let index = 0; index < options.requests; index++) {
      const order = index % 2 === 0
        ? ["responses", "chat"] as const
        : ["chat", "responses"] as const;
      for (const side of order) await one(side, true);
    }
    const p50 = (side: "responses" | "chat") => percentile(delays[side], 50);
    rows.push({
      name: "chat: first chunk p50 delay",
      floor: `${p50("responses").toFixed(3)} ms`,
      relay: `${p50("chat").toFixed(3)} ms`,
      value: p50("chat") - p50("responses"),
      kind: "diff_max",
      target: 1,
      unit: "ms",
    });
  } finally {
    await ttfc.close();
  }

  const large = benchProvider(`${baseUrl}/large`, 4);
  const cpu = { responses: 0, chat: 0 };
  const stream = async (side: "responses" | "chat", keep: boolean) => {
    const before = cpuMicros();
    await relayRequest(large, side);
    if (keep) cpu[side] += cpuMicros() - before;
  };
  for (let index = 0; index < 5; index++) {
    await stream("responses", false);
    await stream("chat", false);
  }
  for (let index = 0; index < options.streams; index++) {
    const order = index % 2 === 0
      ? ["responses", "chat"] as const
      : ["chat", "responses"] as const;
    for (const side of order) await stream(side, true);
  }
  const per = (side: "responses" | "chat") =>
    cpu[side] / options.streams / 1000;
  rows.push({
    name: "chat: CPU per large stream",
    floor: `${per("responses").toFixed(2)} ms`,
    relay: `${per("chat").toFixed(2)} ms`,
    value: per("chat") / per("responses"),
    kind: "ratio_max",
    target: 1.15,
  });
  return rows;
}
