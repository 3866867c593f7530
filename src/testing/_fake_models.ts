/**
 * The model catalog of the simulated Codex backend: `GET /codex/models`
 * entries with every field the Codex CLI requires (it refuses the whole list
 * when one entry lacks one), the per-model `minimal_client_version`, and the
 * gating of `POST /codex/responses` by the `version` header.
 *
 * @module
 */

/**
 * The 2026 models that need a recent client: listed only for a
 * `client_version` of at least their minimal version, and refused to a
 * request whose `version` header is older (or missing).
 */
export const DEFAULT_FAKE_GATED_MODELS: Readonly<Record<string, string>> =
  Object.freeze({
    "gpt-5.6-sol": "0.144.0",
    "gpt-5.6-terra": "0.144.0",
    "gpt-5.6-luna": "0.144.0",
  });

/**
 * The 2026 models whose catalog entry says `use_responses_lite: true` (with
 * `tool_mode: "code_mode_only"` and `prefer_websockets: true`), unless the
 * backend or the account is given others.
 */
export const DEFAULT_FAKE_RESPONSES_LITE_MODELS: readonly string[] = Object
  .freeze(["gpt-5.6-sol", "gpt-5.6-terra", "gpt-5.6-luna"]);

/**
 * The parts of an `x.y.z` version, or `undefined` when the text does not
 * start with one (a pre-release suffix such as `-alpha.1` is ignored).
 */
export function parseVersion(
  text: string | undefined,
): [number, number, number] | undefined {
  const match = /^\s*v?(\d+)\.(\d+)\.(\d+)/.exec(text ?? "");
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

/**
 * Whether `version` is at least `minimal`. A missing or unreadable version
 * counts as older than any: the real backend gates on the `version` header,
 * and a client that sends none is not a recent one.
 */
export function versionAtLeast(
  version: string | undefined,
  minimal: string,
): boolean {
  const have = parseVersion(version);
  const need = parseVersion(minimal);
  if (need === undefined) return true;
  if (have === undefined) return false;
  for (let index = 0; index < 3; index++) {
    if (have[index] !== need[index]) return have[index] > need[index];
  }
  return true;
}

/** The backend's refusal of a model to an older client (400 `detail`). */
export function newerVersionRequired(slug: string): string {
  return `The '${slug}' model requires a newer version of Codex. Please upgrade to the latest app or CLI and try again.`;
}

/** One `ModelInfo` of the catalog, every field the Codex CLI requires included. */
export function modelEntry(
  slug: string,
  priority: number,
  minimalClientVersion: string | undefined,
  responsesLite = false,
): Record<string, unknown> {
  const entry: Record<string, unknown> = {
    slug,
    display_name: slug.replace(/^gpt/, "GPT"),
    description: `${slug} on the simulated Codex backend`,
    default_reasoning_level: "medium",
    supported_reasoning_levels: ["low", "medium", "high"].map((effort) => ({
      effort,
      description: `${effort} reasoning effort`,
    })),
    shell_type: "shell_command",
    visibility: "list",
    supported_in_api: true,
    priority,
    base_instructions:
      "You are Codex, a coding agent on the simulated backend.",
    supports_reasoning_summaries: true,
    support_verbosity: true,
    truncation_policy: { mode: "tokens", limit: 10_000 },
    supports_parallel_tool_calls: true,
    experimental_supported_tools: [],
    context_window: 272_000,
    input_modalities: ["text", "image"],
  };
  if (minimalClientVersion !== undefined) {
    entry.minimal_client_version = minimalClientVersion;
  }
  entry.use_responses_lite = responsesLite;
  if (responsesLite) {
    entry.tool_mode = "code_mode_only";
    entry.prefer_websockets = true;
  }
  return entry;
}

/**
 * The catalog a client of `clientVersion` sees: every account model except
 * those whose minimal version is newer (all gated ones when the query has
 * no `client_version`), the `responsesLite` ones marked so.
 */
export function listModels(
  models: readonly string[],
  minimalVersions: Readonly<Record<string, string>>,
  clientVersion: string | undefined,
  responsesLite: readonly string[] = DEFAULT_FAKE_RESPONSES_LITE_MODELS,
): Record<string, unknown>[] {
  const listed: Record<string, unknown>[] = [];
  models.forEach((slug, priority) => {
    const minimal = Object.hasOwn(minimalVersions, slug)
      ? minimalVersions[slug]
      : undefined;
    if (minimal !== undefined && !versionAtLeast(clientVersion, minimal)) {
      return;
    }
    listed.push(
      modelEntry(slug, priority, minimal, responsesLite.includes(slug)),
    );
  });
  return listed;
}

/**
 * A strong ETag of a catalog body: FNV-1a over its JSON text, so that the
 * same list gets the same tag and any change another.
 */
export function catalogEtag(text: string): string {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return `"models-${hash.toString(16).padStart(8, "0")}"`;
}

/**
 * Whether a `POST /codex/responses` came in the responses-lite shape, as
 * the Codex CLI sends it to a model its catalog marks so: the header
 * `x-openai-internal-codex-responses-lite: true`, an `additional_tools`
 * first input item, `instructions: ""`, no top-level `tools`,
 * `parallel_tool_calls: false`.
 */
export function isResponsesLiteRequest(
  headers: Readonly<Record<string, string>>,
  body: unknown,
): boolean {
  if (headers["x-openai-internal-codex-responses-lite"] !== "true") {
    return false;
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return false;
  }
  const request = body as Record<string, unknown>;
  const first = Array.isArray(request.input) ? request.input[0] : undefined;
  return typeof first === "object" && first !== null &&
    (first as Record<string, unknown>).type === "additional_tools" &&
    Array.isArray((first as Record<string, unknown>).tools) &&
    request.instructions === "" && !Object.hasOwn(request, "tools") &&
    request.parallel_tool_calls === false;
}
