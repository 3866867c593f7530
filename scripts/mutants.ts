/**
 * The mutation check: proves that the tests notice when a rule the project
 * keeps is broken. Applies each hand-written mutation of
 * `scripts/mutants_list.ts` to a scratch copy of the repository (never to
 * the working tree), runs only the tests listed for it, up to the first
 * that fails (`--fail-fast`: a third less time in all), and reports that
 * test, or SURVIVED.
 *
 * First the unmutated copy must pass every listed test (the baseline, split
 * across the jobs' copies and run at once), and
 * every `find` must occur exactly once in its file; otherwise nothing runs.
 * The file is restored after each mutation, and the scratch copy is removed
 * at the end, on SIGINT/SIGTERM, and on any error.
 *
 * Usage: `deno task mutants [--only id,id] [--jobs n] [--timeout-ms n]`
 *
 * Prints a table `| mutation | file | caught by |` and a last line
 * `mutants: X caught, Y survived`; exits 1 when a mutation survived, the
 * list does not match the code, or the baseline failed.
 *
 * @module
 */

import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Mutant, MUTANTS } from "./mutants_list.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** What a test run needs; nothing else is copied. */
const COPIED = [
  "src",
  "tests",
  "mod.ts",
  "cli.ts",
  "testing.ts",
  "deno.json",
  "deno.lock",
];
const DEFAULT_TIMEOUT_MS = 90_000;

interface Options {
  only?: Set<string>;
  jobs: number;
  timeoutMs: number;
}

interface Outcome {
  mutant: Mutant;
  /** Caught: the test that failed first (or how the run failed). */
  caughtBy?: string;
  /** Not caught: why (SURVIVED, or the mutation broke loading). */
  problem?: string;
  ms: number;
}

interface TestRun {
  code: number;
  output: string;
  timedOut: boolean;
}

function parseArgs(args: string[]): Options {
  const options: Options = { jobs: 1, timeoutMs: DEFAULT_TIMEOUT_MS };
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    switch (args[i]) {
      case "--only":
        options.only = new Set(value.split(","));
        i++;
        break;
      case "--jobs":
        options.jobs = Math.max(1, Number(value) || 1);
        i++;
        break;
      case "--timeout-ms":
        options.timeoutMs = Number(value) || DEFAULT_TIMEOUT_MS;
        i++;
        break;
      default:
        throw new Error(
          `Unknown argument ${
            JSON.stringify(args[i])
          }: expected --only <ids>, --jobs <n> or --timeout-ms <n>`,
        );
    }
  }
  return options;
}

function occurrences(text: string, find: string): number {
  let count = 0;
  for (
    let at = text.indexOf(find);
    at !== -1;
    at = text.indexOf(find, at + 1)
  ) {
    count++;
  }
  return count;
}

async function exists(path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false);
}

/** Problems of the list against the code as it is now. */
async function checkList(mutants: Mutant[]): Promise<string[]> {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const mutant of mutants) {
    if (ids.has(mutant.id)) problems.push(`${mutant.id}: duplicate id`);
    ids.add(mutant.id);
    if (mutant.find === mutant.replace) {
      problems.push(`${mutant.id}: replace equals find`);
    }
    let text: string;
    try {
      text = await readFile(join(ROOT, mutant.file), "utf8");
    } catch {
      problems.push(`${mutant.id}: ${mutant.file} not found`);
      continue;
    }
    const count = occurrences(text, mutant.find);
    if (count !== 1) {
      problems.push(
        `${mutant.id}: expected the snippet exactly once in ${mutant.file}, found it ${count} times (update scripts/mutants_list.ts): ${
          JSON.stringify(mutant.find)
        }`,
      );
    }
    if (mutant.tests.length === 0) problems.push(`${mutant.id}: no tests`);
    for (const test of mutant.tests) {
      if (!await exists(join(ROOT, test))) {
        problems.push(`${mutant.id}: test ${test} not found`);
      }
    }
  }
  return problems;
}

