/**
 * What the simulated Codex backend rejects before answering: authentication
 * first, then the body rules of the real backend, with its exact texts.
 *
 * @module
 */

import { decodeJwt } from "jose";
import { AUTH_CLAIM } from "./jwt.ts";
import { isRecord } from "../json.ts";
import { compactionItemRejection } from "./_fake_compaction.ts";

/** An HTTP answer that refuses a request. */
export interface Rejection {
  /** HTTP status. */
  status: number;
  /** JSON body. */
  body: Record<string, unknown>;
}

/** Parameters the backend refuses with `Unsupported parameter: <name>`, in the order checked. */
export const UNSUPPORTED_PARAMETERS: readonly string[] = [
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
  "service_tier",
  // Works only inside one WebSocket connection; over HTTP the backend
  // refuses it like any unsupported field.
  "previous_response_id",
];

const UNAUTHORIZED: Rejection = {
  status: 401,
  body: { detail: "Unauthorized" },
};

const TOKEN_EXPIRED: Rejection = {
  status: 401,
  body: {
    error: {
      message:
        "Provided authentication token is expired. Please try signing in again.",
      code: "token_expired",
    },
  },
};

function detail(status: number, text: string): Rejection {
  return { status, body: { detail: text } };
}

/** Claims of a token when it decodes as a JWT, else `undefined`. */
export function tokenClaims(
  token: string,
): Record<string, unknown> | undefined {
  try {
    return decodeJwt(token) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The object at the `https://api.openai.com/auth` claim, or `{}`. */
export function authClaim(
  claims: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const value = claims?.[AUTH_CLAIM];
  return typeof value === "object" && value !== null
    ? value as Record<string, unknown>
    : {};
}

/** The bearer token of an `authorization` header, or `undefined`. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1];
}

/** The default token check: an unexpired JWT issued for `accountId`. */
export function defaultAcceptToken(
  token: string,
  accountId: string | null,
  nowMs: number,
): boolean {
  const claims = tokenClaims(token);
  if (claims === undefined || accountId === null) return false;
  if (typeof claims.exp !== "number" || claims.exp * 1000 <= nowMs) {
    return false;
  }
  return authClaim(claims).chatgpt_account_id === accountId;
}

/** Options of {@linkcode checkAuth}. */
export interface CheckAuthOptions {
  /** The caller's token check; default {@linkcode defaultAcceptToken}. */
  acceptToken?: (token: string, accountId: string | null) => boolean;
  /** Current time in milliseconds. */
  nowMs: number;
}

/** The 401 answer for a request's credentials, or `undefined` when they pass. */
export function checkAuth(
  headers: Record<string, string>,
  options: CheckAuthOptions,
): Rejection | undefined {
  const token = bearerToken(headers["authorization"]);
  if (token === undefined) return UNAUTHORIZED;
  const accountId = headers["chatgpt-account-id"] || null;
  const exp = tokenClaims(token)?.exp;
  if (typeof exp === "number" && exp * 1000 <= options.nowMs) {
    return TOKEN_EXPIRED;
  }
  const accepted = options.acceptToken
    ? options.acceptToken(token, accountId)
    : defaultAcceptToken(token, accountId, options.nowMs);
  return accepted ? undefined : UNAUTHORIZED;
}

/** The backend's 404 for an input item id it never stored (the spec's exact body). */
function notPersisted(id: string): Rejection {
  return {
    status: 404,
    body: {
      error: {
        message:
          `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`,
        type: "invalid_request_error",
        param: "input",
        code: null,
      },
    },
  };
}

/**
 * Prefix the backend expects of an input item's `id`, by item type (an item
 * without `type` is a message). Types the spec names no prefix for (e.g.
 * `function_call_output`, whose ids the Codex CLI makes as `fco_…`) get the
 * length check only.
 */
const ID_PREFIXES: Readonly<Record<string, string>> = {
  message: "msg",
  reasoning: "rs",
  function_call: "fc",
  custom_tool_call: "ctc",
  custom_tool_call_output: "ctco",
};
const MAX_ID_LENGTH = 64;

function invalidId(index: number, message: string): Rejection {
  return {
    status: 400,
    body: {
      error: {
        message,
        type: "invalid_request_error",
        param: `input[${index}].id`,
        code: "invalid_value",
      },
    },
  };
}

/**
 * The 400 for a malformed input item id, else `undefined`. The spec marks
 * the details unconfirmed (the exact texts, and which types have which
 * prefix); what matters for a relay is that any id at all is refused, 400
 * here or 404 in {@linkcode idRejection}.
 */
function idFormatRejection(
  item: Record<string, unknown>,
  index: number,
): Rejection | undefined {
  const id = item.id;
  if (id === undefined || id === null || item.type === "item_reference") {
    return undefined;
  }
  const where = `'input[${index}].id'`;
  if (typeof id !== "string") {
    return invalidId(
      index,
      `Invalid type for ${where}: expected a string, but got ${
        Array.isArray(id) ? "an array" : `a ${typeof id}`
      } instead.`,
    );
  }
  if (id.length > MAX_ID_LENGTH) {
    return invalidId(
      index,
      `Invalid ${where}: string too long. Expected a string with maximum length ${MAX_ID_LENGTH}, but got a string with length ${id.length} instead.`,
    );
  }
  const prefix =
    ID_PREFIXES[typeof item.type === "string" ? item.type : "message"];
  if (prefix !== undefined && !id.startsWith(`${prefix}_`)) {
    return invalidId(
      index,
      `Invalid ${where}: '${id}'. Expected an ID that begins with '${prefix}'.`,
    );
  }
  return undefined;
}

/**
 * The 404 for the first input item that refers to a stored item: any item
 * with an `id`, and every `item_reference`. This is the strict reading of
 * the spec (with `store: false` nothing is stored, so every id is unknown);
 * the lenient one (only ids the backend must resolve: references and
 * reasoning items without `encrypted_content`) refuses a subset of these,
 * so a relay that passes this check passes either.
 */
function idRejection(items: readonly unknown[]): Rejection | undefined {
  for (const item of items) {
    if (!isRecord(item)) continue;
    if (typeof item.id === "string") return notPersisted(item.id);
    if (item.type === "item_reference") return notPersisted(String(item.id));
  }
  return undefined;
}

/**
 * Parses and checks a `POST /codex/responses` body the way the real backend
 * does. Returns the body, or the rejection of the first rule broken.
 */
export function validateBody(
  text: string,
  models: readonly string[],
  responsesLite: readonly string[] = [],
): { body: Record<string, unknown> } | { rejection: Rejection } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {
      rejection: detail(
        400,
        "Invalid request body: expected a JSON object, found text that is not JSON",
      ),
    };
  }
  if (!isRecord(body)) {
    return {
      rejection: detail(
        400,
        `Invalid request body: expected a JSON object, found ${
          Array.isArray(body) ? "an array" : typeof body
        }`,
      ),
    };
  }
  const rejection = checkRules(body, models, responsesLite);
  return rejection ? { rejection } : { body };
}

