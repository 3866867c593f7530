/**
 * Runs the benchmarks on Node: compiles `mod.ts`, `src/` and `bench/` with
 * the TypeScript that `scripts/build_npm.ts` uses (same pinned versions,
 * same compiler options) into `.build/bench-node/`, installs the runtime dependencies (jose, fzstd) there,
 * then runs `bench/main.js` on Node with `--expose-gc`, passing the
 * arguments on (e.g. `--full`, `--only small`).
 *
 * Usage: `deno run -A bench/node.ts [--full] [--only <names>] [--json <file>]
 * [--ref <REF_DIR>/pkg/dist/index.js]` (add `--cpu-prof` to write a CPU
 * profile of the Node run into `.build/bench-node/`; `--ref`, or the
 * `BENCH_REF_ENTRY` environment variable, measures the public 0.1.32 plugin
 * as one more side: see bench/reference.ts).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import {
  compilerOptions,
  ensureTools,
  ROOT,
  run,
  runtimeDependencies,
} from "../scripts/_toolchain.ts";

const root = ROOT;
const outDir = join(root, ".build", "bench-node");
const stageDir = join(outDir, "stage");

async function build(): Promise<void> {
  const denoJson = JSON.parse(await readFile(join(root, "deno.json"), "utf8"));
  const dependencies = runtimeDependencies(denoJson.imports ?? {});
  const tsc = await ensureTools();
  await rm(join(outDir, "dist"), { recursive: true, force: true });
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });
  await cp(join(root, "mod.ts"), join(stageDir, "mod.ts"));
  for (const dir of ["src", "bench"]) {
    await cp(join(root, dir), join(stageDir, dir), {
      recursive: true,
      // node.ts is this Deno script, not part of the Node run.
      filter: (source) => source !== join(root, "bench", "node.ts"),
    });
  }
  const packageFile = join(outDir, "package.json");
  const packageJson = JSON.stringify({
    private: true,
    type: "module",
    dependencies,
  });
  if ((await readFile(packageFile, "utf8").catch(() => "")) !== packageJson) {
    await writeFile(packageFile, packageJson);
    run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--no-package-lock",
    ], outDir);
  }
  const tsconfig = {
    compilerOptions: compilerOptions(stageDir),
    include: ["mod.ts", "src/**/*.ts", "bench/**/*.ts"],
  };
  await writeFile(join(stageDir, "tsconfig.json"), JSON.stringify(tsconfig));
  run("node", [tsc, "-p", join(stageDir, "tsconfig.json")], stageDir);
  await rm(stageDir, { recursive: true, force: true });
}

await build();
const args = process.argv.slice(2);
const nodeFlags = ["--expose-gc"];
if (args.includes("--cpu-prof")) {
  nodeFlags.push("--cpu-prof", `--cpu-prof-dir=${outDir}`);
}
// The npm package's bundled entry, when built (`deno task build:npm`), is
// measured next to the module's own compile.
const npmEntry = join(root, "npm", "dist", "index.js");
const npmArgs = existsSync(npmEntry) ? ["--npm-entry", npmEntry] : [];
const result = spawnSync(
  "node",
  [
    ...nodeFlags,
    join(outDir, "dist", "bench", "main.js"),
    ...args.filter((arg) => arg !== "--cpu-prof"),
    ...npmArgs,
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
