/**
 * Request normalisation for the Codex backend: reads the buyer's JSON body and
 * reshapes it into what `chatgpt.com/backend-api/codex/responses` accepts
 * (`stream: true`, `store: false`, `instructions` present, no `system`
 * messages, no unsupported parameters, no stored-item references), and builds
 * the upstream headers.
 *
 * @module
 */

import { machine, release, type } from "node:os";
import { DEFAULT_CLIENT_VERSION, DEFAULT_ORIGINATOR } from "../config.ts";
import { RelayError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { isRecord } from "../json.ts";

/** Options of {@linkcode shapeRequest}. */
export interface ShapeOptions {
  /** `instructions` used when the request carries none and has no leading system/developer text. */
  defaultInstructions: string;
  /** Announced service id -> upstream model. */
  aliasMap: Record<string, string>;
  /** When non-empty, the only services a buyer may request (exact match). */
  allowedServices: readonly string[];
  /**
   * Whether `<model>-minimal|low|medium|high|xhigh` names that model with
   * `reasoning.effort` set (default false). A service of the alias map is
   * never split.
   */
  effortAliases?: boolean;
  /**
   * Ask the backend for `reasoning.encrypted_content` when the request sets
   * `reasoning`: the provider keeps the turn for later turns, and a stored
   * reasoning item without its content cannot be sent back (default false).
   */
  includeEncryptedReasoning?: boolean;
}

/** A request ready for the backend, with what the relay needs to know about it. */
export interface ShapedRequest {
  /** The upstream body, ready for `JSON.stringify`. */
  body: Record<string, unknown>;
  /** The requested service (trimmed `service ?? model`). */
  service: string;
  /** Upstream model after the alias map. */
  model: string;
  /** Whether the BUYER asked for streaming (`stream === true`). */
  stream: boolean;
  /** Parameters of the buyer's body the backend does not accept, removed (for the dropped-parameters header). */
  dropped: string[];
  /**
   * The request's `prompt_cache_key` when it is a non-empty string, as the
   * buyer sent it (see {@linkcode upstreamSessionId} for the header).
   */
  promptCacheKey?: string;
}

/** Credentials needed by {@linkcode buildUpstreamHeaders}. */
export interface UpstreamToken {
  /** The bearer token for the backend. */
  accessToken: string;
  /** ChatGPT account id. */
  accountId: string;
}

/**
 * Separator between the texts of two leading `system`/`developer` messages
 * when they are folded into `instructions`.
 */
export const INSTRUCTIONS_MESSAGE_SEPARATOR = "\n\n";

/**
 * Separator between two text parts (`input_text`/`text`) of one leading
 * message when it is folded into `instructions`. Parts are joined with a
 * newline rather than nothing so that two parts never glue two words together.
 */
export const INSTRUCTIONS_PART_SEPARATOR = "\n";

/**
 * Parameters the backend rejects with `Unsupported parameter: <name>`; they are
 * removed from the upstream body (`service_tier` is kept when it equals
 * `"priority"`).
 */
export const UNSUPPORTED_PARAMETERS: readonly string[] = Object.freeze([
  "max_output_tokens",
  "max_completion_tokens",
  "temperature",
  "top_p",
  "frequency_penalty",
  "presence_penalty",
  "truncation",
  "user",
  "context_management",
  "prompt_cache_retention",
  "safety_identifier",
  "stream_options",
]);

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder();

/** What a `prompt_cache_key` may hold to be sent as a header value as it is. */
const HEADER_SAFE = /^[\x20-\x7e]{1,256}$/;

const TEXT_PART_TYPES: ReadonlySet<string> = new Set(["input_text", "text"]);

/** `<model>-<effort>`: a model name with a reasoning effort appended. */
const EFFORT_SUFFIX = /^(.+)-(minimal|low|medium|high|xhigh)$/;

/** The `include` value that makes the backend return reasoning items' encrypted content. */
const ENCRYPTED_REASONING = "reasoning.encrypted_content";

/** A buyer's request body, read. */
export interface BuyerJson {
  /** The body as text (a byte-order mark removed). */
  text: string;
  /** The JSON object it holds. */
  value: Record<string, unknown>;
}

/**
 * Reads a buyer's request body as a JSON object.
 *
 * Throws a {@linkcode RelayError}: 413 `request_too_large` when the body is
 * larger than `maxBytes`; 400 `invalid_json` when it is empty, not valid UTF-8,
 * not JSON, or JSON but not an object.
 *
 * @param body the raw request body
 * @param maxBytes the largest accepted body, in bytes
 * @returns the text and the parsed object
 *
 * @example
 * ```ts
 * import { readRequestJson } from "./request.ts";
 *
 * const { value } = readRequestJson(
 *   new TextEncoder().encode('{"model":"gpt-5.4","input":"Hi"}'),
 *   1024,
 * );
 * console.log(value.model); // "gpt-5.4"
 * ```
 */
export function readRequestJson(
  body: Uint8Array,
  maxBytes: number,
): BuyerJson {
  if (body.byteLength > maxBytes) {
    throw new RelayError(
      413,
      "request_too_large",
      `Expected a request body of at most ${maxBytes} bytes, found ${body.byteLength} bytes`,
    );
  }
  if (body.byteLength === 0) {
    throw new RelayError(
      400,
      "invalid_json",
      "Expected a JSON object in the request body, found an empty body",
    );
  }
  // The lenient decoder is the runtimes' fast path (Deno's strict one is a
  // slower op); it differs from the strict one only where it puts U+FFFD,
  // so only then is the strict one asked (to refuse, or to confirm that the
  // buyer sent U+FFFD). A string without characters beyond Latin-1 is
  // answered at once.
  let text = lenientUtf8.decode(body);
  try {
    if (text.includes("\uFFFD")) text = strictUtf8.decode(body);
  } catch {
    throw new RelayError(
      400,
      "invalid_json",
      "Expected a UTF-8 JSON object in the request body, found bytes that are not valid UTF-8",
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RelayError(
      400,
      "invalid_json",
      "Expected a JSON object in the request body, found text that is not valid JSON",
    );
  }
  if (!isRecord(value)) {
    throw new RelayError(
      400,
      "invalid_json",
      `Expected a JSON object in the request body, found ${describe(value)}`,
    );
  }
  return { text, value };
}

/**
 * Reshapes a buyer's Responses API request for the Codex backend. The buyer's
 * object is not modified; what changes is copied.
 *
 * - `service ?? model` names the service (trimmed, non-empty, and one of
 *   `allowedServices` when that list is non-empty); `service` is removed and
 *   `model` becomes the alias-mapped upstream model.
 * - `stream: true` and `store: false` are always set.
 * - Without a non-empty string `instructions`, the text of the leading
 *   `system`/`developer` messages of `input` becomes `instructions` (messages
 *   joined with {@linkcode INSTRUCTIONS_MESSAGE_SEPARATOR}, text parts of one
 *   message with {@linkcode INSTRUCTIONS_PART_SEPARATOR}) and those messages
 *   are removed; with no such text, `defaultInstructions`. A leading message
 *   holding a non-text part (an image, a file) ends the leading run and stays
 *   in `input`.
 * - Every remaining `system` message becomes a `developer` message.
 * - {@linkcode UNSUPPORTED_PARAMETERS} are removed, and `service_tier` unless
 *   it is `"priority"`.
 * - `id` is removed from every input item, `item_reference` items are dropped.
 * - `client_metadata` is removed: the relay adds the login's own.
 *
 * Throws a 400 {@linkcode RelayError}: `missing_model` when neither `service`
 * nor `model` is a non-empty string, `model_not_allowed` when the service is
 * not allowed, `invalid_request` when a field has the wrong type,
 * `string_above_max_length` for a `prompt_cache_key` over
 * {@linkcode MAX_PROMPT_CACHE_KEY_LENGTH} characters (as api.openai.com).
 *
 * @param body the buyer's request object
 * @param options default instructions, alias map, allowed services
 * @returns the upstream body and what the relay needs to know
 *
 * @example
 * ```ts
 * import { shapeRequest } from "./request.ts";
 *
 * const shaped = shapeRequest(
 *   { model: "codex", input: [{ role: "system", content: "Be brief" }, { role: "user", content: "Hi" }] },
 *   { defaultInstructions: "You are helpful", aliasMap: { codex: "gpt-5.4" }, allowedServices: [] },
 * );
 * console.log(shaped.body.model, shaped.body.instructions); // "gpt-5.4" "Be brief"
 * ```
 */
export function shapeRequest(
  body: Record<string, unknown>,
  options: ShapeOptions,
): ShapedRequest {
  const service = readService(body, options.allowedServices);
  const aliased = Object.hasOwn(options.aliasMap, service);
  let model = aliased ? options.aliasMap[service] : service;
  validateShapes(body);

  const upstream: Record<string, unknown> = { ...body };
  delete upstream.service;
  // The login's own replaces it upstream (./login_identity.ts): the buyer's
  // holds its installation id and working folder.
  delete upstream.client_metadata;
  const effort = !aliased && options.effortAliases
    ? EFFORT_SUFFIX.exec(model)
    : null;
  if (effort) {
    model = effort[1];
    const reasoning = isRecord(body.reasoning) ? body.reasoning : {};
    // An effort the buyer spelled out in the body wins over the name's.
    if (reasoning.effort === undefined || reasoning.effort === null) {
      upstream.reasoning = { ...reasoning, effort: effort[2] };
    }
  }
  upstream.model = model;
  upstream.stream = true;
  upstream.store = false;
  const dropped: string[] = [];
  for (const name of UNSUPPORTED_PARAMETERS) {
    if (Object.hasOwn(upstream, name)) {
      dropped.push(name);
      delete upstream[name];
    }
  }
  if (Object.hasOwn(upstream, "service_tier")) {
    if (upstream.service_tier !== "priority") {
      if (
        upstream.service_tier !== undefined && upstream.service_tier !== null
      ) {
        dropped.push("service_tier");
      }
      delete upstream.service_tier;
    }
  }
  if (
    options.includeEncryptedReasoning && isRecord(upstream.reasoning) &&
    !(Array.isArray(body.include) &&
      body.include.includes(ENCRYPTED_REASONING))
  ) {
    upstream.include = [
      ...(Array.isArray(body.include) ? body.include : []),
      ENCRYPTED_REASONING,
    ];
  }

  // validateShapes made sure every item of an array input is an object.
  let input = Array.isArray(body.input)
    ? cleanInput(body.input as Record<string, unknown>[])
    : body.input;
  const given = body.instructions;
  if (typeof given === "string" && given !== "") {
    upstream.instructions = given;
  } else {
    let folded: string | undefined;
    if (Array.isArray(input)) {
      const leading = takeLeadingInstructions(input);
      input = leading.rest;
      folded = leading.text;
    }
    upstream.instructions = folded !== undefined && folded !== ""
      ? folded
      : options.defaultInstructions;
  }
  if (input !== undefined) upstream.input = input;

  const shaped: ShapedRequest = {
    body: upstream,
    service,
    model,
    stream: body.stream === true,
    dropped,
  };
  if (typeof body.prompt_cache_key === "string" && body.prompt_cache_key) {
    shaped.promptCacheKey = body.prompt_cache_key;
  }
  return shaped;
}

/**
 * The upstream `session-id` (and `thread-id`) header of a request: its `prompt_cache_key` as it
 * is when that can be a header value (1 to 256 printable ASCII characters),
 * else the SHA-256 of the key's UTF-8 bytes in lower-case hex (64
 * characters), so that the same key always maps to the same session; a fresh
 * UUID without a key. The key itself stays in the body unchanged.
 *
 * A key with CR/LF, non-ASCII characters or more than 256 characters would
 * make fetch refuse the header (every attempt failing as a network error) or
 * send an oversized one.
 *
 * @param promptCacheKey the request's `prompt_cache_key`, if any
 * @returns the session id
 *
 * @example
 * ```ts
 * import { upstreamSessionId } from "./request.ts";
 *
 * console.log(await upstreamSessionId("conv-1")); // "conv-1"
 * console.log((await upstreamSessionId("café-session")).length); // 64
 * ```
 */
export async function upstreamSessionId(
  promptCacheKey: string | undefined,
): Promise<string> {
  if (promptCacheKey === undefined) return crypto.randomUUID();
  if (HEADER_SAFE.test(promptCacheKey)) return promptCacheKey;
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(promptCacheKey),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * The upstream body for a shaped request, as JSON text.
 *
 * When shaping kept every field of the buyer's object as it was and only
 * added fields (the common case: `store: false`), it is the buyer's own text
 * with those fields appended before the closing brace, so that a large
 * conversation is not serialised again; otherwise the shaped object
 * serialised. Both parse to the same object, and the buyer's numbers keep
 * their exact digits on the common path. A text that names a key twice in
 * one object, at any depth, is never sent: `JSON.parse` kept the last value,
 * which is what was checked and priced, while the backend's parser might
 * take the first (`{"model":"gpt-5.4","model":"gpt-5.4-mini"}`); the shaped
 * object is serialised instead.
 *
 * @param buyer the buyer's body, as {@linkcode readRequestJson} read it
 * @param upstream the `body` {@linkcode shapeRequest} returned for `buyer.value`
 * @returns the JSON text to send
 *
 * @example
 * ```ts
 * import { encodeUpstreamBody, readRequestJson, shapeRequest } from "./request.ts";
 *
 * const buyer = readRequestJson(
 *   new TextEncoder().encode('{"model":"gpt-5.4","instructions":"Hi","stream":true}'),
 *   1024,
 * );
 * const { body } = shapeRequest(buyer.value, {
 *   defaultInstructions: "",
 *   aliasMap: {},
 *   allowedServices: [],
 * });
 * console.log(encodeUpstreamBody(buyer, body));
 * // {"model":"gpt-5.4","instructions":"Hi","stream":true,"store":false}
 * ```
 */
export function encodeUpstreamBody(
  buyer: BuyerJson,
  upstream: Record<string, unknown>,
): string {
  const { text, value } = buyer;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(upstream, key) || upstream[key] !== value[key]) {
      return JSON.stringify(upstream);
    }
  }
  if (keysInText(text) !== keysIn(value)) return JSON.stringify(upstream);
  let added = "";
  for (const key of Object.keys(upstream)) {
    if (!Object.hasOwn(value, key)) {
      added += `,${JSON.stringify(key)}:${JSON.stringify(upstream[key])}`;
    }
  }
  if (added === "") return text;
  // The text parsed as an object, so its last character that is not JSON
  // whitespace is the closing brace; and an object with a model is not empty.
  const close = text.lastIndexOf("}");
  return `${text.slice(0, close)}${added}}`;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The keys a JSON text writes, counted from its colons: a `:` whose previous
 * character that is not JSON white space is an unescaped `"` ends a key.
 * Every key is counted once; a string value that starts with `:` (after
 * spaces) counts too, so the count may be above the keys, never below.
 * Compared with {@linkcode keysIn} of the parsed value, a difference means a
 * repeated key (or such a string): the caller then serialises, which is
 * always right. Cheap where it matters: the colons are found by the native
 * string search and the long strings of a conversation are skipped at its
 * speed (a 270 KB conversation: 10 µs against 280 µs to serialise it; a body
 * of 3,000 small keys: 70 µs against 130 µs).
 */
function keysInText(text: string): number {
  let count = 0;
  for (
    let colon = text.indexOf(":");
    colon >= 0;
    colon = text.indexOf(":", colon + 1)
  ) {
    let at = colon - 1;
    let code = text.charCodeAt(at);
    while (code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09) {
      code = text.charCodeAt(--at);
    }
    if (code !== QUOTE) continue;
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) count++;
  }
  return count;
}

/**
 * The keys of a parsed JSON value, its nested objects' included (a walk
 * with its own stack: nesting depth is the buyer's choice).
 */
function keysIn(value: unknown): number {
  let count = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== "object" || next === null) continue;
    if (Array.isArray(next)) {
      for (const item of next) {
        if (typeof item === "object" && item !== null) pending.push(item);
      }
      continue;
    }
    // `for...in` (no array per object); an inherited enumerable key could
    // only raise the count, which errs towards serialising.
    for (const key in next) {
      count++;
      const item = (next as Record<string, unknown>)[key];
      if (typeof item === "object" && item !== null) pending.push(item);
    }
  }
  return count;
}

