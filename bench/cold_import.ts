/**
 * Cold import: the time a fresh process takes to start and import the
 * module's entry, against the same runtime starting an empty module.
 * Deno: `deno run -A mod.ts` vs `deno run -A bench/_empty.ts` (same config,
 * warm module cache). Node: `node -e "import('<build>/mod.js')"` vs
 * `node -e ""`. Runs alternate; the figure is the difference of medians.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { IS_DENO } from "./runtime.ts";
import { median, type ResultRow } from "./stats.ts";

/** Options of {@linkcode benchColdImport}. */
export interface ColdImportOptions {
  /** Measured process starts per side. */
  runs: number;
  /**
   * An entry to import instead of the module's own (Node only), e.g. the
   * npm package's bundled `dist/index.js`; the row is named after it.
   */
  entry?: string;
  /** The row's name when `entry` is set (default: the npm package's). */
  name?: string;
}

function timeRun(command: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const result = spawnSync(command, args, { cwd, stdio: "ignore" });
  const t1 = performance.now();
  if (result.status !== 0) {
    throw new Error(
      `Expected ${args.join(" ")} to exit 0, found ${result.status}`,
    );
  }
  return t1 - t0;
}

/**
 * Measures the cold import of the module on this runtime.
 *
 * @example
 * ```ts ignore
 * const rows = benchColdImport({ runs: 10 });
 * ```
 */
export function benchColdImport(options: ColdImportOptions): ResultRow[] {
  const entry = options.entry ?? fileURLToPath(
    new URL(IS_DENO ? "../mod.ts" : "../mod.js", import.meta.url),
  );
  const root = fileURLToPath(new URL("..", import.meta.url));
  const command = process.execPath;
  const empty = IS_DENO
    ? ["run", "-A", fileURLToPath(new URL("./_empty.ts", import.meta.url))]
    : ["-e", ""];
  const full = IS_DENO
    ? ["run", "-A", entry]
    : ["-e", `import(${JSON.stringify(new URL(`file://${entry}`).href)})`];
  // Warm the module cache (Deno transpiles on the first run).
  timeRun(command, empty, root);
  timeRun(command, full, root);
  const emptyTimes: number[] = [];
  const fullTimes: number[] = [];
  for (let index = 0; index < options.runs; index++) {
    if (index % 2 === 0) {
      emptyTimes.push(timeRun(command, empty, root));
      fullTimes.push(timeRun(command, full, root));
    } else {
      fullTimes.push(timeRun(command, full, root));
      emptyTimes.push(timeRun(command, empty, root));
    }
  }
  const e = median(emptyTimes);
  const f = median(fullTimes);
  return [{
    name: options.entry
      ? options.name ?? "cold import, npm dist/index.js (median)"
      : "cold import (median)",
    floor: `${e.toFixed(1)} ms`,
    relay: `${f.toFixed(1)} ms`,
    value: f - e,
    kind: "diff_max",
    target: 25,
    unit: "ms",
  }];
}
