/**
 * The provider as the command line builds it: from env-style configuration,
 * with the token source's seller-facing warnings routed where the command
 * wants them (instead of `console.warn`).
 *
 * @module
 */

import { createTokenSource } from "../auth/token_source.ts";
import { parseConfig } from "../config.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
  type RequestLogEntry,
} from "../provider.ts";

/** Options of {@linkcode createCliProvider}. */
export interface CliProviderOptions {
  /** Receives the token source's warnings (never a token). */
  onWarning: (message: string) => void;
  /** Called once per finished request. */
  onRequestDone?: (entry: RequestLogEntry) => void;
}

/**
 * Creates the provider for a command. Throws `ConfigError` like
 * `createProvider`.
 *
 * @example
 * ```ts
 * import { createCliProvider } from "./cli_provider.ts";
 * const provider = createCliProvider({}, { onWarning: console.error });
 * console.log(provider.maxConcurrency); // 5
 * ```
 */
export function createCliProvider(
  config: Record<string, string>,
  options: CliProviderOptions,
): OpenAIResponsesProvider {
  const settings = parseConfig(config);
  return createProvider(config, {
    tokenSource: createTokenSource(settings.authFile, {
      tokenUrl: settings.tokenUrl,
      onWarning: options.onWarning,
    }),
    onRequestDone: options.onRequestDone,
  });
}
