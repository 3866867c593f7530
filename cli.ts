/**
 * The command line of `@antseed/provider-openai-responses`: the provider
 * without an AntSeed node.
 *
 * - `serve [--host 127.0.0.1] [--port 8787]`: a local OpenAI-compatible
 *   endpoint (`POST /v1/responses`, `GET /v1/models`, `GET /health`) over the
 *   seller's Codex login;
 * - `check [--refresh] [--probe] [--usage]`: which logins the provider serves
 *   from and why, what each says and what happens next;
 * - `demo`: one streamed request against a built-in simulated backend, with
 *   no setup at all;
 * - `login [--name <name>] [--device]`, `logout [--name <name> | --all]`,
 *   `accounts [--usage]`: the provider's own ChatGPT logins;
 * - `accounts reset --name <login> [--yes]`: spends one banked rate-limit
 *   reset of a login, after a `[y/N]` at the terminal unless `--yes`.
 *
 * Configuration comes from the environment, with the plugin's own keys.
 * Runs on Deno (`deno run -A jsr:@antseed/provider-openai-responses/cli demo`)
 * and on Node (`npx @antseed/provider-openai-responses demo`). Importing this
 * module runs nothing.
 *
 * @example
 * ```ts ignore
 * import { runCli } from "@antseed/provider-openai-responses/cli";
 * import { processIo } from "@antseed/provider-openai-responses/cli";
 *
 * const code = await runCli(["check"], processIo());
 * ```
 *
 * @module
 */

import { realpathSync } from "node:fs";
import { homedir } from "node:os";
import process from "node:process";
import { pathToFileURL } from "node:url";
import type { CliIo } from "./src/cli/io.ts";
import { runCli } from "./src/cli/main.ts";
import { serveWithNodeHttp } from "./src/serve/node.ts";

export { runCli } from "./src/cli/main.ts";
export type { CliIo } from "./src/cli/io.ts";
export type {
  ListenFunction,
  ListenOptions,
  RunningServer,
  ServerHandler,
  ServerLogEntry,
} from "./src/serve/handler.ts";

/**
 * The process glue of the command line: environment, standard output and
 * error, SIGINT/SIGTERM, and the server adapter (`node:http`, on Deno too:
 * it has the header, body and keep-alive timeouts `Deno.serve` lacks).
 *
 * @example
 * ```ts ignore
 * import { processIo, runCli } from "@antseed/provider-openai-responses/cli";
 * process.exitCode = await runCli(["demo"], processIo());
 * ```
 */
export function processIo(): CliIo {
  return {
    env: process.env,
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    listen: serveWithNodeHttp,
    onShutdownSignal(handler) {
      const onInt = () => handler("SIGINT");
      const onTerm = () => handler("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
      return () => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
      };
    },
    homeDir: homedir(),
    async ask(question) {
      if (!process.stdin.isTTY) return undefined;
      const { createInterface } = await import("node:readline/promises");
      const lines = createInterface({
        input: process.stdin,
        output: process.stderr,
      });
      try {
        return await lines.question(question);
      } finally {
        lines.close();
      }
    },
  };
}

function isEntryPoint(): boolean {
  const main = (import.meta as ImportMeta & { main?: boolean }).main;
  if (typeof main === "boolean") return main;
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    // npm bins are symlinks: compare real paths.
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const code = await runCli(process.argv.slice(2), processIo());
  process.exit(code);
}
