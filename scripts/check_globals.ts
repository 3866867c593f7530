/**
 * Proves that the runtime-neutral core uses no global `Buffer` and no global
 * `process`: scans `mod.ts` and `src/` and fails on any use. Also proves
 * that the layers below the command line (everything in `src/` outside
 * `src/cli/`) import nothing from `src/cli/`.
 *
 * Usage: `deno task check:globals`
 *
 * @module
 */

import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pattern =
  /(?<![\w.$'"`])(?:globalThis\.)?(?:Buffer|process)\s*(?:\.|\[|\()/;

async function* walk(dir: string): AsyncGenerator<string> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

const cliFolder = join(root, "src", "cli");
/** An import or export of a relative module, its path captured. */
const importPattern = /\b(?:from|import)\s*\(?\s*["'](\.[^"']*)["']/;

const problems: string[] = [];
const upward: string[] = [];
async function scan(path: string): Promise<void> {
  const belowCli = !path.startsWith(cliFolder + "/");
  const lines = (await readFile(path, "utf8")).split("\n");
  lines.forEach((line, index) => {
    const code = line.replace(/\/\/.*$/, "");
    if (/^\s*\*/.test(code)) return;
    if (pattern.test(code)) {
      problems.push(`${relative(root, path)}:${index + 1}: ${line.trim()}`);
    }
    const imported = importPattern.exec(code)?.[1];
    if (
      belowCli && imported !== undefined &&
      join(dirname(path), imported).startsWith(cliFolder + "/")
    ) {
      upward.push(`${relative(root, path)}:${index + 1}: ${line.trim()}`);
    }
  });
}

await scan(join(root, "mod.ts"));
for await (const path of walk(join(root, "src"))) await scan(path);
if (problems.length > 0) {
  console.error(
    `Global Buffer or process used in the runtime-neutral core:\n${
      problems.join("\n")
    }`,
  );
  process.exit(1);
}
if (upward.length > 0) {
  console.error(
    `Expected no import of src/cli/ below the command line, found:\n${
      upward.join("\n")
    }`,
  );
  process.exit(1);
}
console.log(
  "no global Buffer or process in mod.ts and src/; nothing below src/cli/ imports it",
);
