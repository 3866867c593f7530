/**
 * The command line's configuration: the plugin's own keys read from the
 * environment (exactly the keys of `CONFIG_SCHEMA`), plus the keys of the
 * standalone server.
 *
 * @module
 */

import { CONFIG_SCHEMA } from "../config.ts";
import { ConfigError } from "../errors.ts";

/** Environment key of the optional API key of `serve`. */
export const SERVE_API_KEY_ENV = "OPENAI_RESPONSES_SERVE_API_KEY";

/** Environment key of the origins whose web pages may call `serve` (comma-separated). */
export const SERVE_ALLOWED_ORIGINS_ENV =
  "OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS";

function showValue(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/**
 * Parses `OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS`: comma-separated origins,
 * each `scheme://host[:port]` with no path, query or user name, as a browser
 * sends them in its `origin` header. Returns them in that form (lower case,
 * without the default port), or an empty list when the value is unset or
 * blank. Throws a `ConfigError` naming the first malformed entry (`*` and
 * `null` included: neither names a site).
 *
 * @example
 * ```ts
 * import { parseAllowedOrigins } from "./env.ts";
 * console.log(parseAllowedOrigins("http://localhost:3000, https://App.example.com:443"));
 * // ["http://localhost:3000", "https://app.example.com"]
 * ```
 */
export function parseAllowedOrigins(value: string | undefined): string[] {
  const origins: string[] = [];
  for (const entry of (value ?? "").split(",")) {
    const text = entry.trim();
    if (text === "") continue;
    const origin = parseOrigin(text);
    if (origin === undefined) {
      throw new ConfigError(
        SERVE_ALLOWED_ORIGINS_ENV,
        `Invalid ${SERVE_ALLOWED_ORIGINS_ENV}: expected comma-separated origins such as "http://localhost:3000" (scheme://host[:port], no path), found ${
          showValue(text)
        }`,
      );
    }
    if (!origins.includes(origin)) origins.push(origin);
  }
  return origins;
}

function parseOrigin(text: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+$/i.test(text)) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.hostname === "") return undefined;
  // Only special schemes (http, https, ...) have an origin in the URL
  // standard; a browser still sends `chrome-extension://<id>` and the like.
  const origin = url.origin === "null"
    ? `${url.protocol}//${url.host}`
    : url.origin;
  return origin.toLowerCase();
}

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
