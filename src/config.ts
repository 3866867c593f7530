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
/**
 * Default largest accepted request body, in bytes (64 MiB): the AntSeed
 * node's own upload limit, so that a body the node accepts is not refused
 * here for its size.
 */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Codex CLI version the provider speaks as (the `version` header and
 * `client_version` of the model list): the backend refuses models whose
 * `minimal_client_version` is newer. 0.171.0 is the CLI whose requests the
 * project recorded (2026-12).
 */
export const DEFAULT_CLIENT_VERSION = "0.171.0";
/**
 * Default age after which a login's model catalog is read again in the
 * background, in milliseconds (an hour).
 */
export const DEFAULT_CATALOG_REFRESH_MS = 3_600_000;
/** Default `originator` header: the Codex CLI's own. */
export const DEFAULT_ORIGINATOR = "codex_cli_rs";
/** Default OAuth issuer of the provider's own logins. */
export const DEFAULT_AUTH_ISSUER = "https://auth.openai.com";
/** Default bound of the stored responses, in bytes (64 MiB). */
export const DEFAULT_STATE_MAX_BYTES = 64 * 1024 * 1024;
/** Default lifetime of a stored response since its last use, in seconds. */
export const DEFAULT_STATE_TTL_S = 3600;
/** Default share of the stored responses bound one buyer may hold (a quarter). */
export const DEFAULT_STATE_BUYER_SHARE = 0.25;
/** Default pause between keep-alive comments of a silent stream, in milliseconds. */
export const DEFAULT_KEEPALIVE_MS = 15_000;
/**
 * Default time a non-streaming answer is waited for before it is committed
 * as a stream, in milliseconds: below the 30 s an AntSeed buyer gives a
 * non-streaming request to a first answer, with room for the hop.
 */
export const DEFAULT_HOLD_MS = 20_000;
/**
 * Longest hold time, in milliseconds: a longer one would run into the
 * buyer's 30 s window.
 */
export const MAX_HOLD_MS = 25_000;
/** Default pause between the whitespace chunks of a committed answer, in milliseconds. */
export const DEFAULT_HOLD_KEEPALIVE_MS = 15_000;
/**
 * Longest pause between the whitespace chunks of a committed answer, in
 * milliseconds: the buyer ends a stream silent for 60 s.
 */
export const MAX_HOLD_KEEPALIVE_MS = 50_000;

