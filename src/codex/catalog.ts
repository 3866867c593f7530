/**
 * A login's model catalog, as the provider keeps it for shaping requests:
 * which models the backend marks `use_responses_lite` for that account
 * (spec: "The model list", "Responses-lite models"). It is read from
 * `GET <base>/codex/models?client_version=<version spoken>` with the
 * login's token and identity, kept with its ETag (`If-None-Match`; a 304
 * keeps it), and read again in the background once it is older than the
 * refresh interval. A request never waits for it: it asks a set in memory,
 * and goes in the classic shape while no catalog has been read. A failure
 * to read it never fails a request; the seller is told once per change.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";
import type { UpstreamIdentity, UpstreamToken } from "./request.ts";

/** Longest wait for the catalog's answer, body included, in milliseconds. */
export const CATALOG_TIMEOUT_MS = 15_000;
/** Largest catalog answer read, in bytes (the real one is tens of kilobytes). */
export const MAX_CATALOG_BYTES = 4 * 1024 * 1024;
/** Pause before a catalog that could not be read is asked for again, in milliseconds. */
export const CATALOG_RETRY_MS = 60_000;
/** Longest ETag kept; a longer one is not sent back. */
const MAX_ETAG_LENGTH = 1024;

/** What a read of the catalog found. */
export interface CatalogRead {
  /** The slugs whose entry says `use_responses_lite: true`. */
  responsesLite: ReadonlySet<string>;
  /** How many entries the catalog listed. */
  models: number;
  /** The answer's `ETag`, when it had one. */
  etag?: string;
}

/** Options of {@linkcode readModelCatalog}. */
export interface ReadCatalogOptions {
  /** The Codex CLI version spoken, sent as `client_version` (the list depends on it). */
  clientVersion: string;
  /** The ETag of the catalog held: a 304 then means it is still current. */
  etag?: string;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
  /** Bound of the whole exchange, in ms (default {@linkcode CATALOG_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** Largest answer read, in bytes (default {@linkcode MAX_CATALOG_BYTES}). */
  maxBytes?: number;
}

function unavailable(found: string): RelayError {
  return new RelayError(
    502,
    "upstream_models_unavailable",
    `Expected a model list from the upstream, found ${found}`,
  );
}

/**
 * Reads a login's catalog: `GET <modelsUrl>?client_version=<version>` with
 * the headers the spec gives for that endpoint (`authorization`,
 * `chatgpt-account-id`, `originator`, `user-agent`) and `if-none-match`
 * when a catalog is held. Resolves `"not_modified"` on a 304 to that ETag.
 * Throws a 502 `upstream_models_unavailable` {@linkcode RelayError} (its
 * message never holds a token) on no answer within the timeout, a status
 * other than 200, an answer larger than the bound, or a body without a
 * `models` array.
 *
 * @param modelsUrl `<base>/codex/models`
 * @param token the login's access token and account id
 * @param identity who the provider speaks as for this login
 * @param options the version spoken, the ETag held, bounds
 * @returns what the catalog says, or `"not_modified"`
 *
 * @example
 * ```ts ignore
 * const read = await readModelCatalog(settings.modelsUrl, token, identity, {
 *   clientVersion: identity.version,
 * });
 * ```
 */
export async function readModelCatalog(
  modelsUrl: string,
  token: UpstreamToken,
  identity: Pick<UpstreamIdentity, "originator" | "userAgent">,
  options: ReadCatalogOptions,
): Promise<CatalogRead | "not_modified"> {
  const url = new URL(modelsUrl);
  url.searchParams.set("client_version", options.clientVersion);
  const headers: Record<string, string> = {
    "authorization": `Bearer ${token.accessToken}`,
    "chatgpt-account-id": token.accountId,
    "originator": identity.originator,
    "user-agent": identity.userAgent,
  };
  if (options.etag !== undefined) headers["if-none-match"] = options.etag;
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? CATALOG_TIMEOUT_MS;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, {
        headers,
        signal: controller.signal,
        // Answered as it is: a redirect would take the login's account id
        // (and, to the same host, its token) wherever it points.
        redirect: "manual",
      });
    } catch {
      throw unavailable(
        controller.signal.aborted
          ? `no answer within ${timeoutMs} ms`
          : "no answer (the upstream could not be reached)",
      );
    }
    if (response.status === 304 && options.etag !== undefined) {
      await response.body?.cancel().catch(() => {});
      return "not_modified";
    }
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {});
      throw unavailable(`HTTP ${response.status}`);
    }
    const maxBytes = options.maxBytes ?? MAX_CATALOG_BYTES;
    const text = await readBounded(response, maxBytes).catch((error) => {
      throw error instanceof RelayError ? error : unavailable(
        controller.signal.aborted
          ? `no complete answer within ${timeoutMs} ms`
          : "an answer that broke off",
      );
    });
    const read = parseCatalogFlags(text);
    const etag = response.headers.get("etag");
    if (etag !== null && etag !== "" && etag.length <= MAX_ETAG_LENGTH) {
      read.etag = etag;
    }
    return read;
  } finally {
    clearTimeout(timer);
  }
}

/** The body as text, refused once it passes `maxBytes` (counted as it arrives). */
async function readBounded(
  response: Response,
  maxBytes: number,
): Promise<string> {
  const tooLarge = () => unavailable(`an answer larger than ${maxBytes} bytes`);
  const declared = Number(response.headers.get("content-length"));
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    text += decoder.decode(value, { stream: true });
  }
}

