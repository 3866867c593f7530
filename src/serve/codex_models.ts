/**
 * The model list of the local server for the Codex CLI: `GET
 * /v1/models?client_version=<x.y.z>` answered in the backend's catalog
 * format, `{"models":[ModelInfo…]}`, as the CLI decodes it when its provider
 * uses a ChatGPT login (it refuses the whole list when one entry lacks a
 * required field, and warns "Model metadata for … not found" for a model
 * missing from it). Private to the server.
 *
 * @module
 */

import type { CatalogEntry } from "./models.ts";

/** What {@linkcode codexModelList} lists. */
export interface CodexModelListOptions {
  /** The seller account's catalog; empty when it could not be read. */
  catalog: readonly CatalogEntry[];
  /** Announced service ids; when empty, the catalog itself is listed. */
  services: readonly string[];
  /** Announced service id -> upstream model (default: none). */
  aliasMap?: Readonly<Record<string, string>>;
  /**
   * `base_instructions` of a service whose model is not in the catalog
   * (the CLI sends them as `instructions`); default empty.
   */
  baseInstructions?: string;
  /** The `client_version` the CLI asked with. */
  clientVersion: string;
}

/**
 * The parts of an `x.y.z` version, from a string (`"0.144.0"`, a suffix
 * such as `-alpha.1` ignored) or a `[x, y, z]` array (how older catalogs
 * wrote `minimal_client_version`); `undefined` for anything else.
 */
function versionParts(value: unknown): number[] | undefined {
  if (Array.isArray(value)) {
    return value.length === 3 &&
        value.every((part) => Number.isSafeInteger(part) && part >= 0)
      ? value as number[]
      : undefined;
  }
  if (typeof value !== "string") return undefined;
  const match = /^\s*v?(\d+)\.(\d+)\.(\d+)/.exec(value);
  return match === null ? undefined : match.slice(1, 4).map(Number);
}

/**
 * Whether a client of `clientVersion` may see an entry: yes without a
 * readable `minimal_client_version`; otherwise only for a readable version
 * at least that one (the backend leaves newer models out of an older
 * client's list, and counts an unreadable version as older than any).
 *
 * @example
 * ```ts
 * import { admits } from "./codex_models.ts";
 * console.log(admits({ slug: "m", minimal_client_version: "0.144.0" }, "0.171.0")); // true
 * console.log(admits({ slug: "m", minimal_client_version: "0.144.0" }, "0.99.0")); // false
 * ```
 */
export function admits(entry: CatalogEntry, clientVersion: string): boolean {
  const minimal = versionParts(entry.minimal_client_version);
  if (minimal === undefined) return true;
  const have = versionParts(clientVersion);
  if (have === undefined) return false;
  for (let index = 0; index < 3; index++) {
    if (have[index] !== minimal[index]) return have[index] > minimal[index];
  }
  return true;
}

/**
 * A `ModelInfo` with every field the CLI requires, for an announced service
 * whose model the catalog does not hold (or when the catalog could not be
 * read).
 */
function describedService(
  service: string,
  priority: number,
  baseInstructions: string,
): CatalogEntry {
  return {
    slug: service,
    display_name: service,
    description: `${service}, served by this seller`,
    default_reasoning_level: "medium",
    supported_reasoning_levels: ["low", "medium", "high"].map((effort) => ({
      effort,
      description: `${effort} reasoning effort`,
    })),
    shell_type: "shell_command",
    visibility: "list",
    supported_in_api: true,
    priority,
    base_instructions: baseInstructions,
    supports_reasoning_summaries: true,
    support_verbosity: false,
    truncation_policy: { mode: "tokens", limit: 10_000 },
    supports_parallel_tool_calls: true,
    experimental_supported_tools: [],
    input_modalities: ["text", "image"],
  };
}

/**
 * The body of `GET /v1/models?client_version=` for the Codex CLI:
 *
 * - without announced services, the catalog's entries as the backend sent
 *   them;
 * - with services, one entry per service, in their order (`priority` is the
 *   position, so the first is the CLI's default): the catalog's entry of
 *   the service's upstream model (alias-mapped) under the service's id, or,
 *   when the catalog has none, one with every required field;
 *
 * in both cases without the entries whose `minimal_client_version` is newer
 * than `clientVersion`.
 *
 * @example
 * ```ts
 * import { codexModelList } from "./codex_models.ts";
 * const body = codexModelList({
 *   catalog: [{ slug: "gpt-5.4", priority: 3 }],
 *   services: ["coder"],
 *   aliasMap: { coder: "gpt-5.4" },
 *   clientVersion: "0.171.0",
 * });
 * console.log(body.models[0].slug, body.models[0].priority); // "coder" 0
 * ```
 */
export function codexModelList(
  options: CodexModelListOptions,
): { models: CatalogEntry[] } {
  const { catalog, services, clientVersion } = options;
  if (services.length === 0) {
    return {
      models: catalog.filter((entry) => admits(entry, clientVersion)),
    };
  }
  const bySlug = new Map(catalog.map((entry) => [entry.slug, entry]));
  const aliasMap = options.aliasMap ?? {};
  const models: CatalogEntry[] = [];
  services.forEach((service, priority) => {
    const upstream = Object.hasOwn(aliasMap, service)
      ? aliasMap[service]
      : service;
    const known = bySlug.get(upstream);
    const entry = known === undefined
      ? describedService(service, priority, options.baseInstructions ?? "")
      : {
        ...known,
        slug: service,
        display_name: service === known.slug ? known.display_name : service,
        priority,
      };
    if (admits(entry, clientVersion)) models.push(entry);
  });
  return { models };
}