/** Who the provider speaks as upstream: the Codex CLI's identity headers. */
export interface UpstreamIdentity {
  /** `originator` header, e.g. `codex_cli_rs`. */
  originator: string;
  /** `version` header: the Codex CLI version, e.g. `0.171.0`. */
  version: string;
  /** `user-agent` header, in the Codex CLI's form. */
  userAgent: string;
}

/** What {@linkcode upstreamIdentity} needs to know of the machine. */
export interface MachineInfo {
  /** Operating system name, e.g. `Linux`. */
  os: string;
  /** Its version, e.g. `6.1.0`. */
  osVersion: string;
  /** Processor architecture, e.g. `x86_64`. */
  arch: string;
}

/**
 * What this machine is, for the user-agent: `os.type()`, `os.release()` and
 * `os.machine()`.
 *
 * @example
 * ```ts
 * import { machineInfo } from "./request.ts";
 * console.log(machineInfo().os); // e.g. "Linux"
 * ```
 */
export function machineInfo(): MachineInfo {
  return { os: type(), osVersion: release(), arch: machine() };
}

/**
 * The identity headers of the Codex CLI at `version` with `originator`: its
 * user-agent form `<originator>/<version> (<os> <os version>; <arch>)
 * <terminal>`, where the terminal part names this provider.
 *
 * @example
 * ```ts
 * import { upstreamIdentity } from "./request.ts";
 * const identity = upstreamIdentity("codex_cli_rs", "0.171.0", {
 *   os: "Linux",
 *   osVersion: "6.1.0",
 *   arch: "x86_64",
 * });
 * console.log(identity.userAgent.startsWith("codex_cli_rs/0.171.0 (Linux 6.1.0; x86_64) ")); // true
 * ```
 */
