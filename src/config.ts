/**
 * Configuration: the env-style `Record<string, string>` the AntSeed CLI passes
 * to `createProvider` becomes one typed, validated settings object. Every
 * key, default and error message lives here.
 *
 * @module
 */

import { homedir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "./errors.ts";
import type {
  ConfigField,
  ProviderPricing,
  ProviderTokenPricingUsdPerMillion,
} from "./host_types.ts";

/** Default Codex backend base URL; requests go to `<base>/codex/responses`. */
export const DEFAULT_BASE_URL = "https://chatgpt.com/backend-api";
/** Default OAuth token endpoint used to refresh the Codex login. */
export const DEFAULT_TOKEN_URL = "https://auth.openai.com/oauth/token";
/** Default wait for upstream response headers, in milliseconds. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default longest silence inside an upstream stream, in milliseconds. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Instructions sent when a request carries none. */
export const DEFAULT_INSTRUCTIONS = "You are a helpful assistant.";
/** Default price of a million input and output tokens, in US dollars. */
export const DEFAULT_USD_PER_MILLION = 10;
/** Default number of concurrent upstream exchanges. */
export const DEFAULT_MAX_CONCURRENCY = 5;
/** Default largest accepted request body, in bytes (32 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Every configuration key the plugin reads, with its default. */
export const CONFIG_SCHEMA: ConfigField[] = [
  {
    key: "OPENAI_RESPONSES_AUTH_FILE",
    label: "Codex auth file",
    type: "string",
    description:
      "Path of the Codex CLI credentials written by `codex login`. Default: $CODEX_HOME/auth.json, else ~/.codex/auth.json",
  },
  {
    key: "CODEX_HOME",
    label: "Codex home directory",
    type: "string",
    description:
      "Codex CLI home; the auth file defaults to <CODEX_HOME>/auth.json. Default: ~/.codex",
  },
  {
    key: "OPENAI_RESPONSES_BASE_URL",
    label: "Codex backend base URL",
    type: "string",
    default: DEFAULT_BASE_URL,
    description:
      "Requests go to <base>/codex/responses. Plain http is allowed only for loopback hosts",
  },
  {
    key: "OPENAI_RESPONSES_TOKEN_URL",
    label: "OAuth token endpoint",
    type: "string",
    default: DEFAULT_TOKEN_URL,
    description: "Where expired Codex access tokens are refreshed",
  },
  {
    key: "OPENAI_RESPONSES_REQUEST_TIMEOUT_MS",
    label: "Upstream header timeout (ms)",
    type: "number",
    default: DEFAULT_REQUEST_TIMEOUT_MS,
    description: "Time allowed for the backend to send response headers",
  },
  {
    key: "OPENAI_RESPONSES_IDLE_TIMEOUT_MS",
    label: "Stream idle timeout (ms)",
    type: "number",
    default: DEFAULT_IDLE_TIMEOUT_MS,
    description: "Longest silence allowed inside an upstream stream",
  },
  {
    key: "OPENAI_RESPONSES_DEFAULT_INSTRUCTIONS",
    label: "Default instructions",
    type: "string",
    default: DEFAULT_INSTRUCTIONS,
    description:
      "Instructions sent when a request has none (the backend requires them)",
  },
  {
    key: "OPENAI_RESPONSES_MAX_BODY_BYTES",
    label: "Largest request body (bytes)",
    type: "number",
    default: DEFAULT_MAX_BODY_BYTES,
    description: "Larger request bodies are refused with 413",
  },
  {
    key: "ANTSEED_INPUT_USD_PER_MILLION",
    label: "Input price (USD per million tokens)",
    type: "number",
    default: DEFAULT_USD_PER_MILLION,
  },
  {
    key: "ANTSEED_OUTPUT_USD_PER_MILLION",
    label: "Output price (USD per million tokens)",
    type: "number",
    default: DEFAULT_USD_PER_MILLION,
  },
  {
    key: "ANTSEED_CACHED_INPUT_USD_PER_MILLION",
    label: "Cached input price (USD per million tokens)",
    type: "number",
    description: "Optional; when unset, cached input is priced as input",
  },
  {
    key: "ANTSEED_SERVICE_PRICING_JSON",
    label: "Per-service pricing (JSON)",
    type: "string",
    description:
      'JSON object: service id -> {"inputUsdPerMillion","outputUsdPerMillion","cachedInputUsdPerMillion"?}',
  },
  {
    key: "ANTSEED_MAX_CONCURRENCY",
    label: "Maximum concurrent requests",
    type: "number",
    default: DEFAULT_MAX_CONCURRENCY,
  },
  {
    key: "ANTSEED_ALLOWED_SERVICES",
    label: "Announced services",
    type: "string[]",
    description:
      "Comma-separated service ids; when set, only these are accepted",
  },
  {
    key: "ANTSEED_SERVICE_ALIAS_MAP_JSON",
    label: "Service alias map (JSON)",
    type: "string",
    description: "JSON object: announced service id -> upstream model",
  },
];

/** Validated settings of one provider instance. */
export interface ProviderSettings {
  /** Absolute or relative path of auth.json. */
  authFile: string;
  /** Backend base URL without a trailing slash. */
  baseUrl: string;
  /** `<baseUrl>/codex/responses`. */
  responsesUrl: string;
  /** `<baseUrl>/codex/models`. */
  modelsUrl: string;
  /** OAuth token endpoint. */
  tokenUrl: string;
  /** Wait for upstream response headers, in milliseconds. */
  requestTimeoutMs: number;
  /** Longest silence inside an upstream stream, in milliseconds. */
  idleTimeoutMs: number;
  /** Instructions sent when a request has none. */
  defaultInstructions: string;
  /** Largest accepted request body, in bytes. */
  maxBodyBytes: number;
  /** Token pricing announced to buyers. */
  pricing: ProviderPricing;
  /** Most concurrent upstream exchanges. */
  maxConcurrency: number;
  /** Accepted service ids; empty means any. */
  allowedServices: string[];
  /** Announced service id -> upstream model. */
  aliasMap: Record<string, string>;
  /** Service ids announced to the node. */
  services: string[];
}

/** Options of {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** Home directory used for the default auth file (default: `os.homedir()`). */
  homeDir?: string;
}

