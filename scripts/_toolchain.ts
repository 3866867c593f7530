/**
 * The Node toolchain shared by the npm build and the Node benchmarks:
 * TypeScript and Node's types from npm (pinned), and the compiler options
 * that turn the Deno sources into Node ESM.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

/** Tool versions used for every Node build, pinned. */
const TYPESCRIPT = "typescript@5.9.3";
const TYPES_NODE = "@types/node@20.19.25";
/** Bundles the npm entries into single files (its binary comes from npm's @esbuild/<platform> package). */
const ESBUILD = "esbuild@0.25.12";

/** The repository root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..");
const toolsDir = join(ROOT, ".build", "tools");

/** Runs a command, inheriting stdio; throws when it fails. */
export function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) {
    throw new Error(
      `Command failed (exit ${result.status}): ${command} ${args.join(" ")}`,
    );
  }
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Path of the pinned esbuild binary, once {@linkcode ensureTools} ran. */
export const ESBUILD_BIN: string = join(
  toolsDir,
  "node_modules",
  ".bin",
  "esbuild",
);

/** Installs the pinned TypeScript, Node types and esbuild once; returns the tsc path. */
export async function ensureTools(): Promise<string> {
  const tsc = join(toolsDir, "node_modules", "typescript", "bin", "tsc");
  const marker = join(toolsDir, "versions.txt");
  const wanted = `${TYPESCRIPT} ${TYPES_NODE} ${ESBUILD}`;
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
    ESBUILD,
  ], toolsDir);
  await writeFile(marker, wanted);
  return tsc;
}

/**
 * Compiler options for sources staged in `stageDir`, compiled to `../dist`
 * (relative imports ending in `.ts` become `.js`).
 */
export function compilerOptions(
  stageDir: string,
  options: { declaration?: boolean } = {},
): Record<string, unknown> {
  return {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    lib: ["ES2023", "DOM", "DOM.Iterable"],
    types: ["node"],
    typeRoots: [relative(stageDir, join(toolsDir, "node_modules", "@types"))],
    rewriteRelativeImportExtensions: true,
    declaration: options.declaration ?? false,
    strict: true,
    skipLibCheck: true,
    rootDir: ".",
    outDir: "../dist",
    newLine: "lf",
  };
}

/**
 * The packages the published module imports at run time, by their deno.json
 * import name: they become package.json `dependencies` (with the version
 * range of their `npm:` specifier); every other deno.json import is a
 * test-only package. jose reads JWT claims; fzstd decodes zstd request
 * bodies where `node:zlib` has no zstd (Node 20), imported on first use.
 */
export const RUNTIME_DEPENDENCIES: readonly string[] = ["jose", "fzstd"];

/** Whether a deno.json import name belongs to a runtime dependency ("jose/" maps jose's subpaths). */
export function isRuntimeImport(name: string): boolean {
  return RUNTIME_DEPENDENCIES.includes(name.replace(/\/$/, ""));
}

/** package.json `dependencies` from the deno.json imports of {@linkcode RUNTIME_DEPENDENCIES}. */
export function runtimeDependencies(
  imports: Record<string, string>,
): Record<string, string> {
  const dependencies: Record<string, string> = {};
  for (const name of RUNTIME_DEPENDENCIES) {
    const spec = String(imports[name] ?? "");
    const prefix = `npm:${name}@`;
    const range = spec.startsWith(prefix) ? spec.slice(prefix.length) : "";
    if (range === "") {
      throw new Error(
        `Expected deno.json imports.${name} = "npm:${name}@<range>"`,
      );
    }
    dependencies[name] = range;
  }
  return dependencies;
}