export function upstreamIdentity(
  originator: string,
  version: string,
  machine: MachineInfo,
): UpstreamIdentity {
  // Printable ASCII only: header values must not fail on an odd OS string.
  const clean = (text: string) => text.replace(/[^\x20-\x7e]/g, "").trim();
  return {
    originator,
    version,
    userAgent: `${originator}/${version} (${clean(machine.os)} ${
      clean(machine.osVersion)
    }; ${
      clean(machine.arch)
    }) antseed-provider-openai-responses/${VERSION} (${originator}; ${version})`,
  };
}

/**
 * The identity of a provider with the default configuration, for callers
 * that do not pass one (tests, tools).
 */
const DEFAULT_IDENTITY: UpstreamIdentity = upstreamIdentity(
  DEFAULT_ORIGINATOR,
  DEFAULT_CLIENT_VERSION,
  { os: "unknown", osVersion: "0", arch: "unknown" },
);

/**
 * The headers of one backend request, exactly the Codex CLI's over HTTP:
 * `authorization`, `chatgpt-account-id`, `content-type`, `accept`,
 * `originator`, `version`, `user-agent`, and the conversation as
 * `session-id` and `thread-id`, and the login's per-request identity
 * headers when given (`x-client-request-id`, `x-codex-window-id`,
 * `x-codex-turn-metadata`, `x-codex-beta-features`, see
 * ./login_identity.ts). No `openai-beta` (the CLI sends it only on its
 * WebSocket handshake). Nothing of the buyer is included.
 *
 * @param token the seller's access token and account id
 * @param sessionId the conversation id (from {@linkcode upstreamSessionId})
 * @param identity who the provider speaks as (default: Codex CLI 0.171.0)
 * @param turn the login's identity headers of this request, if any
 * @returns the header record
 *
 * @example
 * ```ts
 * import { buildUpstreamHeaders } from "./request.ts";
 *
 * const headers = buildUpstreamHeaders(
 *   { accessToken: "token", accountId: "account" },
 *   crypto.randomUUID(),
 * );
 * console.log(headers.accept); // "text/event-stream"
 * ```
 */
