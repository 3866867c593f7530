/**
 * Runs the benchmark upstream in its own process, so that its CPU time and
 * memory are not counted against the client being measured. Prints one JSON
 * line `{"baseUrl", "smallBytes", "largeBytes"}` once it listens, and exits
 * when its standard input closes.
 *
 * Usage: `deno run -A bench/upstream_main.ts [--large-deltas N]`, or
 * `node upstream_main.js` from the Node build.
 *
 * @module
 */

import process from "node:process";
import { startBenchUpstream } from "./upstream.ts";

function flag(name: string): number | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : Number(process.argv[index + 1]);
}

const upstream = await startBenchUpstream({
  largeDeltas: flag("--large-deltas"),
  writeBytes: flag("--write-bytes"),
});
process.stdout.write(
  JSON.stringify({
    baseUrl: upstream.baseUrl,
    smallBytes: upstream.smallBytes,
    largeBytes: upstream.largeBytes,
  }) + "\n",
);
process.stdin.resume();
process.stdin.on("end", () => {
  void upstream.close().then(() => process.exit(0));
});
