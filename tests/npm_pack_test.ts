// What `npm pack` puts in the published package: only what a seller needs
// (the plugin, the bin, the `./testing` export, their declarations and the
// documents), no test, no fixture, no TypeScript source. It runs in the
// Node suite against the npm build, which holds the package.json.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { findUp, IS_DENO } from "./_runtime.ts";

/** One file of `npm pack --dry-run --json`. */
interface PackedFile {
  path: string;
  mode: number;
}

let cached:
  | { files: PackedFile[]; manifest: Record<string, unknown> }
  | undefined;

/** The files `npm pack` would publish from the npm build, and its manifest (packed once). */
function packed(): { files: PackedFile[]; manifest: Record<string, unknown> } {
  if (cached) return cached;
  const npmDir = dirname(findUp("package.json"));
  const manifest = JSON.parse(
    readFileSync(join(npmDir, "package.json"), "utf8"),
  );
  const output = execFileSync(
    "npm",
    ["pack", "--dry-run", "--json", "--ignore-scripts"],
    { cwd: npmDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  const [pack] = JSON.parse(output) as { files: PackedFile[] }[];
  cached = { files: pack.files, manifest };
  return cached;
}

describe("npm pack", {
  skip: IS_DENO && "runs in the Node suite against the npm build",
  timeout: 60_000,
}, () => {
  it("lists no test, no fixture and no TypeScript source besides declarations", () => {
    const paths = packed().files.map((file) => file.path);
    const junk = paths.filter((path) =>
      /(^|\/)tests?\//.test(path) || /_test\.(js|d\.ts)$/.test(path) ||
      /fixture/i.test(path) ||
      (/\.[cm]?tsx?$/.test(path) && !/\.d\.[cm]?ts$/.test(path)) ||
      /(^|\/)(\.stage|node_modules)\//.test(path) ||
      /(^|\/)tsconfig\.json$/.test(path) || /\.tgz$/.test(path)
    );
    assert.deepEqual(junk, []);
  });

  it("lists only package.json, the documents and dist/", () => {
    const outside = packed().files.map((file) => file.path).filter((path) =>
      !path.startsWith("dist/") &&
      !["package.json", "README.md", "LICENSE", "CHANGELOG.md"].includes(path)
    );
    assert.deepEqual(outside, []);
  });

  it("lists the plugin entry the AntSeed CLI imports, the documents and the executable bin", () => {
    const { files, manifest } = packed();
    const byPath = new Map(files.map((file) => [file.path, file]));
    for (
      const path of [
        "package.json",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "dist/index.js",
        "dist/index.d.ts",
      ]
    ) {
      assert.ok(byPath.has(path), `${path} packed`);
    }
    const bins = Object.values(manifest.bin as Record<string, string>);
    assert.ok(bins.length > 0, "a bin is declared");
    for (const bin of bins) {
      const file = byPath.get(bin.replace(/^\.\//, ""));
      assert.ok(file, `bin ${bin} packed`);
      assert.ok((file.mode & 0o111) !== 0, `bin ${bin} is executable`);
    }
  });
});