export function buildUpstreamHeaders(
  token: UpstreamToken,
  sessionId: string,
  identity: UpstreamIdentity = DEFAULT_IDENTITY,
  turn?: Record<string, string>,
): Record<string, string> {
  return {
    ...turn,
    "authorization": `Bearer ${token.accessToken}`,
    "chatgpt-account-id": token.accountId,
    "content-type": "application/json",
    "accept": "text/event-stream",
    "originator": identity.originator,
    "version": identity.version,
    "user-agent": identity.userAgent,
    "session-id": sessionId,
    "thread-id": sessionId,
  };
}

function readService(
  body: Record<string, unknown>,
  allowed: readonly string[],
): string {
  const field = body.service !== undefined && body.service !== null
    ? "service"
    : "model";
  const value = body[field];
  if (value === undefined || value === null) {
    throw new RelayError(
      400,
      "missing_model",
      'Expected a "model" (or "service") string in the request body, found none',
    );
  }
  if (typeof value !== "string") {
    throw new RelayError(
      400,
      "invalid_request",
      `Expected "${field}" to be a string, found ${describe(value)}`,
    );
  }
  const service = value.trim();
  if (service === "") {
    throw new RelayError(
      400,
      "missing_model",
      `Expected "${field}" to be a non-empty string, found an empty string`,
    );
  }
  if (allowed.length > 0 && !allowed.includes(service)) {
    throw new RelayError(
      400,
      "model_not_allowed",
      `Expected "${field}" to be one of ${
        allowed.map((name) => `"${name}"`).join(", ")
      }, found "${truncate(service, 100)}"`,
    );
  }
  return service;
}