/**
 * Turns env-style configuration into validated settings, applying every
 * default. Throws a {@linkcode ConfigError} naming the key, the bad value and
 * what is expected. Does no file or network I/O.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * const settings = parseConfig({ ANTSEED_MAX_CONCURRENCY: "2" });
 * console.log(settings.maxConcurrency); // 2
 * ```
 */
export function parseConfig(
  config: Record<string, string | undefined>,
  options: ParseConfigOptions = {},
): ProviderSettings {
  const get = (key: string): string | undefined => {
    const value = config[key];
    if (value === undefined || value === null) return undefined;
    const trimmed = String(value).trim();
    return trimmed === "" ? undefined : trimmed;
  };

  const authFile = get("OPENAI_RESPONSES_AUTH_FILE") ??
    join(
      get("CODEX_HOME") ?? join(options.homeDir ?? homedir(), ".codex"),
      "auth.json",
    );

  const baseUrl = parseHttpUrl(
    "OPENAI_RESPONSES_BASE_URL",
    get("OPENAI_RESPONSES_BASE_URL") ?? DEFAULT_BASE_URL,
  ).replace(/\/+$/, "");
  const tokenUrl = parseHttpUrl(
    "OPENAI_RESPONSES_TOKEN_URL",
    get("OPENAI_RESPONSES_TOKEN_URL") ?? DEFAULT_TOKEN_URL,
  );

  const requestTimeoutMs = parseInteger(
    "OPENAI_RESPONSES_REQUEST_TIMEOUT_MS",
    get("OPENAI_RESPONSES_REQUEST_TIMEOUT_MS"),
    DEFAULT_REQUEST_TIMEOUT_MS,
    1,
  );
  const idleTimeoutMs = parseInteger(
    "OPENAI_RESPONSES_IDLE_TIMEOUT_MS",
    get("OPENAI_RESPONSES_IDLE_TIMEOUT_MS"),
    DEFAULT_IDLE_TIMEOUT_MS,
    1,
  );
  const maxBodyBytes = parseInteger(
    "OPENAI_RESPONSES_MAX_BODY_BYTES",
    get("OPENAI_RESPONSES_MAX_BODY_BYTES"),
    DEFAULT_MAX_BODY_BYTES,
    1,
  );
  const maxConcurrency = parseInteger(
    "ANTSEED_MAX_CONCURRENCY",
    get("ANTSEED_MAX_CONCURRENCY"),
    DEFAULT_MAX_CONCURRENCY,
    1,
  );

  const defaults: ProviderTokenPricingUsdPerMillion = {
    inputUsdPerMillion: parsePrice(
      "ANTSEED_INPUT_USD_PER_MILLION",
      get("ANTSEED_INPUT_USD_PER_MILLION"),
    ) ?? DEFAULT_USD_PER_MILLION,
    outputUsdPerMillion: parsePrice(
      "ANTSEED_OUTPUT_USD_PER_MILLION",
      get("ANTSEED_OUTPUT_USD_PER_MILLION"),
    ) ?? DEFAULT_USD_PER_MILLION,
  };
  const cached = parsePrice(
    "ANTSEED_CACHED_INPUT_USD_PER_MILLION",
    get("ANTSEED_CACHED_INPUT_USD_PER_MILLION"),
  );
  if (cached !== undefined) defaults.cachedInputUsdPerMillion = cached;

  const servicePricing = parseServicePricing(
    get("ANTSEED_SERVICE_PRICING_JSON"),
  );
  const pricing: ProviderPricing = { defaults };
  if (servicePricing) pricing.services = servicePricing;

  const allowedServices = parseList(get("ANTSEED_ALLOWED_SERVICES"));
  const aliasMap = parseAliasMap(get("ANTSEED_SERVICE_ALIAS_MAP_JSON"));

  const services = allowedServices.length > 0 ? allowedServices : [
    ...new Set([
      ...Object.keys(aliasMap),
      ...Object.keys(servicePricing ?? {}),
    ]),
  ];

  return {
    authFile,
    baseUrl,
    responsesUrl: `${baseUrl}/codex/responses`,
    modelsUrl: `${baseUrl}/codex/models`,
    tokenUrl,
    requestTimeoutMs,
    idleTimeoutMs,
    defaultInstructions: get("OPENAI_RESPONSES_DEFAULT_INSTRUCTIONS") ??
      DEFAULT_INSTRUCTIONS,
    maxBodyBytes,
    pricing,
    maxConcurrency,
    allowedServices,
    aliasMap,
    services,
  };
}

