/**
 * The command line's configuration: the plugin's own keys read from the
 * environment (exactly the keys of `CONFIG_SCHEMA`), plus the keys of the
 * standalone server.
 *
 * @module
 */

import { CONFIG_SCHEMA } from "../config.ts";

/** Environment key of the optional API key of `serve`. */
export const SERVE_API_KEY_ENV = "OPENAI_RESPONSES_SERVE_API_KEY";

/**
 * The plugin configuration found in an environment: every key of
 * `CONFIG_SCHEMA` that is set, and no other.
 *
 * @example
 * ```ts
 * import { configFromEnv } from "./env.ts";
 * const config = configFromEnv({ ANTSEED_MAX_CONCURRENCY: "2", HOME: "/x" });
 * console.log(config); // { ANTSEED_MAX_CONCURRENCY: "2" }
 * ```
 */
export function configFromEnv(
  env: Record<string, string | undefined>,
): Record<string, string> {
  const config: Record<string, string> = {};
  for (const { key } of CONFIG_SCHEMA) {
    const value = env[key];
    if (value !== undefined) config[key] = value;
  }
  return config;
}