/** Running test processes, killed (with their children) on a signal. */
const running = new Set<Deno.ChildProcess>();
const scratches: string[] = [];
/** Set on a signal: nothing is written to the scratch copies any more. */
let stopping = false;

function killGroup(child: Deno.ChildProcess): void {
  try {
    // Detached: the child leads its own process group, with the `serve`
    // and fixture processes the tests start.
    Deno.kill(-child.pid, "SIGKILL");
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

async function cleanUp(): Promise<void> {
  stopping = true;
  for (const child of running) killGroup(child);
  for (const path of scratches) {
    // A killed test process may still be writing there for a moment.
    for (let attempt = 0; attempt < 10 && await exists(path); attempt++) {
      await rm(path, { recursive: true, force: true }).catch(() => {});
      if (await exists(path)) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }
}

async function makeScratch(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), "mutants-"));
  scratches.push(path);
  for (const entry of COPIED) {
    await cp(join(ROOT, entry), join(path, entry), { recursive: true });
  }
  return path;
}

/**
 * `tests` in at most `count` groups of about the same size in bytes (a test
 * file's size standing for its time): the largest first, each into the
 * lightest group so far. No group is empty (`deno test` without files would
 * run them all).
 */
async function splitTests(
  tests: string[],
  count: number,
): Promise<string[][]> {
  const sized = await Promise.all(tests.map(async (test) => ({
    test,
    bytes: (await stat(join(ROOT, test))).size,
  })));
  sized.sort((a, b) => b.bytes - a.bytes);
  const groups = Array.from(
    { length: count },
    () => ({ tests: [] as string[], bytes: 0 }),
  );
  for (const { test, bytes } of sized) {
    const lightest = groups.reduce((a, b) => b.bytes < a.bytes ? b : a);
    lightest.tests.push(test);
    lightest.bytes += bytes;
  }
  return groups.map((group) => group.tests).filter((group) => group.length > 0);
}

