/**
 * Runs the benchmarks on Node: compiles `mod.ts`, `src/` and `bench/` with
 * the TypeScript that `scripts/build_npm.ts` uses (same pinned versions,
 * same compiler options) into `.build/bench-node/`, installs `jose` there,
 * then runs `bench/main.js` on Node with `--expose-gc`, passing the
 * arguments on (e.g. `--full`, `--only small`).
 *
 * Usage: `deno run -A bench/node.ts [--full] [--only <names>] [--json <file>]`
 * (add `--cpu-prof` to write a CPU profile of the Node run into
 * `.build/bench-node/`).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { cp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** Tool versions, pinned as in scripts/build_npm.ts. */
const TYPESCRIPT = "typescript@5.9.3";
const TYPES_NODE = "@types/node@20.19.25";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, ".build", "bench-node");
const stageDir = join(outDir, "stage");
const toolsDir = join(root, ".build", "tools");

function run(
  command: string,
  args: string[],
  cwd: string,
): void {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(
      `Command failed (exit ${result.status}): ${command} ${args.join(" ")}`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function ensureTools(): Promise<string> {
  const tsc = join(toolsDir, "node_modules", "typescript", "bin", "tsc");
  const marker = join(toolsDir, "versions.txt");
  const wanted = `${TYPESCRIPT} ${TYPES_NODE}`;
  if (
    await exists(tsc) &&
    (await readFile(marker, "utf8").catch(() => "")) === wanted
  ) {
    return tsc;
  }
  await mkdir(toolsDir, { recursive: true });
  await writeFile(
    join(toolsDir, "package.json"),
    JSON.stringify({ private: true }),
  );
  run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    TYPESCRIPT,
    TYPES_NODE,
  ], toolsDir);
  await writeFile(marker, wanted);
  return tsc;
}

async function build(): Promise<void> {
  const denoJson = JSON.parse(await readFile(join(root, "deno.json"), "utf8"));
  const jose = String(denoJson.imports?.jose ?? "").replace(/^npm:jose@/, "");
  const tsc = await ensureTools();
  await rm(join(outDir, "dist"), { recursive: true, force: true });
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });
  await cp(join(root, "mod.ts"), join(stageDir, "mod.ts"));
  for (const dir of ["src", "bench"]) {
    await cp(join(root, dir), join(stageDir, dir), {
      recursive: true,
      filter: (source) => !source.includes(`${join(root, "bench", "_tmp")}`),
    });
  }
  const packageFile = join(outDir, "package.json");
  const packageJson = JSON.stringify({
    private: true,
    type: "module",
    dependencies: { jose },
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
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      lib: ["ES2023", "DOM", "DOM.Iterable"],
      types: ["node"],
      typeRoots: [relative(stageDir, join(toolsDir, "node_modules", "@types"))],
      rewriteRelativeImportExtensions: true,
      strict: true,
      skipLibCheck: true,
      rootDir: ".",
      outDir: "../dist",
      newLine: "lf",
    },
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
const result = spawnSync(
  "node",
  [
    ...nodeFlags,
    join(outDir, "dist", "bench", "main.js"),
    ...args.filter((arg) => arg !== "--cpu-prof"),
  ],
  { cwd: root, stdio: "inherit" },
);
process.exit(result.status ?? 1);
