/**
 * What differs between Deno and Node in the benchmarks: the runtime's name,
 * CPU time and memory of this process, garbage collection, and starting the
 * benchmark upstream as a child process of the same runtime.
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** True under Deno (sources), false under Node (the compiled build). */
export const IS_DENO = "Deno" in globalThis;

/**
 * `deno <version>` or `node <version>`.
 *
 * @example
 * ```ts
 * import { runtimeName } from "./runtime.ts";
 * console.log(runtimeName());
 * ```
 */
export function runtimeName(): string {
  if (IS_DENO) {
    const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
    return `deno ${deno?.version.deno ?? "?"}`;
  }
  return `node ${process.version.replace(/^v/, "")}`;
}

/**
 * CPU time (user + system) of this whole process, in microseconds.
 *
 * @example
 * ```ts
 * import { cpuMicros } from "./runtime.ts";
 * const before = cpuMicros();
 * ```
 */
export function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}

/** Heap and resident memory of this process, in bytes. */
export interface MemorySample {
  /** V8 heap in use. */
  heapUsed: number;
  /** Resident set size. */
  rss: number;
}

/**
 * Samples the memory of this process.
 *
 * @example
 * ```ts
 * import { memory } from "./runtime.ts";
 * console.log(memory().rss);
 * ```
 */
export function memory(): MemorySample {
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, rss: usage.rss };
}

/** Whether a full garbage collection can be asked for (`--expose-gc`). */
export function canCollect(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === "function";
}

/**
 * Runs full garbage collections with turns of the event loop between them,
 * so that finalizers and released native resources settle.
 *
 * @example
 * ```ts
 * import { collectGarbage } from "./runtime.ts";
 * await collectGarbage();
 * ```
 */
export async function collectGarbage(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let round = 0; round < 4; round++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Command and arguments that run the sibling script `name` (no extension) of
 * `from` on this runtime.
 *
 * @example
 * ```ts
 * import { scriptCommand } from "./runtime.ts";
 * const { command, args } = scriptCommand("upstream_main", import.meta.url);
 * ```
 */
export function scriptCommand(
  name: string,
  from: string,
): { command: string; args: string[] } {
  const extension = from.endsWith(".ts") ? ".ts" : ".js";
  const file = fileURLToPath(new URL(`./${name}${extension}`, from));
  return IS_DENO
    ? { command: process.execPath, args: ["run", "-A", file] }
    : { command: process.execPath, args: [file] };
}

/** A benchmark upstream running in a child process. */
export interface ChildUpstream {
  /** `http://127.0.0.1:<port>`. */
  baseUrl: string;
  /** Bytes of the `small` answer. */
  smallBytes: number;
  /** Bytes of the `large` answer. */
  largeBytes: number;
  /** Releases the answers held by the `hold` route; resolves with their number. */
  release(): Promise<number>;
  /** Ends the child (closes its standard input) and waits for its exit. */
  close(): Promise<void>;
}

/** Where the benchmark runs: the client's CPU and the upstream's. */
export interface Pinning {
  /** CPU of this process (every thread, and the processes it starts). */
  client: number;
  /** CPU of the upstream child process. */
  upstream: number;
}

/**
 * Pins this process (every thread) to CPU 0 with `taskset`, so that the
 * upstream child can have CPU 1 to itself: on 2 cores the two otherwise
 * trade cores mid-run and the figures swing. Returns undefined, and pins
 * nothing, off Linux, with fewer than 2 CPUs, or without `taskset`.
 *
 * @example
 * ```ts ignore
 * import { pinProcess, spawnUpstream } from "./runtime.ts";
 * const pinning = pinProcess();
 * const upstream = await spawnUpstream({ cpu: pinning?.upstream });
 * ```
 */
export function pinProcess(): Pinning | undefined {
  if (process.platform !== "linux" || cpus().length < 2) return undefined;
  const result = spawnSync(
    "taskset",
    ["-a", "-p", "-c", "0", String(process.pid)],
    { stdio: "ignore" },
  );
  return result.status === 0 ? { client: 0, upstream: 1 } : undefined;
}

/** Options of {@linkcode spawnUpstream}. */
export interface SpawnUpstreamOptions {
  /** Delta events of the `large` answer. */
  largeDeltas?: number;
  /** Runs the child on this CPU only (`taskset`). */
  cpu?: number;
}

/**
 * Starts `bench/upstream_main` in a child process of this runtime and
 * resolves once it listens.
 *
 * @example
 * ```ts ignore
 * import { spawnUpstream } from "./runtime.ts";
 * const upstream = await spawnUpstream();
 * await upstream.close();
 * ```
 */
export function spawnUpstream(
  options: SpawnUpstreamOptions = {},
): Promise<ChildUpstream> {
  const { command, args } = scriptCommand("upstream_main", import.meta.url);
  const extra = options.largeDeltas === undefined
    ? []
    : ["--large-deltas", String(options.largeDeltas)];
  const argv = [...args, ...extra];
  const child = options.cpu === undefined
    ? spawn(command, argv, { stdio: ["pipe", "pipe", "inherit"] })
    : spawn("taskset", ["-c", String(options.cpu), command, ...argv], {
      stdio: ["pipe", "pipe", "inherit"],
    });
  const exited = new Promise<void>((resolve) => child.once("exit", resolve));
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error("Expected the benchmark upstream to start, found none"));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Benchmark upstream exited early with code ${code}`));
    });
    child.stdout!.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      const end = text.indexOf("\n");
      if (end < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(text.slice(0, end));
      resolve({
        baseUrl: info.baseUrl,
        smallBytes: info.smallBytes,
        largeBytes: info.largeBytes,
        async release(): Promise<number> {
          const answer = await fetch(`${info.baseUrl}/_release`);
          return Number(await answer.text());
        },
        async close(): Promise<void> {
          child.stdin!.end();
          const timer = setTimeout(() => child.kill(), 5000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}