/** The longest `prompt_cache_key` api.openai.com accepts. */
export const MAX_PROMPT_CACHE_KEY_LENGTH = 64;

/** Light type checks: enough that shaping never throws a TypeError and the buyer gets a clear 400. */
function validateShapes(body: Record<string, unknown>): void {
  const input = body.input;
  if (input !== undefined && typeof input !== "string") {
    if (!Array.isArray(input)) {
      throw invalid("input", "a string or an array", input);
    }
    input.forEach((item, index) => {
      if (!isRecord(item)) {
        throw invalid(`input[${index}]`, "an object", item);
      }
    });
  }
  for (const name of ["tools", "include"]) {
    const value = body[name];
    if (value !== undefined && value !== null && !Array.isArray(value)) {
      throw invalid(name, "an array", value);
    }
  }
  for (const name of ["reasoning", "text", "metadata"]) {
    const value = body[name];
    if (value !== undefined && value !== null && !isRecord(value)) {
      throw invalid(name, "an object", value);
    }
  }
  const key = body.prompt_cache_key;
  if (key !== undefined && key !== null) {
    if (typeof key !== "string") {
      throw invalid("prompt_cache_key", "a string", key);
    }
    // As api.openai.com refuses it. The key never goes upstream as it is
    // (../provider/buyer_scope.ts), but it is echoed in every lifecycle event
    // (./echo.ts): unbounded, one request of 16 MiB came back as 48 MiB.
    if (key.length > MAX_PROMPT_CACHE_KEY_LENGTH) {
      throw new RelayError(
        400,
        "string_above_max_length",
        `Expected "prompt_cache_key" to be a string of at most ${MAX_PROMPT_CACHE_KEY_LENGTH} characters, found one of ${key.length}`,
        { details: { param: "prompt_cache_key" } },
      );
    }
  }
  const toolChoice = body.tool_choice;
  if (
    toolChoice !== undefined && toolChoice !== null &&
    typeof toolChoice !== "string" && !isRecord(toolChoice)
  ) {
    throw invalid("tool_choice", "a string or an object", toolChoice);
  }
}

