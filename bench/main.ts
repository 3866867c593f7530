/**
 * The benchmarks: the provider against the physical floor (a plain `fetch`
 * of the same local upstream), measured in one run, printed as a table of
 * ratios (or differences) with PASS/MISS per target.
 *
 * Usage:
 * - Deno: `deno task bench` (quick) or `deno task bench:full`;
 * - Node: `deno run -A bench/node.ts [--full]` (compiles, then runs this
 *   file on Node with `--expose-gc`).
 *
 * Flags: `--full` (larger samples), `--only small,store,large,first_chunk,chat,memory,cold_import`,
 * `--json <file>` (write the rows as JSON), `--no-pin` (do not pin this
 * process to CPU 0 and the upstream to CPU 1), `--ref <file>` (or the
 * `BENCH_REF_ENTRY` environment variable): the entry of the public 0.1.32
 * plugin built by `/work/shared/tools/ref/build.sh`
 * (`<REF_DIR>/pkg/dist/index.js`), measured as one more side of small,
 * large, memory and cold import, Node run only (bench/reference.ts).
 *
 * @module
 */

import { writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import process from "node:process";
import { benchChat } from "./chat.ts";
import { benchColdImport } from "./cold_import.ts";
import { benchFirstChunk } from "./first_chunk.ts";
import { benchLarge } from "./large.ts";
import { benchMemory } from "./memory.ts";
import {
  canCollect,
  pinProcess,
  runtimeName,
  spawnUpstream,
} from "./runtime.ts";
import { REF_LABEL, referenceChoice } from "./reference.ts";
import { benchSmall } from "./small.ts";
import { benchStore } from "./store.ts";
import { renderTable, type ResultRow, verdict } from "./stats.ts";

const args = process.argv.slice(2);
const full = args.includes("--full");
const onlyIndex = args.indexOf("--only");
const only = onlyIndex === -1
  ? undefined
  : new Set(args[onlyIndex + 1].split(","));
const jsonIndex = args.indexOf("--json");
const jsonFile = jsonIndex === -1 ? undefined : args[jsonIndex + 1];
const pinning = args.includes("--no-pin") ? undefined : pinProcess();
const reference = referenceChoice(args);
const ref = reference.entry;

const sizes = full
  ? {
    small: { requests: 10_000, warmup: 1000 },
    store: { requests: 10_000, warmup: 1000 },
    large: { rounds: 300, concurrency: 8 },
    firstChunk: { requests: 1000, firstEventDelayMs: 5 },
    memory: { streams: 200, rounds: 8 },
    cold: { runs: 30 },
    chat: { requests: 1000, streams: 200 },
  }
  : {
    small: { requests: 2000, warmup: 300 },
    store: { requests: 2000, warmup: 300 },
    large: { rounds: 60, concurrency: 8 },
    firstChunk: { requests: 300, firstEventDelayMs: 5 },
    memory: { streams: 200, rounds: 4 },
    cold: { runs: 10 },
    chat: { requests: 300, streams: 60 },
  };

function wanted(name: string): boolean {
  return only === undefined || only.has(name);
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

const machine = `${runtimeName()}, ${cpus().length} cores (${
  cpus()[0]?.model ?? "?"
}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${
  pinning
    ? `client pinned to CPU ${pinning.client}, upstream to CPU ${pinning.upstream}`
    : "not pinned"
}`;
console.log(`# Benchmarks (${full ? "full" : "quick"}): ${machine}`);
console.log(
  `reference (${REF_LABEL} plugin): ${
    "reason" in reference ? reference.reason : `measured, ${ref}`
  }`,
);
if (!canCollect()) {
  log("warning: no gc() (run with --expose-gc); memory figures are noisier");
}

const rows: ResultRow[] = [];
const upstream = await spawnUpstream({ cpu: pinning?.upstream });
try {
  if (wanted("small")) {
    log("small requests...");
    rows.push(...await benchSmall(upstream.baseUrl, { ...sizes.small, ref }));
  }
  if (wanted("store")) {
    log("a stored turn against store: false...");
    rows.push(...await benchStore(upstream.baseUrl, sizes.store));
  }
  if (wanted("large")) {
    log("large streams...");
    rows.push(
      ...await benchLarge(upstream.baseUrl, {
        ...sizes.large,
        expectedBytes: upstream.largeBytes,
        ref,
      }),
    );
  }
  if (wanted("first_chunk")) {
    log("time to first chunk...");
    rows.push(...await benchFirstChunk(sizes.firstChunk));
  }
  if (wanted("chat")) {
    log("chat completions...");
    rows.push(...await benchChat(upstream.baseUrl, sizes.chat));
  }
  if (wanted("memory")) {
    log("open streams memory...");
    rows.push(...await benchMemory(upstream, { ...sizes.memory, ref }));
  }
} finally {
  await upstream.close();
}
if (wanted("cold_import")) {
  log("cold import...");
  rows.push(...benchColdImport(sizes.cold));
  const npmIndex = args.indexOf("--npm-entry");
  if (npmIndex !== -1) {
    rows.push(
      ...benchColdImport({ ...sizes.cold, entry: args[npmIndex + 1] }),
    );
  }
  if (ref) {
    rows.push(
      ...benchColdImport({
        ...sizes.cold,
        entry: ref,
        name: `cold import, ${REF_LABEL} dist/index.js (median)`,
      }),
    );
  }
}

console.log(
  `upstream answers: small ${upstream.smallBytes} B, large ${upstream.largeBytes} B`,
);
console.log(renderTable(rows));
const misses = rows.filter((row) => verdict(row) === "MISS");
console.log(
  misses.length === 0
    ? "all targets met"
    : `missed: ${misses.map((row) => row.name).join("; ")}`,
);
if (jsonFile) {
  await writeFile(
    jsonFile,
    JSON.stringify({ machine, full, rows }, null, 2) + "\n",
  );
}
