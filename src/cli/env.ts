/**
 * The command line's configuration: the plugin's own keys read from the
 * environment (exactly the keys of `CONFIG_SCHEMA`), plus the keys of the
 * standalone server.
 *
 * @module
 */

import { CONFIG_SCHEMA } from "../config.ts";
import { ConfigError } from "../errors.ts";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
} from "../serve/handler.ts";

/** Environment key of the optional API key of `serve`. */
export const SERVE_API_KEY_ENV = "OPENAI_RESPONSES_SERVE_API_KEY";

/** Environment key of the origins whose web pages may call `serve` (comma-separated). */
export const SERVE_ALLOWED_ORIGINS_ENV =
  "OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS";

/** Environment key of the time a client of `serve` has to send its request headers (ms). */
export const SERVE_HEADERS_TIMEOUT_ENV =
  "OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS";

/** Environment key of the longest pause inside a request body sent to `serve` (ms). */
export const SERVE_BODY_TIMEOUT_ENV = "OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS";

/** Environment key of the time an idle keep-alive connection to `serve` stays open (ms). */
export const SERVE_KEEP_ALIVE_TIMEOUT_ENV =
  "OPENAI_RESPONSES_SERVE_KEEP_ALIVE_TIMEOUT_MS";

/** Largest value of each timeout of `serve`: the whole request's own bound, 300 s. */
export const MAX_SERVE_TIMEOUT_MS = 300_000;

/** The timeouts of `serve`'s connections, in milliseconds. */
export interface ServeTimeouts {
  /** Time a client has to send its request headers. */
  headersTimeoutMs: number;
  /** Longest pause inside a request body. */
  bodyTimeoutMs: number;
  /** Time an idle keep-alive connection stays open. */
  keepAliveTimeoutMs: number;
}

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
 * Parses the timeouts of `serve`'s connections from the environment:
 * `OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS`,
 * `OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS` and
 * `OPENAI_RESPONSES_SERVE_KEEP_ALIVE_TIMEOUT_MS`, each an integer number of
 * milliseconds from 1 to {@linkcode MAX_SERVE_TIMEOUT_MS}; an unset or blank
 * key takes its default. Throws a `ConfigError` naming the first malformed
 * key.
 *
 * @example
 * ```ts
 * import { parseServeTimeouts } from "./env.ts";
 * console.log(parseServeTimeouts({ OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS: "5000" }));
 * // { headersTimeoutMs: 10000, bodyTimeoutMs: 5000, keepAliveTimeoutMs: 5000 }
 * ```
 */
export function parseServeTimeouts(
  env: Record<string, string | undefined>,
): ServeTimeouts {
  return {
    headersTimeoutMs: parseTimeout(
      env,
      SERVE_HEADERS_TIMEOUT_ENV,
      DEFAULT_HEADERS_TIMEOUT_MS,
    ),
    bodyTimeoutMs: parseTimeout(
      env,
      SERVE_BODY_TIMEOUT_ENV,
      DEFAULT_BODY_TIMEOUT_MS,
    ),
    keepAliveTimeoutMs: parseTimeout(
      env,
      SERVE_KEEP_ALIVE_TIMEOUT_ENV,
      DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    ),
  };
}

function parseTimeout(
  env: Record<string, string | undefined>,
  key: string,
  fallback: number,
): number {
  const text = env[key]?.trim();
  if (text === undefined || text === "") return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= MAX_SERVE_TIMEOUT_MS)) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected an integer number of milliseconds from 1 to ${MAX_SERVE_TIMEOUT_MS}, found ${
        showValue(text)
      }`,
    );
  }
  return value;
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