function checkRules(
  body: Record<string, unknown>,
  models: readonly string[],
  responsesLite: readonly string[],
): Rejection | undefined {
  // The Codex CLI sends a responses-lite model `instructions: ""` (its
  // instructions go in a developer message): accepted for those models only.
  const lite = responsesLite.includes(body.model as string);
  if (
    typeof body.instructions !== "string" ||
    (body.instructions === "" && !lite)
  ) {
    return detail(400, "Instructions are required");
  }
  if (body.store !== false) return detail(400, "Store must be set to false");
  if (body.stream !== true) return detail(400, "Stream must be set to true");
  for (const name of UNSUPPORTED_PARAMETERS) {
    if (!(name in body)) continue;
    if (name === "service_tier" && body.service_tier === "priority") continue;
    return detail(400, `Unsupported parameter: ${name}`);
  }
  const input = body.input;
  if (
    input !== undefined && typeof input !== "string" && !Array.isArray(input)
  ) {
    return detail(
      400,
      `Invalid input: expected a string or a list of items, found ${
        input === null ? "null" : typeof input
      }`,
    );
  }
  const items = Array.isArray(input) ? input : [];
  if (items.some((item) => isRecord(item) && item.role === "system")) {
    return detail(400, "System messages are not allowed");
  }
  if (typeof body.model !== "string" || body.model === "") {
    return detail(400, "Model is required");
  }
  if (!models.includes(body.model)) {
    return detail(
      400,
      `The '${body.model}' model is not supported when using Codex with a ChatGPT account.`,
    );
  }
  for (let index = 0; index < items.length; index++) {
    const item = items[index];
    const rejection = isRecord(item)
      ? idFormatRejection(item, index) ?? compactionItemRejection(item, index)
      : undefined;
    if (rejection !== undefined) return rejection;
  }
  return idRejection(items);
}
