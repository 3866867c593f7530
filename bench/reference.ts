/**
 * The optional third side of the benchmarks: the public 0.1.32 plugin (the
 * seed this project supersedes), built from the AntSeed sources by
 * `/work/shared/tools/ref/build.sh` (its README says how), loaded in the
 * same process and called the same way as the provider (its
 * `handleRequestStream` with the leanest host callbacks, its token read from
 * the same auth.json, its backend the same local upstream).
 *
 * The build is found by `--ref <file>` or the `BENCH_REF_ENTRY` environment
 * variable: the plugin's entry, `<REF_DIR>/pkg/dist/index.js`. It is a Node
 * package (its dependencies resolve from the `node_modules` beside it), so it
 * is measured in the Node run (`deno run -A bench/node.ts --ref <file>`); the
 * Deno run says so and goes on without it.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { benchAuthFile, type StreamingProvider } from "./relay_client.ts";
import { IS_DENO } from "./runtime.ts";

/** The environment variable naming the reference build's entry. */
export const REF_ENV = "BENCH_REF_ENTRY";

/** The label of the reference side in the result rows. */
export const REF_LABEL = "0.1.32";

/** The reference plugin's module: a default export with `createProvider`. */
interface ReferenceModule {
  default: {
    createProvider(config: Record<string, string>): StreamingProvider & {
      init?(): Promise<void>;
    };
  };
}

/** Where the reference build is, or why it is not measured. */
export type ReferenceChoice =
  | { entry: string }
  | { entry?: undefined; reason: string };

/**
 * The reference build named by `--ref <file>` (first) or `BENCH_REF_ENTRY`,
 * or why there is none to measure: not named, not found, or a Deno run.
 *
 * @example
 * ```ts ignore
 * const choice = referenceChoice(process.argv.slice(2));
 * ```
 */
export function referenceChoice(args: readonly string[]): ReferenceChoice {
  const index = args.indexOf("--ref");
  const named = index === -1 ? process.env[REF_ENV] : args[index + 1];
  if (named === undefined || named.trim() === "") {
    return {
      reason:
        `not measured: no build named (pass --ref <REF_DIR>/pkg/dist/index.js or set ${REF_ENV}; see BENCHMARKS.md)`,
    };
  }
  const entry = isAbsolute(named) ? named : resolve(named);
  if (!existsSync(entry)) {
    return { reason: `not measured: expected a build at ${entry}, found none` };
  }
  if (IS_DENO) {
    return {
      reason:
        `not measured in the Deno run: the ${REF_LABEL} plugin is a Node package (run deno run -A bench/node.ts --ref ${entry})`,
    };
  }
  return { entry };
}

/**
 * Loads the reference plugin from `entry` and creates a provider with its
 * backend at `baseUrl` (requests go to `<baseUrl>/codex/responses`), the
 * benchmark's auth.json, and room for `maxConcurrency` exchanges; its token
 * is read once before it is measured.
 *
 * @example
 * ```ts ignore
 * const ref = await referenceProvider(entry, `${base}/small`, 4);
 * ```
 */
export async function referenceProvider(
  entry: string,
  baseUrl: string,
  maxConcurrency: number,
): Promise<StreamingProvider> {
  const module = await import(pathToFileURL(entry).href) as ReferenceModule;
  const provider = module.default.createProvider({
    OPENAI_RESPONSES_BASE_URL: baseUrl,
    OPENAI_RESPONSES_AUTH_FILE: benchAuthFile(),
    ANTSEED_MAX_CONCURRENCY: String(maxConcurrency),
  });
  await provider.init?.();
  return provider;
}