/**
 * Drops `item_reference` items, copies items that carry an `id` without it,
 * and turns `system` messages into `developer` messages. Returns `items`
 * itself when none of that applies, so that an unchanged input is recognised
 * by identity ({@linkcode encodeUpstreamBody}).
 */
function cleanInput(
  items: readonly Record<string, unknown>[],
): readonly Record<string, unknown>[] {
  let cleaned: Record<string, unknown>[] | undefined;
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const kept = cleanItem(item);
    if (kept !== item && cleaned === undefined) {
      cleaned = items.slice(0, index);
    }
    if (cleaned !== undefined && kept !== undefined) cleaned.push(kept);
  }
  return cleaned ?? items;
}

function cleanItem(
  item: Record<string, unknown>,
): Record<string, unknown> | undefined {
  if (item.type === "item_reference") return undefined;
  const toDeveloper = item.role === "system" && isMessage(item);
  if (!toDeveloper && !Object.hasOwn(item, "id")) return item;
  const { id: _id, ...rest } = item;
  const copy = Object.hasOwn(item, "id") ? rest : { ...item };
  if (toDeveloper) copy.role = "developer";
  return copy;
}

function isMessage(item: Record<string, unknown>): boolean {
  return item.type === undefined || item.type === null ||
    item.type === "message";
}

