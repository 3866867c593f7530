/**
 * What the Codex CLI 0.171 says of itself in every request, for one login:
 * the body's `client_metadata` (its installation id, the conversation, the
 * turn, and the turn metadata as a JSON string) and the headers
 * `x-client-request-id`, `x-codex-window-id`, `x-codex-turn-metadata`,
 * `x-codex-beta-features` and `x-codex-routing-hint`. Everything that does
 * not change between requests is rendered once per login; a request adds
 * its session id, a turn id, the time and the model by concatenation.
 *
 * Nothing here comes from the buyer: the buyer's `client_metadata` is
 * removed when the request is shaped (./request.ts) and replaced with the
 * login's, and none of the buyer's headers go upstream. The values that
 * describe the CLI's machine are neutral ones the seller's own CLI would
 * send: the seller's home folder as `agent_name`, a read-only sandbox, a
 * new thread started by a user.
 *
 * @module
 */

import { homedir, platform } from "node:os";
import { compareVersions } from "./client_version.ts";

/** The beta features the CLI announces from this version on (`remote_compaction_v2`). */
export const BETA_FEATURES_SINCE = "0.171.0";

/** The `x-codex-beta-features` value of 0.171. */
export const BETA_FEATURES = "remote_compaction_v2";

/**
 * Longest model name put into the turn metadata and the routing hint: a
 * buyer's model name is only checked against an allow-list when there is
 * one, and a header must stay small.
 */
export const MAX_METADATA_MODEL_LENGTH = 128;

/** Options of {@linkcode LoginInstallation}. */
export interface LoginInstallationOptions {
  /** `originator` spoken (`codex_exec` makes the turn trigger `exec`). */
  originator: string;
  /** The CLI version spoken (`version` header). */
  version: string;
  /** `agent_name`: the working folder the CLI reports (default: the seller's home folder, when the runtime may read it). */
  agentName?: string;
  /** `process.platform`-style name, for the sandbox kind (default `os.platform()`). */
  platform?: string;
}

/** The identity of one upstream request: body text to append and headers to add. */
export interface TurnIdentity {
  /**
   * `,"client_metadata":{…}}`: what replaces the closing brace of the
   * upstream body (see {@linkcode withClientMetadata}).
   */
  bodyTail: string;
  /** The CLI's per-request headers. */
  headers: Record<string, string>;
}

/**
 * One login's installation as the backend sees it: built once per login
 * (and version), asked once per upstream attempt for a request's
 * {@linkcode TurnIdentity}.
 *
 * @example
 * ```ts
 * import { LoginInstallation } from "./login_identity.ts";
 * const login = new LoginInstallation("6b6c7b9b-aca9-4dc4-9fc3-2b3346658c08", {
 *   originator: "codex_exec",
 *   version: "0.171.0",
 *   agentName: "/home/seller",
 * });
 * const turn = login.turn("conv-1", "gpt-5.4");
 * console.log(turn.headers["x-codex-window-id"]); // "conv-1:0"
 * ```
 */
export class LoginInstallation {
  /** The installation id (`x-codex-installation-id`). */
  readonly installationId: string;
  readonly #betaFeatures: string | undefined;
  /**
   * The turn metadata's fixed text between its slots, as it is and as it
   * reads inside a JSON string (escaped once here, not per request).
   */
  readonly #metadata: { raw: string[]; escaped: string[] };
  /** `,"client_metadata":{"x-codex-installation-id":"<id>","session_id":` */
  readonly #bodyHead: string;

  /**
   * Renders the parts that do not change between requests.
   *
   * @param installationId the login's installation id
   * @param options originator, version, and the machine's neutral values
   */
  constructor(installationId: string, options: LoginInstallationOptions) {
    this.installationId = installationId;
    this.#betaFeatures =
      compareVersions(options.version, BETA_FEATURES_SINCE) >= 0
        ? BETA_FEATURES
        : undefined;
    const id = JSON.stringify(installationId);
    const sandbox = sandboxOf(options.platform ?? platform());
    const agentName = options.agentName ?? homeFolder();
    const trigger = options.originator === "codex_exec" ? "exec" : "composer";
    // The text around the slots of TURN_SLOTS, in the CLI's field order.
    const raw = [
      `{"installation_id":${id},"session_id":`,
      `,"thread_id":`,
      `${
        agentName === undefined ? "" : `,"agent_name":${asciiJson(agentName)}`
      },"turn_id":"`,
      `","window_id":`,
      `,"window_number":0,"request_kind":"turn","history_initialization":"new","root_turn_id":"`,
      `","thread_source":"user","turn_trigger":"${trigger}"${
        sandbox === undefined ? "" : `,"sandbox":"${sandbox}"`
      },"sandbox_mode":"read-only","auto_review_enabled":false,"node_repl_auto_review_required":false,"node_repl_disabled":false,"turn_started_at_unix_ms":`,
      `,"analytics_enabled":true`,
      `}`,
    ];
    this.#metadata = { raw, escaped: raw.map(inJsonString) };
    this.#bodyHead =
      `,"client_metadata":{"x-codex-installation-id":${id},"session_id":`;
  }