function show(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}...` : text);
}

/**
 * Whether a host name or address is a loopback one (`localhost`,
 * `*.localhost`, `127.x.x.x`, `::1`, with or without brackets): the hosts
 * that plain http and a `serve` without an API key are allowed for.
 *
 * @example
 * ```ts
 * import { isLoopbackHost } from "./config.ts";
 * console.log(isLoopbackHost("127.0.0.1"), isLoopbackHost("0.0.0.0")); // true false
 * ```
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") ||
    host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function parseHttpUrl(key: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected an http(s) URL, found ${show(value)}`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected an http(s) URL, found ${show(value)}`,
    );
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw new ConfigError(
      key,
      `Invalid ${key}: plain http is allowed only for loopback hosts (127.0.0.1, localhost, ::1), found ${
        show(value)
      }; use https`,
    );
  }
  if (url.username || url.password) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected a URL without credentials, found one with a user name or password`,
    );
  }
  return url.href;
}

function parseInteger(
  key: string,
  value: string | undefined,
  fallback: number,
  min: number,
): number {
  if (value === undefined) return fallback;
  const number = /^[+]?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected an integer of at least ${min}, found ${
        show(value)
      }`,
    );
  }
  return number;
}

function checkPrice(key: string, value: unknown, where = key): number {
  const number = typeof value === "number"
    ? value
    : typeof value === "string" && value.trim() !== ""
    ? Number(value)
    : Number.NaN;
  if (!Number.isFinite(number) || number < 0) {
    throw new ConfigError(
      key,
      `Invalid ${where}: expected a non-negative number of US dollars per million tokens, found ${
        show(value)
      }`,
    );
  }
  return number;
}

function parsePrice(
  key: string,
  value: string | undefined,
): number | undefined {
  return value === undefined ? undefined : checkPrice(key, value);
}

function parseJsonObject(
  key: string,
  value: string,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected a JSON object, found text that is not JSON (${
        (error as Error).message
      })`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected a JSON object, found ${
        Array.isArray(parsed) ? "an array" : show(value)
      }`,
    );
  }
  return parsed as Record<string, unknown>;
}

function parseServicePricing(
  value: string | undefined,
): Record<string, ProviderTokenPricingUsdPerMillion> | undefined {
  const key = "ANTSEED_SERVICE_PRICING_JSON";
  if (value === undefined) return undefined;
  const object = parseJsonObject(key, value);
  const result: Record<string, ProviderTokenPricingUsdPerMillion> = {};
  for (const [service, entry] of Object.entries(object)) {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError(
        key,
        `Invalid ${key}: expected an object with inputUsdPerMillion and outputUsdPerMillion for service ${
          show(service)
        }, found ${show(entry)}`,
      );
    }
    const prices = entry as Record<string, unknown>;
    const where = (field: string) => `${key} (${service}.${field})`;
    const parsed: ProviderTokenPricingUsdPerMillion = {
      inputUsdPerMillion: checkPrice(
        key,
        prices.inputUsdPerMillion,
        where("inputUsdPerMillion"),
      ),
      outputUsdPerMillion: checkPrice(
        key,
        prices.outputUsdPerMillion,
        where("outputUsdPerMillion"),
      ),
    };
    if (prices.cachedInputUsdPerMillion !== undefined) {
      parsed.cachedInputUsdPerMillion = checkPrice(
        key,
        prices.cachedInputUsdPerMillion,
        where("cachedInputUsdPerMillion"),
      );
    }
    result[service] = parsed;
  }
  return result;
}

function parseAliasMap(value: string | undefined): Record<string, string> {
  const key = "ANTSEED_SERVICE_ALIAS_MAP_JSON";
  if (value === undefined) return {};
  const object = parseJsonObject(key, value);
  const result: Record<string, string> = {};
  for (const [service, model] of Object.entries(object)) {
    if (typeof model !== "string" || model.trim() === "") {
      throw new ConfigError(
        key,
        `Invalid ${key}: expected a non-empty upstream model name for service ${
          show(service)
        }, found ${show(model)}`,
      );
    }
    result[service] = model.trim();
  }
  return result;
}

function parseList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [
    ...new Set(value.split(",").map((item) => item.trim()).filter(Boolean)),
  ];
}
