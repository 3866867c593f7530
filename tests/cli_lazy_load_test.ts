// `serve` and `check` run without the simulated backend: a copy of the
// command line with src/testing/ and the demo removed (Deno: the sources;
// Node: the bundled npm bin with its demo chunk removed) still checks a
// login and serves; only `demo` needs them, and says so.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cp, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { makeAuthJson } from "../src/testing/jwt.ts";
import { findUp, IS_DENO } from "./_runtime.ts";

let scratch: string;
let entry: string;

/** A copy of what `serve` and `check` need, without the simulated backend. */
async function copyWithoutTesting(to: string): Promise<string> {
  if (IS_DENO) {
    const root = dirname(findUp("deno.json"));
    for (const file of ["cli.ts", "deno.json", "deno.lock"]) {
      await cp(join(root, file), join(to, file));
    }
    await cp(join(root, "src"), join(to, "src"), {
      recursive: true,
      filter: (source) =>
        !source.startsWith(join(root, "src", "testing")) &&
        source !== join(root, "src", "cli", "demo.ts"),
    });
    return join(to, "cli.ts");
  }
  const npm = dirname(findUp("package.json"));
  const dist = join(npm, "dist");
  await cp(join(dist, "cli.js"), join(to, "cli.js"));
  await cp(join(npm, "package.json"), join(to, "package.json"));
  await cp(join(dist, "chunks"), join(to, "chunks"), {
    recursive: true,
    filter: (source) => !/[/\\]demo-[^/\\]*\.js$/.test(source),
  });
  await symlink(join(npm, "node_modules"), join(to, "node_modules"));
  return join(to, "cli.js");
}

function cliArgs(args: string[]): string[] {
  return IS_DENO ? ["run", "-A", entry, ...args] : [entry, ...args];
}

function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(OPENAI_RESPONSES_|ANTSEED_|CODEX_HOME$)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, NO_COLOR: "1", ...extra };
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "cli-lazy-"));
  entry = await copyWithoutTesting(join(scratch, "cli"));
});

after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the command line without the simulated backend", () => {
  it("has no copy of src/testing or of the demo to load", async () => {
    const folder = dirname(entry);
    const names = IS_DENO
      ? await readdir(join(folder, "src"))
      : await readdir(join(folder, "chunks"));
    assert.ok(!names.includes("testing"), names.join(", "));
    assert.ok(!names.some((name) => name.startsWith("demo")), names.join());
  });

  it("runs check on a login", async () => {
    const authFile = join(scratch, "auth.json");
    await writeFile(
      authFile,
      JSON.stringify(
        makeAuthJson({ exp: Math.floor(Date.now() / 1000) + 3600 }),
      ),
      { mode: 0o600 },
    );
    const result = spawnSync(process.execPath, cliArgs(["check"]), {
      cwd: dirname(entry),
      env: cleanEnv({ OPENAI_RESPONSES_AUTH_FILE: authFile }),
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /token valid for/);
  });

  it("starts serve and answers /health", async () => {
    const authFile = join(scratch, "auth.json");
    const child = spawn(process.execPath, cliArgs(["serve", "--port", "0"]), {
      cwd: dirname(entry),
      env: cleanEnv({ OPENAI_RESPONSES_AUTH_FILE: authFile }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let errors = "";
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => (errors += text));
    try {
      const port = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`serve did not listen: ${output} ${errors}`)),
          60_000,
        );
        child.stdout!.on("data", (text: string) => {
          output += text;
          const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
          if (match) {
            clearTimeout(timer);
            resolve(match[1]);
          }
        });
        child.on("exit", () => {
          clearTimeout(timer);
          reject(new Error(`serve exited: ${output} ${errors}`));
        });
      });
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
    } finally {
      child.kill("SIGKILL");
      await new Promise((resolve) => child.once("close", resolve));
    }
  });
});
