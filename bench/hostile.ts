/**
 * The hostile-buyer benchmark of issue 19: each abusive request, in a
 * process of its own (a 1 GiB heap cap, gc exposed), against an older tree
 * (`--before <dir>`, a checkout of this repository) and against this one,
 * in the same run. Prints a Markdown table: scenario, before, after, the
 * target the after side must meet, PASS or MISS.
 *
 * Scenarios (`bench/hostile_child.ts`): `references` (20,000
 * `item_reference`s to one stored 100 KB item, a 0.8 MiB body) and
 * `references_1k` (1,000 of them); `zstd_frames` (3.6 MB of empty zstd
 * frames); `chain` (a 67-byte request continuing 55 stored turns of 1 MiB,
 * with the 32 MiB body limit of the issue) and `chain_default` (the same at
 * each tree's default limit); `auth_header` (64k spaces in `authorization`
 * to `serve`'s handler); `admission` (concurrency 1, one stream in flight,
 * 20 simultaneous 8 MB bodies).
 *
 * Usage: `deno task bench:hostile --before <dir>` (or `deno run -A
 * bench/hostile.ts --before <dir>`). Flags: `--only <names>` (comma-separated
 * scenarios), `--timeout <seconds>` (per child, default 120). Without
 * `--before`, only this repository is measured.
 *
 * A child that runs out of memory or past its timeout is reported as such:
 * that is a figure, not a failure of the benchmark. Deno only (each child
 * imports the other tree's TypeScript sources).
 *
 * @module
 */

import { markdownTable } from "./stats.ts";
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { ChildResult } from "./hostile_child.ts";

/** How one child ended. */
type Run =
  | { kind: "result"; result: ChildResult }
  | { kind: "crashed"; reason: string; seconds: number }
  | { kind: "timeout"; seconds: number }
  | { kind: "skipped" };

interface Scenario {
  name: string;
  /** The target of the after side, as the issue states it. */
  target: string;
  meets(result: ChildResult): boolean;
  /** The cell of one side's result. */
  cell(result: ChildResult): string;
}

const repoRoot = fileURLToPath(new URL("..", import.meta.url)).replace(
  /\/$/,
  "",
);
const childFile = fileURLToPath(new URL("./hostile_child.ts", import.meta.url));

function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(1)} s`;
  return value < 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(0)} ms`;
}

function mib(value: number | undefined): string {
  return value === undefined ? "?" : `${value.toFixed(1)} MiB`;
}

function isStatus(outcome: string, status: RegExp): boolean {
  return status.test(outcome.split(" ")[0]);
}

/** Outcome, time, heap at its peak and kept, the event loop's worst block. */
function fullCell(result: ChildResult): string {
  return `${result.outcome} in ${ms(result.ms)}; heap +${
    mib(result.heapPeakMiB)
  } peak, +${mib(result.heapKeptMiB)} kept; loop blocked ${
    ms(result.loopBlockMs ?? 0)
  }`;
}

const refused413 = (result: ChildResult) =>
  isStatus(result.outcome, /^413$/) && result.ms < 100 &&
  (result.heapPeakMiB ?? Infinity) < 10;

const scenarios: Scenario[] = [
  {
    name: "references",
    target: "413 < 100 ms, heap < 10 MiB",
    meets: refused413,
    cell: fullCell,
  },
  {
    name: "references_1k",
    target: "413 < 100 ms, heap < 10 MiB",
    meets: refused413,
    cell: fullCell,
  },
  {
    name: "zstd_frames",
    target: "4xx < 1 s, loop < 100 ms",
    meets: (result) =>
      isStatus(result.outcome, /^4\d\d$/) && result.ms < 1000 &&
      (result.loopBlockMs ?? Infinity) < 100,
    cell: fullCell,
  },
  {
    name: "chain",
    target: "413 < 100 ms",
    meets: (result) => isStatus(result.outcome, /^413$/) && result.ms < 100,
    cell: fullCell,
  },
  {
    name: "chain_default",
    target: "413, or loop < 100 ms",
    meets: (result) =>
      isStatus(result.outcome, /^413$/)
        ? result.ms < 100
        : (result.loopBlockMs ?? Infinity) < 100,
    cell: fullCell,
  },
  {
    name: "auth_header",
    target: "answered < 10 ms",
    meets: (result) => /^\d{3}$/.test(result.outcome) && result.ms < 10,
    cell: (result) =>
      `${result.outcome} in ${ms(result.ms)} (median); loop blocked ${
        ms(result.loopBlockMs ?? 0)
      }`,
  },
  {
    name: "admission",
    target: "each 429 < 50 ms",
    meets: (result) =>
      result.outcome === "20× 429 provider_at_capacity" && result.ms < 50,
    cell: (result) =>
      `${result.outcome}, slowest ${ms(result.ms)}; loop blocked ${
        ms(result.loopBlockMs ?? 0)
      }`,
  },
];