/** The text of a leading instruction message, or undefined when it holds anything but text. */
function instructionText(item: Record<string, unknown>): string | undefined {
  if (!isMessage(item)) return undefined;
  if (item.role !== "system" && item.role !== "developer") return undefined;
  const content = item.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return undefined;
  const texts: string[] = [];
  for (const part of content) {
    if (
      !isRecord(part) || typeof part.type !== "string" ||
      !TEXT_PART_TYPES.has(part.type) || typeof part.text !== "string"
    ) {
      return undefined;
    }
    texts.push(part.text);
  }
  return texts.join(INSTRUCTIONS_PART_SEPARATOR);
}

function takeLeadingInstructions(
  items: readonly Record<string, unknown>[],
): { text: string; rest: readonly Record<string, unknown>[] } {
  const texts: string[] = [];
  let index = 0;
  for (; index < items.length; index++) {
    const text = instructionText(items[index]);
    if (text === undefined) break;
    if (text !== "") texts.push(text);
  }
  return {
    text: texts.join(INSTRUCTIONS_MESSAGE_SEPARATOR),
    rest: index === 0 ? items : items.slice(index),
  };
}

function invalid(field: string, expected: string, found: unknown): RelayError {
  return new RelayError(
    400,
    "invalid_request",
    `Expected "${field}" to be ${expected}, found ${describe(found)}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  if (typeof value === "number") return `the number ${value}`;
  if (typeof value === "boolean") return `the boolean ${value}`;
  return `a value of type ${typeof value}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
