/**
 * Test helpers that differ between Deno (sources) and Node (the compiled
 * build in npm/dist/tests).
 *
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

/** True when the tests run from TypeScript sources under Deno. */
export const IS_DENO = "Deno" in globalThis;

/** The folder of the repository (Deno) or of the npm build (Node) that holds `file`. */
export function findUp(file: string, from = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  while (!existsSync(join(dir, file))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${file} not found above ${from}`);
    dir = parent;
  }
  return join(dir, file);
}

/**
 * Command and arguments that run a sibling script of the test suite on the
 * current runtime: `name` without extension, resolved next to `from`, with
 * V8 flags if any (`--expose-gc`, `--max-old-space-size=256`).
 */
export function scriptCommand(
  name: string,
  from: string,
  v8Flags: string[] = [],
): { command: string; args: string[] } {
  const extension = from.endsWith(".ts") ? ".ts" : ".js";
  const file = fileURLToPath(new URL(`${name}${extension}`, from));
  if (!IS_DENO) return { command: process.execPath, args: [...v8Flags, file] };
  const flags = v8Flags.length > 0 ? [`--v8-flags=${v8Flags.join(",")}`] : [];
  return { command: process.execPath, args: ["run", "-A", ...flags, file] };
}