/**
 * What a catalog body says of each model: the slugs marked
 * `use_responses_lite: true`, and how many entries it has (each an object
 * with a non-empty string `slug`).
 *
 * @param text the body of `GET /codex/models`
 * @returns the flags read
 *
 * @example
 * ```ts
 * import { parseCatalogFlags } from "./catalog.ts";
 * const read = parseCatalogFlags(
 *   '{"models":[{"slug":"gpt-5.6-sol","use_responses_lite":true},{"slug":"gpt-5.4"}]}',
 * );
 * console.log([...read.responsesLite], read.models); // ["gpt-5.6-sol"] 2
 * ```
 */
export function parseCatalogFlags(text: string): CatalogRead {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw unavailable("a body that is not JSON");
  }
  const models = isRecord(body) ? body.models : undefined;
  if (!Array.isArray(models)) throw unavailable("JSON without a models array");
  const responsesLite = new Set<string>();
  let count = 0;
  for (const entry of models) {
    if (!isRecord(entry)) continue;
    const slug = entry.slug;
    if (typeof slug !== "string" || slug === "") continue;
    count++;
    if (entry.use_responses_lite === true) responsesLite.add(slug);
  }
  return { responsesLite, models: count };
}

/** What a request asks of its login's catalog. */
export interface ResponsesLiteLookup {
  /**
   * Whether the login's catalog marks `model` responses-lite: false while
   * no catalog has been read. Never waits and never throws.
   */
  usesResponsesLite(model: string): boolean;
}

/** What {@linkcode ModelCatalog} is built from. */
export interface ModelCatalogOptions {
  /**
   * Reads the catalog (with the ETag held, if any); `undefined` when the
   * login cannot be asked now (out of rotation, no token): it is asked
   * again after {@linkcode CATALOG_RETRY_MS}, and nothing is logged (the
   * login's own state says why).
   */
  load(
    etag: string | undefined,
  ): Promise<CatalogRead | "not_modified" | undefined>;
  /**
   * Age after which a read catalog is read again in the background, in
   * milliseconds; 0: read once, never again.
   */
  refreshMs: number;
  /** Told of each change between readable and not (a line for the seller). */
  onChange?: (text: string) => void;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/**
 * One login's catalog, read on first use and kept current in the
 * background; what requests look up.
 *
 * @example
 * ```ts ignore
 * const catalog = new ModelCatalog({ load, refreshMs: 3_600_000 });
 * catalog.usesResponsesLite("gpt-5.6-sol"); // false until read; starts the read
 * ```
 */
export class ModelCatalog implements ResponsesLiteLookup {
  readonly #options: ModelCatalogOptions;
  readonly #now: () => number;
  #responsesLite: ReadonlySet<string> | undefined;
  #etag: string | undefined;
  /** When the next read is due (0: before the first). */
  #dueAt = 0;
  #loading: Promise<void> | undefined;
  /** Why the last read failed, once the seller was told; undefined while readable. */
  #failure: string | undefined;

  /**
   * Creates a catalog that has read nothing yet.
   *
   * @param options how to read it, how often, whom to tell
   */
  constructor(options: ModelCatalogOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Whether a catalog has been read. */
  get loaded(): boolean {
    return this.#responsesLite !== undefined;
  }

  /**
   * Whether the catalog read marks `model` responses-lite (false before the
   * first read). Starts a read in the background when one is due and none
   * is running; never waits for it.
   *
   * @param model the upstream model of an attempt
   * @returns whether the attempt goes in the responses-lite shape
   */
  usesResponsesLite(model: string): boolean {
    if (this.#loading === undefined && this.#now() >= this.#dueAt) {
      void this.refresh();
    }
    return this.#responsesLite?.has(model) === true;
  }

  /**
   * Reads the catalog now, unless a read is running (then that one).
   * Never rejects.
   *
   * @returns when the read has ended
   */
  refresh(): Promise<void> {
    this.#loading ??= this.#load().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const { load, refreshMs } = this.#options;
    let read: CatalogRead | "not_modified" | undefined;
    try {
      read = await load(this.#etag);
    } catch (error) {
      this.#dueAt = this.#now() +
        (refreshMs > 0
          ? Math.min(refreshMs, CATALOG_RETRY_MS)
          : CATALOG_RETRY_MS);
      this.#failed(
        error instanceof RelayError ? error.message : "an unexpected failure",
      );
      return;
    }
    if (read === undefined) {
      this.#dueAt = this.#now() + CATALOG_RETRY_MS;
      return;
    }
    if (read !== "not_modified") {
      this.#responsesLite = read.responsesLite;
      this.#etag = read.etag;
    }
    this.#dueAt = refreshMs > 0 ? this.#now() + refreshMs : Infinity;
    if (this.#failure !== undefined) {
      this.#failure = undefined;
      this.#options.onChange?.(
        "model catalog read again; requests are shaped by it",
      );
    }
  }

  #failed(reason: string): void {
    if (reason === this.#failure) return;
    this.#failure = reason;
    this.#options.onChange?.(
      `model catalog unavailable (${reason}); ${
        this.#responsesLite === undefined
          ? "requests go in the classic shape"
          : "the catalog read before stays in use"
      } until it is read`,
    );
  }
}
