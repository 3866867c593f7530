/**
 * Builds the npm package in `npm/` (what dnt would do, with TypeScript from
 * npm because JSR is out of reach), then runs the compiled test suite on Node
 * against the build.
 *
 * Usage: `deno task build:npm [--skip-tests]`
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import {
  chmod,
  cp,
  mkdir,
  readdir,
  readFile,
  rm,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import {
  compilerOptions,
  ensureTools,
  ESBUILD_BIN,
  exists,
  isRuntimeImport,
  ROOT,
  run,
  RUNTIME_DEPENDENCIES,
  runtimeDependencies,
} from "./_toolchain.ts";

const npmDir = join(ROOT, "npm");
const stageDir = join(npmDir, ".stage");
const root = ROOT;

/** Copies the files of `from` that are not TypeScript (test data) to `to`, keeping the folders. */
async function copyData(from: string, to: string): Promise<void> {
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      await copyData(source, join(to, entry.name));
    } else if (entry.isFile() && !entry.name.endsWith(".ts")) {
      await mkdir(to, { recursive: true });
      await cp(source, join(to, entry.name));
    }
  }
}

async function listTests(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith("_test.js")) {
      found.push(join(dir, entry.name));
    }
  }
  return found.sort();
}

/**
 * Bundles the entries a process starts from, so that a cold start reads one
 * file instead of every module: `dist/index.js` (the plugin the AntSeed node
 * imports) as a single file, and `dist/cli.js` (the npm bin) with what it
 * imports lazily (the demo's simulated backend) in `dist/chunks/`. The
 * runtime dependencies stay imports of their packages. The per-module files
 * and their `.d.ts` stay for the types, `./testing` and the compiled tests.
 */
function bundleEntries(distDir: string, hasCli: boolean): void {
  const common = [
    "--bundle",
    "--format=esm",
    "--platform=node",
    "--target=node20",
    "--log-level=warning",
    ...RUNTIME_DEPENDENCIES.map((name) => `--external:${name}`),
  ];
  run(ESBUILD_BIN, [
    join(distDir, "mod.js"),
    ...common,
    `--outfile=${join(distDir, "index.js")}`,
  ], distDir);
  if (!hasCli) return;
  run(ESBUILD_BIN, [
    `cli=${join(distDir, "cli.js")}`,
    ...common,
    "--splitting",
    `--outdir=${distDir}`,
    "--chunk-names=chunks/[name]-[hash]",
    "--allow-overwrite",
  ], distDir);
}

async function main(): Promise<void> {
  const skipTests = process.argv.includes("--skip-tests");
  const denoJson = JSON.parse(await readFile(join(root, "deno.json"), "utf8"));
  const imports: Record<string, string> = denoJson.imports ?? {};
  const dependencies = runtimeDependencies(imports);
  const devImports: string[] = Object.entries(imports)
    .filter(([name]) => !isRuntimeImport(name))
    .map(([, spec]) => String(spec))
    .filter((spec) => spec.startsWith("npm:"))
    .map((spec) => spec.slice(4));

  const tsc = await ensureTools();
  await rm(npmDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });

  const entries: string[] = [];
  for (const name of ["mod.ts", "cli.ts", "testing.ts"]) {
    if (await exists(join(root, name))) entries.push(name);
  }
  for (const name of entries) await cp(join(root, name), join(stageDir, name));
  for (const dir of ["src", "tests"]) {
    await cp(join(root, dir), join(stageDir, dir), { recursive: true });
  }

  const hasCli = entries.includes("cli.ts");
  const hasTesting = entries.includes("testing.ts");
  const exportsMap: Record<string, unknown> = {
    ".": { types: "./dist/index.d.ts", import: "./dist/index.js" },
  };
  if (hasTesting) {
    exportsMap["./testing"] = {
      types: "./dist/testing.d.ts",
      import: "./dist/testing.js",
    };
  }
  if (hasCli) {
    exportsMap["./cli"] = { types: "./dist/cli.d.ts", import: "./dist/cli.js" };
  }
  const packageJson: Record<string, unknown> = {
    name: denoJson.name,
    version: denoJson.version,
    description:
      "AntSeed provider plugin: sell OpenAI Responses API capacity from a Codex (ChatGPT subscription) login",
    license: "MIT",
    type: "module",
    main: "./dist/index.js",
    types: "./dist/index.d.ts",
    exports: exportsMap,
    ...(hasCli
      ? { bin: { "provider-openai-responses": "./dist/cli.js" } }
      : {}),
    files: ["dist/", "!dist/tests/", "README.md", "LICENSE", "CHANGELOG.md"],
    engines: { node: ">=20" },
    keywords: ["antseed", "openai", "responses", "codex", "provider"],
    dependencies,
  };
  await writeFile(
    join(npmDir, "package.json"),
    JSON.stringify(packageJson, null, 2) + "\n",
  );
  // The runtime dependencies for type checking and the Node test run;
  // test-only packages (the real clients the tests drive, pinned exactly)
  // are installed without being recorded in package.json, from npm's cache
  // when it has them (`--prefer-offline`: a pinned version never changes).
  run("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    "--no-package-lock",
  ], npmDir);
  if (devImports.length > 0) {
    run("npm", [
      "install",
      "--no-audit",
      "--no-fund",
      "--ignore-scripts",
      "--no-package-lock",
      "--no-save",
      "--prefer-offline",
      ...devImports,
    ], npmDir);
  }

  const tsconfig = {
    compilerOptions: compilerOptions(stageDir, { declaration: true }),
    include: ["**/*.ts"],
  };
  await writeFile(
    join(stageDir, "tsconfig.json"),
    JSON.stringify(tsconfig, null, 2),
  );
  run("node", [tsc, "-p", join(stageDir, "tsconfig.json")], stageDir);
  await rm(stageDir, { recursive: true, force: true });

  const distDir = join(npmDir, "dist");
  // Test data (the client fixtures' JSON) next to the compiled tests.
  await copyData(join(root, "tests"), join(distDir, "tests"));
  bundleEntries(distDir, hasCli);
  await writeFile(
    join(distDir, "index.d.ts"),
    'export * from "./mod.js";\nexport { default } from "./mod.js";\n',
  );
  if (hasCli) {
    const cliPath = join(distDir, "cli.js");
    const cli = await readFile(cliPath, "utf8");
    if (!cli.startsWith("#!")) {
      await writeFile(cliPath, "#!/usr/bin/env node\n" + cli);
    }
    await chmod(cliPath, 0o755);
  }
  for (const file of ["README.md", "LICENSE", "CHANGELOG.md"]) {
    await cp(join(root, file), join(npmDir, file));
  }
  console.log(`built ${denoJson.name}@${denoJson.version} in npm/`);

  if (skipTests) return;
  const tests = await listTests(join(distDir, "tests"));
  if (tests.length === 0) throw new Error("No compiled tests found");
  const result = spawnSync(
    "node",
    ["--test", "--test-reporter=spec", ...tests],
    { cwd: npmDir, stdio: "inherit" },
  );
  if (result.status !== 0) {
    throw new Error(`Node test run failed (exit ${result.status})`);
  }
}

try {
  await main();
} catch (error) {
  console.error(`build:npm failed: ${(error as Error).message}`);
  process.exit(1);
}
