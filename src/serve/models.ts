/**
 * The models the seller's account may use, read from the backend's
 * `GET <base>/codex/models?client_version=<x.y.z>` with the seller's token
 * (its catalog: `{"models":[ModelInfo…]}`). Used by the local server's
 * `/v1/models` (as an OpenAI list, or, for the Codex CLI, in the catalog's
 * own format) and by `check --probe` to pick a model. Private to the server
 * and the CLI.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import { machineInfo, upstreamIdentity } from "../codex/request.ts";

/** How long a model list read from the backend is reused, in milliseconds. */
export const MODELS_CACHE_MS = 5 * 60 * 1000;

/**
 * How long a failed read of the model list is answered again without asking
 * the backend, in milliseconds. Every buyer's `GET /v1/models` would
 * otherwise be one more call with the seller's token to a backend that is
 * already failing; 15 s is short enough that a backend back on its feet is
 * seen soon, long enough that a stream of buyers is a call every 15 s.
 */
export const MODELS_FAILURE_CACHE_MS = 15_000;

/** Options of {@linkcode listBackendModels}. */
export interface BackendModelsOptions {
  /** The fetch used for the backend (default: the global one). */
  fetch?: typeof fetch;
  /** Bound of the backend call, in milliseconds (default 15000). */
  timeoutMs?: number;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** What {@linkcode listBackendModels} needs of a provider. */
export interface ModelsSource {
  /** Settings holding the models URL and who the provider speaks as. */
  readonly settings: {
    /** `<base>/codex/models`. */
    readonly modelsUrl: string;
    /** Codex CLI version sent as `client_version` (the list depends on it). */
    readonly clientVersion: string;
    /** `originator` header. */
    readonly originator: string;
  };
  /**
   * The Codex CLI version the provider speaks as (the `client_version`);
   * when absent, the settings' version.
   */
  clientVersion?(): Promise<{ readonly version: string }>;
  /** The seller's token source. */
  readonly tokens: {
    /** A valid access token and its account id. */
    getToken(): Promise<{ accessToken: string; accountId: string }>;
  };
}

/** One catalog entry (`ModelInfo`) as the backend sent it. */
export type CatalogEntry = Record<string, unknown> & { slug: string };

const cache = new WeakMap<
  object,
  { at: number; entries: readonly CatalogEntry[] }
>();
/**
 * The read under way per source: callers that come while it runs share it,
 * so that a crowd of buyers on a cold cache is one backend call, not one
 * each.
 */
const reading = new WeakMap<object, Promise<readonly CatalogEntry[]>>();
/** The last failed read per source, rethrown as it was within its window. */
const failed = new WeakMap<object, { at: number; error: unknown }>();

function unavailable(found: string): RelayError {
  return new RelayError(
    502,
    "upstream_models_unavailable",
    `Expected a model list from the upstream, found ${found}`,
  );
}

/**
 * Parses `{"models":[{"slug": ...}, ...]}` into model ids.
 *
 * @example
 * ```ts
 * import { parseModelList } from "./models.ts";
 * console.log(parseModelList({ models: [{ slug: "gpt-5.4" }] })); // ["gpt-5.4"]
 * ```
 */
export function parseModelList(body: unknown): string[] | undefined {
  return parseCatalog(body)?.map((entry) => entry.slug);
}

/**
 * The entries of a catalog `{"models":[{"slug": ...}, ...]}`, in its order:
 * each an object with a non-empty string `slug`, the first of a slug kept.
 * `undefined` when `models` is not an array.
 *
 * @example
 * ```ts
 * import { parseCatalog } from "./models.ts";
 * const entries = parseCatalog({ models: [{ slug: "gpt-5.4", priority: 1 }] });
 * console.log(entries); // [{ slug: "gpt-5.4", priority: 1 }]
 * ```
 */
export function parseCatalog(body: unknown): CatalogEntry[] | undefined {
  const models = (body as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return undefined;
  const entries: CatalogEntry[] = [];
  const seen = new Set<string>();
  for (const model of models) {
    if (typeof model !== "object" || model === null || Array.isArray(model)) {
      continue;
    }
    const slug = (model as { slug?: unknown }).slug;
    if (typeof slug === "string" && slug !== "" && !seen.has(slug)) {
      seen.add(slug);
      entries.push(model as CatalogEntry);
    }
  }
  return entries;
}

/**
 * Reads the ids of the models the seller's account may use, in the catalog's
 * order; see {@linkcode readBackendCatalog}.
 *
 * @example
 * ```ts ignore
 * const ids = await listBackendModels(provider);
 * console.log(ids); // ["gpt-5.5", "gpt-5.4", ...]
 * ```
 */
export async function listBackendModels(
  source: ModelsSource,
  options: BackendModelsOptions = {},
): Promise<string[]> {
  return (await readBackendCatalog(source, options)).map((entry) => entry.slug);
}

/**
 * Reads the catalog of the models the seller's account may use (each entry
 * as the backend sent it), reusing one read less than
 * {@linkcode MODELS_CACHE_MS} ago. Callers that come while a read is under
 * way share it (one backend call), and a failed read is thrown again,
 * without a call, for {@linkcode MODELS_FAILURE_CACHE_MS}. Throws a 502
 * `upstream_models_unavailable` {@linkcode RelayError} when the backend does
 * not answer a list (the message never holds a token), or a 503
 * `upstream_auth_failed` one when no token is available.
 *
 * @example
 * ```ts ignore
 * const entries = await readBackendCatalog(provider);
 * console.log(entries[0].slug); // "gpt-5.5"
 * ```
 */
export function readBackendCatalog(
  source: ModelsSource,
  options: BackendModelsOptions = {},
): Promise<readonly CatalogEntry[]> {
  const now = options.now ?? Date.now;
  // An age below zero (the clock set back) is not fresh.
  const within = (at: number, ms: number) => {
    const age = now() - at;
    return age >= 0 && age < ms;
  };
  const cached = cache.get(source);
  if (cached && within(cached.at, MODELS_CACHE_MS)) {
    return Promise.resolve(cached.entries);
  }
  const running = reading.get(source);
  if (running !== undefined) return running;
  const failure = failed.get(source);
  if (failure && within(failure.at, MODELS_FAILURE_CACHE_MS)) {
    // The same error object: the buyer gets the answer a live failure gave.
    return Promise.reject(failure.error);
  }
  const read = fetchCatalog(source, options).then((entries) => {
    cache.set(source, { at: now(), entries });
    failed.delete(source);
    return entries;
  }, (error: unknown) => {
    failed.set(source, { at: now(), error });
    throw error;
  }).finally(() => reading.delete(source));
  reading.set(source, read);
  return read;
}

/** One read of the catalog from the backend, uncached. */
async function fetchCatalog(
  source: ModelsSource,
  options: BackendModelsOptions,
): Promise<readonly CatalogEntry[]> {
  let token: { accessToken: string; accountId: string };
  try {
    token = await source.tokens.getToken();
  } catch {
    throw new RelayError(
      503,
      "upstream_auth_failed",
      "The seller's upstream login cannot be used right now",
    );
  }
  const url = new URL(source.settings.modelsUrl);
  const clientVersion = source.clientVersion
    ? (await source.clientVersion()).version
    : source.settings.clientVersion;
  url.searchParams.set("client_version", clientVersion);
  const identity = upstreamIdentity(
    source.settings.originator,
    clientVersion,
    machineInfo(),
  );
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      headers: {
        "authorization": `Bearer ${token.accessToken}`,
        "chatgpt-account-id": token.accountId,
        "accept": "application/json",
        "originator": identity.originator,
        "version": identity.version,
        "user-agent": identity.userAgent,
      },
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      // Answered as it is: a redirect would take the login's account id
      // (and, to the same host, its token) wherever it points.
      redirect: "manual",
    });
  } catch {
    throw unavailable("no answer (the upstream could not be reached)");
  }
  const text = await response.text().catch(() => "");
  if (!response.ok) throw unavailable(`HTTP ${response.status}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw unavailable("a body that is not JSON");
  }
  const entries = parseCatalog(body);
  if (entries === undefined) throw unavailable("JSON without a models array");
  return entries;
}