/** Every configuration key the plugin reads, with its default. */
export const CONFIG_SCHEMA: ConfigField[] = [
  {
    key: "OPENAI_RESPONSES_AUTH_FILE",
    label: "Codex auth file",
    type: "string",
    description:
      "Path of the Codex credentials (auth.json) to serve from, or several separated by commas. Default: the accounts under OPENAI_RESPONSES_HOME when there are any, else $CODEX_HOME/auth.json, else ~/.codex/auth.json",
  },
  {
    key: "OPENAI_RESPONSES_HOME",
    label: "Provider home directory",
    type: "string",
    description:
      "Folder of the provider's own logins (<home>/accounts/<name>/auth.json, written by `login`). Default: ~/.antseed/openai-responses",
  },
  {
    key: "OPENAI_RESPONSES_AUTH_ISSUER",
    label: "OAuth issuer",
    type: "string",
    default: DEFAULT_AUTH_ISSUER,
    description:
      "Issuer of the login flows (authorize, device, token, revoke endpoints under it). Plain http only for loopback hosts",
  },
  {
    key: "OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY",
    label: "Most concurrent requests per login",
    type: "number",
    description:
      "Optional cap per login of a pool; ANTSEED_MAX_CONCURRENCY bounds them all together",
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
      "Requests go to <base>/codex/responses, which must answer itself (a redirect is not followed). Plain http is allowed only for loopback hosts",
  },
  {
    key: "OPENAI_RESPONSES_TOKEN_URL",
    label: "OAuth token endpoint",
    type: "string",
    description:
      "Where expired Codex access tokens are refreshed. Default: <OPENAI_RESPONSES_AUTH_ISSUER>/oauth/token",
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
    key: "OPENAI_RESPONSES_CLIENT_VERSION",
    label: "Codex client version",
    type: "string",
    default: DEFAULT_CLIENT_VERSION,
    description:
      "Codex CLI version sent upstream (`version` header, model list). When unset: the higher of the default and the latest_version of each Codex home's version.json (which the Codex CLI keeps current). When set, used as it is, even when lower",
  },
  {
    key: "OPENAI_RESPONSES_ORIGINATOR",
    label: "Codex originator",
    type: "string",
    default: DEFAULT_ORIGINATOR,
    description: "`originator` header sent upstream, as the Codex CLI sends it",
  },
  {
    key: "OPENAI_RESPONSES_CATALOG_REFRESH_MS",
    label: "Model catalog refresh (ms)",
    type: "number",
    default: DEFAULT_CATALOG_REFRESH_MS,
    description:
      "Each login's model catalog (<base>/codex/models, which says which models take the responses-lite shape) is read on first use and again in the background once older than this; a request never waits for it. 0 reads it once",
  },
  {
    key: "OPENAI_RESPONSES_STATE_MAX_BYTES",
    label: "Stored responses bound (bytes)",
    type: "number",
    default: DEFAULT_STATE_MAX_BYTES,
    description:
      "Memory for finished responses that later turns refer to (previous_response_id, item_reference); past it, the least recently used of a buyer holding more than half its share go first, then those of all. 0 turns storing off",
  },
  {
    key: "OPENAI_RESPONSES_STATE_TTL_S",
    label: "Stored responses lifetime (s)",
    type: "number",
    default: DEFAULT_STATE_TTL_S,
    description:
      "How long a stored response is kept after its last use. 0 turns storing off",
  },
  {
    key: "OPENAI_RESPONSES_STATE_BUYER_SHARE",
    label: "Stored responses share per buyer",
    type: "number",
    default: DEFAULT_STATE_BUYER_SHARE,
    description:
      "Most of OPENAI_RESPONSES_STATE_MAX_BYTES one buyer may hold, as a fraction above 0 and at most 1; a buyer past it loses its own least recently used responses, never another buyer's",
  },
  {
    key: "OPENAI_RESPONSES_KEEPALIVE_MS",
    label: "Stream keep-alive (ms)",
    type: "number",
    default: DEFAULT_KEEPALIVE_MS,
    description:
      "While the backend is silent inside a stream, a `: keep-alive` comment goes to the buyer this often. 0 turns it off",
  },
  {
    key: "OPENAI_RESPONSES_HOLD_MS",
    label: "Non-streaming hold time (ms)",
    type: "number",
    default: DEFAULT_HOLD_MS,
    description:
      `A non-streaming answer not complete after this long is committed as a stream (200, JSON kept alive with whitespace), so that the buyer's 30 s window does not end it; a quicker answer goes whole with its own status. At most ${MAX_HOLD_MS}; 0 commits at once`,
  },
  {
    key: "OPENAI_RESPONSES_HOLD_KEEPALIVE_MS",
    label: "Committed answer keep-alive (ms)",
    type: "number",
    default: DEFAULT_HOLD_KEEPALIVE_MS,
    description:
      `While a committed non-streaming answer waits for the backend, a whitespace chunk goes to the buyer this often (1 to ${MAX_HOLD_KEEPALIVE_MS}: the buyer ends a stream silent for 60 s)`,
  },
  {
    key: "OPENAI_RESPONSES_EFFORT_ALIASES",
    label: "Reasoning-effort model aliases",
    type: "boolean",
    default: true,
    description:
      "Accept <model>-minimal|low|medium|high|xhigh as that model with reasoning.effort set",
  },
  {
    key: "OPENAI_RESPONSES_LOG",
    label: "Log level",
    type: "string",
    default: "errors",
    description:
      "`errors`: errors and state changes only; `requests`: also one line per finished request (no secret, no prompt text)",
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
  /** The first auth file of `OPENAI_RESPONSES_AUTH_FILE`, else `codexAuthFile`. */
  authFile: string;
  /** Every auth file `OPENAI_RESPONSES_AUTH_FILE` names (empty when unset). */
  authFiles: string[];
  /** `$CODEX_HOME/auth.json`, else `~/.codex/auth.json`. */
  codexAuthFile: string;
  /** Folder of the provider's own logins (`<home>/accounts/<name>/auth.json`). */
  home: string;
  /** OAuth issuer base URL, without a trailing slash. */
  authIssuer: string;
  /** Most concurrent requests per login, when capped. */
  accountMaxConcurrency?: number;
  /**
   * OPENAI_RESPONSES_CLIENT_VERSION, else the built-in default: the floor of
   * the version sent upstream, which a Codex home's newer `version.json`
   * raises when the key is unset (see `src/codex/client_version.ts`).
   */
  clientVersion: string;
  /** Whether OPENAI_RESPONSES_CLIENT_VERSION is set (it then wins outright). */
  clientVersionPinned: boolean;
  /** `originator` sent upstream. */
  originator: string;
  /** Age after which a login's model catalog is read again, in ms; 0: read once. */
  catalogRefreshMs: number;
  /** Bound of the stored responses in bytes; 0 when storing is off. */
  stateMaxBytes: number;
  /** Lifetime of a stored response since its last use, in ms; 0 when storing is off. */
  stateTtlMs: number;
  /** Share of `stateMaxBytes` one buyer may hold, above 0 and at most 1. */
  stateBuyerShare: number;
  /** Pause between keep-alive comments of a silent stream, in ms; 0 when off. */
  keepAliveMs: number;
  /** How long a non-streaming answer is waited for before it is committed as a stream, in ms. */
  holdMs: number;
  /** Pause between the whitespace chunks of a committed answer, in ms. */
  holdKeepAliveMs: number;
  /** Whether `<model>-<effort>` names that model with `reasoning.effort`. */
  effortAliases: boolean;
  /** `errors` or `requests` (one log line per finished request too). */
  log: "errors" | "requests";
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

  const homeDir = options.homeDir ?? homedir();
  const codexAuthFile = join(
    get("CODEX_HOME") ?? join(homeDir, ".codex"),
    "auth.json",
  );
  const authFiles = parseList(get("OPENAI_RESPONSES_AUTH_FILE"));
  const authFile = authFiles[0] ?? codexAuthFile;
  const home = get("OPENAI_RESPONSES_HOME") ??
    join(homeDir, ".antseed", "openai-responses");
  const authIssuer = parseHttpUrl(
    "OPENAI_RESPONSES_AUTH_ISSUER",
    get("OPENAI_RESPONSES_AUTH_ISSUER") ?? DEFAULT_AUTH_ISSUER,
  ).replace(/\/+$/, "");

  const baseUrl = parseHttpUrl(
    "OPENAI_RESPONSES_BASE_URL",
    get("OPENAI_RESPONSES_BASE_URL") ?? DEFAULT_BASE_URL,
  ).replace(/\/+$/, "");
  const tokenUrl = parseHttpUrl(
    "OPENAI_RESPONSES_TOKEN_URL",
    get("OPENAI_RESPONSES_TOKEN_URL") ?? `${authIssuer}/oauth/token`,
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

  const accountMax = get("OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY");
  const clientVersion = parseVersion(
    "OPENAI_RESPONSES_CLIENT_VERSION",
    get("OPENAI_RESPONSES_CLIENT_VERSION") ?? DEFAULT_CLIENT_VERSION,
  );
  const originator = get("OPENAI_RESPONSES_ORIGINATOR") ?? DEFAULT_ORIGINATOR;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(originator)) {
    throw new ConfigError(
      "OPENAI_RESPONSES_ORIGINATOR",
      `Invalid OPENAI_RESPONSES_ORIGINATOR: expected up to 64 letters, digits, ".", "_" or "-", found ${
        show(originator)
      }`,
    );
  }
  const catalogRefreshMs = parseInteger(
    "OPENAI_RESPONSES_CATALOG_REFRESH_MS",
    get("OPENAI_RESPONSES_CATALOG_REFRESH_MS"),
    DEFAULT_CATALOG_REFRESH_MS,
    0,
  );
  const stateMaxBytes = parseInteger(
    "OPENAI_RESPONSES_STATE_MAX_BYTES",
    get("OPENAI_RESPONSES_STATE_MAX_BYTES"),
    DEFAULT_STATE_MAX_BYTES,
    0,
  );
  const stateTtlS = parseInteger(
    "OPENAI_RESPONSES_STATE_TTL_S",
    get("OPENAI_RESPONSES_STATE_TTL_S"),
    DEFAULT_STATE_TTL_S,
    0,
  );
  const stateBuyerShare = parseFraction(
    "OPENAI_RESPONSES_STATE_BUYER_SHARE",
    get("OPENAI_RESPONSES_STATE_BUYER_SHARE"),
    DEFAULT_STATE_BUYER_SHARE,
  );
  const storing = stateMaxBytes > 0 && stateTtlS > 0;
  const keepAliveMs = parseInteger(
    "OPENAI_RESPONSES_KEEPALIVE_MS",
    get("OPENAI_RESPONSES_KEEPALIVE_MS"),
    DEFAULT_KEEPALIVE_MS,
    0,
  );
  const holdMs = parseInteger(
    "OPENAI_RESPONSES_HOLD_MS",
    get("OPENAI_RESPONSES_HOLD_MS"),
    DEFAULT_HOLD_MS,
    0,
    MAX_HOLD_MS,
  );
  const holdKeepAliveMs = parseInteger(
    "OPENAI_RESPONSES_HOLD_KEEPALIVE_MS",
    get("OPENAI_RESPONSES_HOLD_KEEPALIVE_MS"),
    DEFAULT_HOLD_KEEPALIVE_MS,
    1,
    MAX_HOLD_KEEPALIVE_MS,
  );
  const effortAliases = parseBoolean(
    "OPENAI_RESPONSES_EFFORT_ALIASES",
    get("OPENAI_RESPONSES_EFFORT_ALIASES"),
    true,
  );
  const log = get("OPENAI_RESPONSES_LOG") ?? "errors";
  if (log !== "errors" && log !== "requests") {
    throw new ConfigError(
      "OPENAI_RESPONSES_LOG",
      `Invalid OPENAI_RESPONSES_LOG: expected "errors" or "requests", found ${
        show(log)
      }`,
    );
  }

  const allowedServices = parseList(get("ANTSEED_ALLOWED_SERVICES"));
  const aliasMap = parseAliasMap(get("ANTSEED_SERVICE_ALIAS_MAP_JSON"));

  const services = allowedServices.length > 0 ? allowedServices : [
    ...new Set([
      ...Object.keys(aliasMap),
      ...Object.keys(servicePricing ?? {}),
    ]),
  ];

  const settings: ProviderSettings = {
    authFile,
    authFiles,
    codexAuthFile,
    home,
    authIssuer,
    clientVersion,
    clientVersionPinned: get("OPENAI_RESPONSES_CLIENT_VERSION") !== undefined,
    originator,
    catalogRefreshMs,
    stateMaxBytes: storing ? stateMaxBytes : 0,
    stateTtlMs: storing ? stateTtlS * 1000 : 0,
    stateBuyerShare,
    keepAliveMs,
    holdMs,
    holdKeepAliveMs,
    effortAliases,
    log,
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
  if (accountMax !== undefined) {
    settings.accountMaxConcurrency = parseInteger(
      "OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY",
      accountMax,
      1,
      1,
    );
  }
  return settings;
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

function parseVersion(key: string, value: string): string {
  if (!/^\d{1,4}\.\d{1,4}\.\d{1,4}$/.test(value)) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected a version such as "${DEFAULT_CLIENT_VERSION}", found ${
        show(value)
      }`,
    );
  }
  return value;
}

function parseBoolean(
  key: string,
  value: string | undefined,
  fallback: boolean,
): boolean {
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  throw new ConfigError(
    key,
    `Invalid ${key}: expected true or false, found ${show(value)}`,
  );
}

function parseInteger(
  key: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const number = /^[+]?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range = max === Number.MAX_SAFE_INTEGER
      ? `of at least ${min}`
      : `from ${min} to ${max}`;
    throw new ConfigError(
      key,
      `Invalid ${key}: expected an integer ${range}, found ${show(value)}`,
    );
  }
  return number;
}

/** A decimal fraction above 0 and at most 1 (`0.25`, `.5`, `1`). */
function parseFraction(
  key: string,
  value: string | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  const number = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(value)
    ? Number(value)
    : Number.NaN;
  if (!(number > 0 && number <= 1)) {
    throw new ConfigError(
      key,
      `Invalid ${key}: expected a fraction above 0 and at most 1 (e.g. 0.25), found ${
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
