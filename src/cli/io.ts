/**
 * What the commands need from their process: environment, output, a way to
 * listen, signals. The command-line entry (`cli.ts`) builds it from the
 * runtime; tests build their own.
 *
 * @module
 */

import type { ListenFunction } from "../serve/handler.ts";

/** The process a command runs in. */
export interface CliIo {
  /** Environment variables. */
  env: Record<string, string | undefined>;
  /** Writes text to standard output. */
  stdout(text: string): void;
  /** Writes text to standard error. */
  stderr(text: string): void;
  /** Starts a server for a handler on this runtime. */
  listen: ListenFunction;
  /**
   * Calls `handler` on SIGINT or SIGTERM; returns a function that stops
   * listening for them.
   */
  onShutdownSignal(handler: (signal: string) => void): () => void;
  /** The user's home folder, shown as `~` in output. */
  homeDir: string;
  /**
   * Asks the person at the terminal a question and resolves with the line
   * typed; resolves with `undefined` when there is no one to ask (standard
   * input is not a terminal). Absent: never asks, as if no terminal.
   */
  ask?(question: string): Promise<string | undefined>;
}