/** Runs one scenario against the tree at `root` in a child process. */
function runChild(
  root: string,
  scenario: string,
  timeoutSeconds: number,
): Promise<Run> {
  const started = performance.now();
  const child = spawn(process.execPath, [
    "run",
    "-A",
    "--v8-flags=--max-old-space-size=1024,--expose-gc",
    childFile,
    root,
    scenario,
  ], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Uint8Array) => {
    stdout += new TextDecoder().decode(chunk);
  });
  child.stderr.on("data", (chunk: Uint8Array) => {
    // Only the end matters (the reason of a crash).
    stderr = (stderr + new TextDecoder().decode(chunk)).slice(-20_000);
  });
  return new Promise((resolve) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutSeconds * 1000);
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      if (timedOut) return resolve({ kind: "timeout", seconds });
      const line = stdout.trim().split("\n").at(-1) ?? "";
      if (code === 0 && line.startsWith("{")) {
        return resolve({ kind: "result", result: JSON.parse(line) });
      }
      const reason = /out of memory/i.test(stderr)
        ? "out of memory"
        : signal
        ? `signal ${signal}`
        : `exit ${code}: ${
          stderr.trim().split("\n").at(-1)?.slice(0, 160) ?? ""
        }`;
      resolve({ kind: "crashed", reason, seconds });
    });
  });
}

function describeRun(run: Run, scenario: Scenario): string {
  switch (run.kind) {
    case "result":
      return scenario.cell(run.result);
    case "crashed":
      return `crashed (${run.reason}) after ${run.seconds.toFixed(1)} s`;
    case "timeout":
      return `no answer within ${run.seconds.toFixed(0)} s (killed)`;
    case "skipped":
      return "not run (no --before)";
  }
}

function renderTable(rows: string[][]): string {
  return markdownTable(["scenario", "before", "after", "target", ""], rows);
}

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

const beforeRoot = flag("--before")?.replace(/\/$/, "");
const only = flag("--only")?.split(",");
const timeoutSeconds = Number(flag("--timeout") ?? "120");
const chosen = scenarios.filter((scenario) =>
  only === undefined || only.includes(scenario.name)
);

const load = () => loadavg().map((value) => value.toFixed(2)).join(" ");
console.log(
  `# Hostile buyers: deno ${
    process.versions.deno ?? "?"
  }, ${cpus().length} cores, load average ${load()} at start`,
);
console.log(
  beforeRoot === undefined
    ? "Before: not measured (no --before given); after: this repository."
    : `Before: ${beforeRoot}; after: ${repoRoot}. Each side of each scenario in a child process with a 1 GiB heap cap.`,
);

const rows: string[][] = [];
const notes: string[] = [];
for (const scenario of chosen) {
  const runs: Run[] = [];
  for (const [index, root] of [beforeRoot, repoRoot].entries()) {
    const side = index === 0 ? "before" : "after";
    const run = root === undefined
      ? { kind: "skipped" } as const
      : await runChild(root, scenario.name, timeoutSeconds);
    runs.push(run);
    process.stderr.write(
      `${scenario.name} ${side}: ${describeRun(run, scenario)}\n`,
    );
    if (run.kind === "result" && run.result.note) {
      notes.push(`- ${scenario.name}, ${side}: ${run.result.note}`);
    }
  }
  const [before, after] = runs;
  rows.push([
    scenario.name,
    describeRun(before, scenario),
    describeRun(after, scenario),
    scenario.target,
    after.kind === "result" && scenario.meets(after.result) ? "PASS" : "MISS",
  ]);
}

console.log("");
console.log(renderTable(rows));
console.log("");
console.log(notes.join("\n"));
console.log(`\nLoad average at the end: ${load()}`);
