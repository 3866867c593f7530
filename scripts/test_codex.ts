/**
 * `deno task test:codex`: installs the official Codex CLI
 * (`@openai/codex`, pinned) from npm into `.build/codex/`, checks that its
 * native binary came with it, then runs `tests/codex_cli/codex_exec.ts`,
 * which drives `codex exec` against `serve`.
 *
 * The npm package ships its binary in an optional platform package
 * (`@openai/codex-linux-x64` = `npm:@openai/codex@<version>-linux-x64`, and
 * so on); nothing is downloaded from anywhere but the npm registry. npm skips
 * an optional dependency it cannot install without failing, so the binary
 * is checked (`codex --version`) after the install: when it is missing or
 * does not run, the task fails with the reason, it never skips.
 *
 * Where `unshare -n` can make a network namespace (Linux, as root or with
 * user namespaces), the test runs in one with only a loopback interface, so
 * that nothing the CLI does can leave the machine; elsewhere it runs as is,
 * and the test's trap proxy still records and refuses what would.
 *
 * The npm cache is npm's own (`npm_config_cache`, which `.ci/run` sets to a
 * folder outside the clone); a second install of the same version is served
 * from it (`--prefer-offline`).
 *
 * Usage: `deno task test:codex`
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { exists, ROOT } from "./_toolchain.ts";

/** The Codex CLI version the test drives, pinned. */
export const CODEX_VERSION = "0.171.0";
const PACKAGE = `@openai/codex@${CODEX_VERSION}`;
const installDir = join(ROOT, ".build", "codex");
const launcher = join(
  installDir,
  "node_modules",
  "@openai",
  "codex",
  "bin",
  "codex.js",
);
const marker = join(installDir, "installed.txt");
const TEST_FILE = "tests/codex_cli/codex_exec.ts";

/** Thrown when the CLI cannot be had; its message is the reason. */
class InstallError extends Error {}

function fail(message: string): never {
  throw new InstallError(message);
}

/** `codex --version` through the npm launcher; the version, or the reason it did not run. */
function codexVersion(): { version?: string; reason?: string } {
  const result = spawnSync("node", [launcher, "--version"], {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (result.error) return { reason: result.error.message };
  if (result.status !== 0) {
    const output = (result.stderr || result.stdout).trim();
    // Node prints the launcher's stack; its error line says what is missing.
    const line = /^\w*Error: .*$/m.exec(output)?.[0] ?? output.slice(-500);
    return { reason: `exit ${result.status}: ${line}` };
  }
  const match = /codex-cli (\S+)/.exec(result.stdout);
  return match
    ? { version: match[1] }
    : { reason: `unexpected output ${JSON.stringify(result.stdout.trim())}` };
}

/** Installs the pinned CLI unless it is there already; fails with the reason. */
async function install(): Promise<void> {
  const installed = await readFile(marker, "utf8").catch(() => "");
  if (installed === PACKAGE && codexVersion().version === CODEX_VERSION) {
    console.log(`test:codex: ${PACKAGE} already installed in .build/codex`);
    return;
  }
  await rm(installDir, { recursive: true, force: true });
  await mkdir(installDir, { recursive: true });
  await writeFile(
    join(installDir, "package.json"),
    JSON.stringify({ private: true }),
  );
  const started = Date.now();
  const result = spawnSync("npm", [
    "install",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    "--prefer-offline",
    "--ignore-scripts",
    PACKAGE,
  ], { cwd: installDir, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) {
    fail(`npm could not be started: ${result.error.message}`);
  }
  if (result.status !== 0) {
    fail(`npm install ${PACKAGE} failed (exit ${result.status}), see above`);
  }
  if (!await exists(launcher)) {
    fail(`npm install ${PACKAGE} left no launcher at ${launcher}`);
  }
  const { version, reason } = codexVersion();
  if (version !== CODEX_VERSION) {
    fail(
      version === undefined
        ? `The Codex CLI's native binary does not run (${reason}); npm installs it from the optional dependency @openai/codex-${process.platform}-${process.arch} (npm:${PACKAGE}-${process.platform}-${process.arch}), which it skips without failing when that package cannot be had for this platform`
        : `Expected codex-cli ${CODEX_VERSION}, found ${version}`,
    );
  }
  await writeFile(marker, PACKAGE);
  console.log(
    `test:codex: installed ${PACKAGE} in ${
      ((Date.now() - started) / 1000).toFixed(1)
    } s`,
  );
}

/** Whether `unshare -n` can run a command in a new network namespace here. */
function canIsolateNetwork(): boolean {
  const probe = spawnSync(
    "unshare",
    ["-rn", "sh", "-c", "ip link set lo up"],
    { stdio: "ignore", timeout: 10_000 },
  );
  return probe.status === 0;
}

function runTest(): number {
  const deno = process.execPath;
  // Everything the test imports, cached before the network goes away.
  const cached = spawnSync(deno, ["cache", TEST_FILE], {
    cwd: ROOT,
    stdio: "inherit",
  });
  if (cached.status !== 0) {
    console.error(`test:codex: deno cache ${TEST_FILE} failed`);
    return 1;
  }
  const test = [deno, "test", "-A", "--no-check=remote", TEST_FILE];
  const env = {
    ...process.env,
    CODEX_CLI: launcher,
    CODEX_CLI_VERSION: CODEX_VERSION,
  };
  let command: string[];
  if (canIsolateNetwork()) {
    console.log("test:codex: in a network namespace with loopback only");
    // `exec "$@"` keeps the arguments as they are.
    command = [
      "unshare",
      "-rn",
      "sh",
      "-c",
      'ip link set lo up && exec "$@"',
      "sh",
      ...test,
    ];
  } else {
    console.log(
      "test:codex: unshare -n is not available here; running without a network namespace (the trap proxy still refuses requests off this machine)",
    );
    command = test;
  }
  const result = spawnSync(command[0], command.slice(1), {
    cwd: ROOT,
    env,
    stdio: "inherit",
  });
  if (result.error) {
    console.error(`test:codex: ${result.error.message}`);
    return 1;
  }
  return result.status ?? 1;
}

try {
  await install();
  process.exit(runTest());
} catch (error) {
  if (!(error instanceof InstallError)) throw error;
  console.error(`test:codex failed: ${error.message}`);
  process.exit(1);
}