  /**
   * The identity of one request of the conversation `sessionId` to `model`:
   * a new turn id, the time, and the rest rendered once. The caller keeps it
   * for the retries of one attempt.
   *
   * @param sessionId the upstream session id (header-safe, the `session-id` header)
   * @param model the upstream model, if known
   * @param now the turn's start, ms since the epoch
   * @returns the body tail and the headers
   */
  turn(
    sessionId: string,
    model: string | undefined,
    now: number = Date.now(),
  ): TurnIdentity {
    const session = asciiJson(sessionId);
    const turnId = uuidV7(now);
    const window = `${sessionId}:0`;
    const windowJson = asciiJson(window);
    const modelJson = model !== undefined && model.length > 0 &&
        model.length <= MAX_METADATA_MODEL_LENGTH
      ? asciiJson(model)
      : undefined;
    const time = String(now);
    const modelMember = modelJson === undefined ? "" : `,"model":${modelJson}`;
    // The slots, in order: session, session, turn id, window, turn id, time, model.
    const slots = [session, session, turnId, windowJson, turnId, time];
    const { raw, escaped } = this.#metadata;
    let metadata = raw[0];
    let metadataInString = escaped[0];
    for (let index = 0; index < slots.length; index++) {
      const slot = slots[index];
      metadata += slot + raw[index + 1];
      // Only the JSON texts (session, window) hold quotes; ids and digits none.
      metadataInString +=
        (slot.charCodeAt(0) === QUOTE_CODE ? inJsonString(slot) : slot) +
        escaped[index + 1];
    }
    metadata += modelMember + raw[7];
    metadataInString += inJsonString(modelMember) + escaped[7];
    const headers: Record<string, string> = {
      "x-client-request-id": sessionId,
      "x-codex-window-id": window,
      "x-codex-turn-metadata": metadata,
    };
    if (this.#betaFeatures !== undefined) {
      headers["x-codex-beta-features"] = this.#betaFeatures;
    }
    if (modelJson !== undefined && modelJson === `"${model}"`) {
      headers["x-codex-routing-hint"] = `model=${model}`;
    }
    return {
      bodyTail:
        `${this.#bodyHead}${session},"thread_id":${session},"turn_id":"${turnId}","root_turn_id":"${turnId}","x-codex-window-id":${windowJson},"x-codex-turn-metadata":"${metadataInString}","guardian_credits_requested":"true"}}`,
      headers,
    };
  }
}

const QUOTE_CODE = 0x22;

/** A text as it reads inside a JSON string (without the quotes around it). */
function inJsonString(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

/**
 * The upstream body with the login's `client_metadata` in place of its
 * closing brace. The body is the shaped JSON object text, which never holds
 * a `client_metadata` of its own (the buyer's is removed when shaping) and
 * is never empty (it has a model).
 *
 * @example
 * ```ts
 * import { withClientMetadata } from "./login_identity.ts";
 * console.log(withClientMetadata('{"model":"m"}', ',"client_metadata":{}}'));
 * // {"model":"m","client_metadata":{}}
 * ```
 *
 * @param body the upstream body text
 * @param tail the {@linkcode TurnIdentity.bodyTail}
 * @returns the body to send
 */
export function withClientMetadata(body: string, tail: string): string {
  return `${body.slice(0, body.lastIndexOf("}"))}${tail}`;
}

/** Printable ASCII without `"` and `\\`: its JSON text is itself in quotes. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** JSON text of a string with every character outside printable ASCII escaped: safe in a header. */
function asciiJson(text: string): string {
  if (PLAIN_ASCII.test(text)) return `"${text}"`;
  return JSON.stringify(text).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The seller's home folder; none when the runtime may not say (Deno without `--allow-sys`). */
function homeFolder(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

/** The sandbox kind the CLI names for a platform; none where it has no name known here. */
function sandboxOf(name: string): string | undefined {
  if (name === "linux") return "seccomp";
  if (name === "darwin") return "seatbelt";
  return undefined;
}

/** A time-ordered UUID (version 7), as the CLI's turn ids are. */
function uuidV7(now: number): string {
  const random = crypto.randomUUID();
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, "0")
    .slice(-12);
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}