async function runTests(
  cwd: string,
  tests: string[],
  timeoutMs: number,
): Promise<TestRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-check", "--fail-fast", ...tests],
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  running.add(child);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child);
  }, timeoutMs);
  try {
    const [status, stdout, stderr] = await Promise.all([
      child.status,
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return { code: status.code, output: `${stdout}\n${stderr}`, timedOut };
  } finally {
    clearTimeout(timer);
    running.delete(child);
    // Fixture processes a killed run left behind.
    if (timedOut) killGroup(child);
  }
}

/** The first failing test of a `deno test` run, as `file: name`. */
function firstFailure(output: string): string | undefined {
  let file = "";
  for (const line of output.split("\n")) {
    const running = /^running \d+ tests? from (\S+)/.exec(line);
    if (running) file = basename(running[1]);
    const failed = /^\s*(.*?) \.\.\. FAILED \((?!due to)/.exec(line);
    if (failed) return `${file}: ${failed[1]}`;
  }
  return undefined;
}

function firstError(output: string): string {
  const line = output.split("\n").find((text) => /^error/i.test(text.trim()));
  return (line ?? "no output").trim().slice(0, 160);
}

function ranAnyTest(output: string): boolean {
  return /^running \d+ tests? from /m.test(output);
}

async function runMutant(
  mutant: Mutant,
  scratch: string,
  options: Options,
): Promise<Outcome> {
  const path = join(scratch, mutant.file);
  const original = await readFile(path, "utf8");
  const started = Date.now();
  try {
    // A function: `$&` and `$1` in `replace` are text, not patterns.
    await writeFile(path, original.replace(mutant.find, () => mutant.replace));
    const run = await runTests(scratch, mutant.tests, options.timeoutMs);
    const ms = Date.now() - started;
    if (run.timedOut) {
      return {
        mutant,
        caughtBy: `timed out after ${options.timeoutMs / 1000} s`,
        ms,
      };
    }
    if (run.code === 0) return { mutant, problem: "SURVIVED", ms };
    const failure = firstFailure(run.output);
    if (failure) return { mutant, caughtBy: failure, ms };
    if (!ranAnyTest(run.output)) {
      return {
        mutant,
        problem: `BROKEN (the tests could not load: ${firstError(run.output)})`,
        ms,
      };
    }
    return { mutant, caughtBy: firstError(run.output), ms };
  } finally {
    if (!stopping) await writeFile(path, original);
  }
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|");
}

async function main(): Promise<number> {
  const options = parseArgs(Deno.args);
  const mutants = options.only
    ? MUTANTS.filter((mutant) => options.only!.has(mutant.id))
    : MUTANTS;
  if (options.only) {
    for (const id of options.only) {
      if (!MUTANTS.some((mutant) => mutant.id === id)) {
        console.error(`No mutation ${JSON.stringify(id)} in the list`);
        return 1;
      }
    }
  }

  const problems = await checkList(mutants);
  if (problems.length > 0) {
    console.error("The mutation list does not match the code:");
    for (const problem of problems) console.error(`- ${problem}`);
    console.log(`mutants: 0 caught, ${mutants.length} survived`);
    return 1;
  }

  const jobs = Math.min(options.jobs, mutants.length);
  const started = Date.now();
  const workers: string[] = [];
  for (let i = 0; i < jobs; i++) workers.push(await makeScratch());

  const allTests = [...new Set(mutants.flatMap((mutant) => mutant.tests))];
  const groups = await splitTests(allTests, workers.length);
  console.error(
    `baseline: ${allTests.length} test files, unmutated, in ${groups.length} run(s)`,
  );
  // One run per worker at once: the baseline is the longest wait of all.
  const runs = await Promise.all(
    groups.map((tests, i) =>
      runTests(workers[i], tests, options.timeoutMs * 2)
    ),
  );
  const baseline = runs.find((run) => run.code !== 0);
  if (baseline) {
    console.error(
      `The unmutated tests fail (${
        baseline.timedOut
          ? "timed out"
          : firstFailure(baseline.output) ?? firstError(baseline.output)
      }): fix them before looking for mutants`,
    );
    console.error(baseline.output.slice(-4000));
    console.log(`mutants: 0 caught, ${mutants.length} survived`);
    return 1;
  }

  const outcomes: Outcome[] = new Array(mutants.length);
  let next = 0;
  let done = 0;
  await Promise.all(workers.map(async (scratch) => {
    while (next < mutants.length) {
      const index = next++;
      const outcome = await runMutant(mutants[index], scratch, options);
      if (stopping) return;
      outcomes[index] = outcome;
      done++;
      console.error(
        `[${done}/${mutants.length}] ${outcome.mutant.id}: ${
          outcome.caughtBy ? `caught by ${outcome.caughtBy}` : outcome.problem
        } (${(outcome.ms / 1000).toFixed(1)} s)`,
      );
    }
  }));

  console.log("| mutation | file | caught by |");
  console.log("| --- | --- | --- |");
  for (const outcome of outcomes) {
    console.log(
      `| ${outcome.mutant.id} | ${outcome.mutant.file} | ${
        cell(outcome.caughtBy ?? outcome.problem!)
      } |`,
    );
  }
  const caught = outcomes.filter((outcome) => outcome.caughtBy).length;
  console.log("");
  console.log(
    `mutants: ${caught} caught, ${outcomes.length - caught} survived (${
      Math.round((Date.now() - started) / 1000)
    } s)`,
  );
  return caught === outcomes.length ? 0 : 1;
}

async function onSignal(signal: Deno.Signal): Promise<void> {
  console.error(`${signal}: stopping; removing the scratch copies`);
  await cleanUp();
  Deno.exit(130);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  try {
    Deno.addSignalListener(signal, () => void onSignal(signal));
  } catch {
    // Not every platform has every signal.
  }
}

let code = 1;
try {
  code = await main();
} finally {
  await cleanUp();
}
Deno.exit(code);
