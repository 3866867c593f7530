/**
 * A buyer's request made ready for the backend: its body decoded (a
 * compressed body, as the Codex CLI sends), read, expanded with the stored
 * responses it refers to (`previous_response_id`, `item_reference`), shaped
 * and encoded, with its upstream session id. Only strings and what a later
 * store of the turn needs are kept, and the shaped object until an exchange
 * opens (an attempt in the responses-lite shape is built from it), so that
 * the parsed body is not held while the answer streams.
 *
 * @module
 */

import { Pacer } from "../async.ts";
import { type EchoFields, echoFieldsOf } from "../codex/echo.ts";
import { checkJsonValueCount, MAX_JSON_VALUES } from "../codex/json_values.ts";
import { replaceMember } from "../codex/member_text.ts";
import { stringifyPaced } from "../codex/paced_json.ts";
import {
  type BuyerJson,
  encodeUpstreamBody,
  readRequestJson,
  shapeRequest,
} from "../codex/request.ts";
import { fromResponsesLite } from "../codex/responses_lite.ts";
import type { ProviderSettings } from "../config.ts";
import { RelayError } from "../errors.ts";
import type { ChatTranslation } from "../protocols/chat_request.ts";
import type { Route } from "./routes.ts";
import type { SerializedHttpRequest } from "../host_types.ts";
import type { UpstreamRequest } from "../relay.ts";
import type { ResponseStore } from "../state/response_store.ts";
import { upstreamConversation } from "./buyer_scope.ts";

/** Header the AntSeed node sets to the buyer's peer id: the scope of stored responses. */
export const BUYER_HEADER = "x-antseed-buyer-peer-id";

/**
 * Scope in which a request that names no buyer expands: nothing is ever
 * stored under it, so such a request resolves no stored response (an
 * embedder that sets no buyer header must not let one caller continue
 * another's conversation).
 */
const NO_BUYER = "";

/** What storing the turn once it completes needs. */
export interface TurnToStore {
  /** The buyer the response belongs to. */
  scope: string;
  /** The turn's own input items. */
  input: readonly unknown[];
  /**
   * The request's body (decoded), when its `input` is exactly the turn's own
   * input (nothing was filled from the store): the turn can then be kept as
   * bytes, unread until referred to.
   */
  request?: Uint8Array;
  /** The response the turn continued, if any. */
  previousResponseId?: string;
}

/** A shaped buyer request, ready for the backend. */
export interface PreparedRequest extends UpstreamRequest {
  /** The requested service. */
  service: string;
  /** The upstream model (after the alias map and an effort alias). */
  model: string;
  /**
   * The conversation, for keeping it on one login: the upstream key of the
   * buyer's `prompt_cache_key`, else its session header (scoped), else none.
   */
  affinity?: string;
  /** Whether the buyer asked for a stream. */
  stream: boolean;
  /** Parameters removed because the backend does not accept them. */
  dropped: string[];
  /** Set when the finished response is to be kept for later turns. */
  store?: TurnToStore;
  /** For a Chat Completions buyer: whether it asked for the usage chunk. */
  chat?: { includeUsage: boolean };
  /** For a Responses buyer: the fields its Response object echoes as it sent them. */
  echo?: EchoFields;
}

/** The settings {@linkcode prepareRequest} reads. */
export type PrepareSettings = Pick<
  ProviderSettings,
  | "maxBodyBytes"
  | "defaultInstructions"
  | "aliasMap"
  | "allowedServices"
  | "effortAliases"
>;

/**
 * A request header by name, whatever the case the host used (names usually
 * arrive lower-case; a custom buyer may send any case).
 *
 * @example
 * ```ts
 * import { headerOf } from "./prepare.ts";
 * console.log(headerOf({ "Content-Encoding": "gzip" }, "content-encoding")); // "gzip"
 * ```
 */
export function headerOf(
  headers: Record<string, string>,
  name: string,
): string | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const key in headers) {
    if (key.toLowerCase() === name) return headers[key];
  }
  return undefined;
}

/**
 * Decodes, reads, expands and shapes a buyer's request. Throws the 4xx
 * `RelayError` of a request that cannot be served: a body too large (also
 * once decoded, or once expanded from the store), of more JSON values than
 * `MAX_JSON_VALUES`, in an unknown encoding or corrupt, not JSON, without a
 * model, with a model not allowed, a field of the wrong type, a
 * `previous_response_id` the store does not know, a `conversation`.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { prepareRequest } from "./prepare.ts";
 *
 * const prepared = await prepareRequest({
 *   requestId: "r1",
 *   method: "POST",
 *   path: "/v1/responses",
 *   headers: { "content-type": "application/json" },
 *   body: new TextEncoder().encode('{"model":"gpt-5.4","input":"Hi"}'),
 * }, parseConfig({}));
 * console.log(prepared.service, prepared.stream); // "gpt-5.4" false
 * ```
 */
export async function prepareRequest(
  req: SerializedHttpRequest,
  settings: PrepareSettings,
  store?: ResponseStore,
  route: Route = "responses",
): Promise<PreparedRequest> {
  try {
    return await prepare(req, settings, store, route);
  } catch (error) {
    // On Node, JSON.stringify (and any walk of the value) overflows the
    // stack on a value nested about 10,000 deep, which JSON.parse took: the
    // buyer's body, not the provider, is at fault.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new RelayError(
        400,
        "invalid_request",
        "Expected a JSON body nested less deeply: it could not be written again",
      );
    }
    throw error;
  }
}

async function prepare(
  req: SerializedHttpRequest,
  settings: PrepareSettings,
  store: ResponseStore | undefined,
  route: Route,
): Promise<PreparedRequest> {
  const encoding = headerOf(req.headers, "content-encoding");
  // Shared by the decoding and the value count of one body.
  let pacer: Pacer | undefined;
  // The decoders are loaded on the first compressed body.
  const body = encoding === undefined || encoding.trim() === ""
    ? req.body
    : await (await import("../codex/content_encoding.ts")).decodeRequestBody(
      req.body,
      encoding,
      settings.maxBodyBytes,
      { pacer: pacer = new Pacer() },
    );
  // JSON.parse cannot yield: a body of millions of tiny values is refused
  // before it. A body too short to hold that many (the common case) is not
  // looked at, nor one that readRequestJson refuses for its size.
  if (
    body.byteLength > MAX_JSON_VALUES &&
    body.byteLength <= settings.maxBodyBytes
  ) {
    await checkJsonValueCount(body, MAX_JSON_VALUES, pacer);
  }
  const buyer = readRequestJson(body, settings.maxBodyBytes);
  const peer = headerOf(req.headers, BUYER_HEADER);
  const scope = peer === undefined || peer === "" ? NO_BUYER : peer;
  let value = buyer.value;
  let toStore: TurnToStore | undefined;
  let chat: ChatTranslation | undefined;
  if (route === "chat_completions") {
    // Chat Completions keeps no state on OpenAI either: nothing to expand
    // or store. The translation is loaded with the first such request.
    const { chatToResponsesRequest } = await import(
      "../protocols/chat_request.ts"
    );
    chat = await chatToResponsesRequest(value, pacer ??= new Pacer());
    value = chat.body;
  } else if (store) {
    // The request as it goes upstream stays within the body limit.
    const expanded = await store.expand(scope, value, {
      maxBodyBytes: settings.maxBodyBytes,
      bodyBytes: body.byteLength,
    });
    value = expanded.body;
    // As on api.openai.com, a response is stored unless the request says
    // `store: false` (such clients, like the Codex CLI, send their whole
    // conversation each turn).
    // A turn filled in past the buyer's share would not be kept: it is not
    // serialised for the store either (60 references to a 1 MB item: 0.3 s).
    if (
      store.enabled && scope !== NO_BUYER && buyer.value.store !== false &&
      expanded.filledBytes <= store.maxBuyerBytes
    ) {
      toStore = { scope, input: expanded.turnInput };
      if (expanded.filledItems === 0 && expanded.droppedItems === 0) {
        toStore.request = body;
      }
      if (expanded.previousResponseId !== undefined) {
        toStore.previousResponseId = expanded.previousResponseId;
      }
    }
  }
  // A buyer in the responses-lite shape is shaped as a classic one; each
  // attempt takes the shape its login's catalog gives the model.
  value = fromResponsesLite(value);
  const shaped = shapeRequest(value, {
    defaultInstructions: settings.defaultInstructions,
    aliasMap: settings.aliasMap,
    allowedServices: settings.allowedServices,
    effortAliases: settings.effortAliases,
    includeEncryptedReasoning: toStore !== undefined,
  });
  const conversation = await upstreamConversation({
    scope,
    promptCacheKey: shaped.promptCacheKey,
    sessionHeader: headerOf(req.headers, "session-id") ??
      headerOf(req.headers, "session_id"),
  });
  const prepared: PreparedRequest = {
    service: shaped.service,
    model: shaped.model,
    stream: chat ? chat.stream : shaped.stream,
    dropped: chat ? [...chat.dropped, ...shaped.dropped] : shaped.dropped,
    body: value === buyer.value
      ? upstreamBody(buyer, shaped.body, conversation.key)
      : await writtenBody(
        shaped.body,
        conversation.key,
        settings.maxBodyBytes,
        pacer ??= new Pacer(),
        chat ? "translated" : "shaped",
      ),
    sessionId: conversation.key,
    // Kept until an exchange opens, for an attempt in the responses-lite shape.
    shaped: shaped.body,
  };
  // The lite shape is built from the object: the buyer's own key must not
  // go upstream that way either (set after the text, which compares it).
  shaped.body.prompt_cache_key = conversation.key;
  if (conversation.affinity !== undefined) {
    prepared.affinity = conversation.affinity;
  }
  if (toStore) prepared.store = toStore;
  if (chat) prepared.chat = { includeUsage: chat.includeUsage };
  else prepared.echo = echoFieldsOf(buyer.value);
  return prepared;
}

/** How a body that is not the buyer's own text came to be, and what the buyer can do past the limit. */
const WRITTEN = {
  translated: ["translated for the backend", "send fewer or shorter messages"],
  shaped: [
    "its stored items are filled in and it is shaped for the backend",
    "refer to fewer stored items, or send a shorter conversation",
  ],
} as const;

/**
 * The upstream body of a request whose body is not the buyer's own text (a
 * translated Chat Completions request; a Responses request filled in from
 * the stored responses) as JSON text, with `prompt_cache_key` set to the
 * buyer-scoped `key` (in `upstream` too). It is written with yields
 * ({@linkcode stringifyPaced}): a Chat body of 150,000 small messages
 * translates to 11.7 MB, 60 references to a stored 1 MB item make 60 MB,
 * and `JSON.stringify` of either in one step held the event loop 0.1-0.7 s.
 * It may not pass the body limit: 413 `request_too_large`, at the item that
 * passes it (for a filled-in body the store counted the expansion already).
 *
 * @param upstream the shaped body
 * @param key the buyer-scoped `prompt_cache_key`
 * @param maxBodyBytes the body limit, in UTF-8 bytes
 * @param pacer paces the writing
 * @param how how the body came to be, for the words of the 413
 * @returns the JSON text
 *
 * @example
 * ```ts
 * import { Pacer } from "../async.ts";
 * import { writtenBody } from "./prepare.ts";
 * const text = await writtenBody(
 *   { model: "gpt-5.4", input: [{ type: "message", role: "user", content: "Hi" }] },
 *   "key-1",
 *   1024,
 *   new Pacer(),
 * );
 * console.log(text);
 * // {"model":"gpt-5.4","input":[{"type":"message","role":"user","content":"Hi"}],"prompt_cache_key":"key-1"}
 * ```
 */
export function writtenBody(
  upstream: Record<string, unknown>,
  key: string,
  maxBodyBytes: number,
  pacer: Pacer,
  how: keyof typeof WRITTEN = "translated",
): Promise<string> {
  upstream.prompt_cache_key = key;
  const [what, fix] = WRITTEN[how];
  return stringifyPaced(
    upstream,
    maxBodyBytes,
    pacer,
    (bytes) =>
      new RelayError(
        413,
        "request_too_large",
        `Expected a request body of at most ${maxBodyBytes} bytes once ${what}, found at least ${bytes} bytes; ${fix}`,
      ),
  );
}

/**
 * The upstream body of a request whose body is the buyer's own as JSON
 * text, with `prompt_cache_key` set to the buyer-scoped `key`: the buyer's
 * text keeps being sent (the key added, or its value replaced in the text;
 * see `encodeUpstreamBody` for when it is serialised instead), so that a
 * large conversation is not serialised again for it.
 */
function upstreamBody(
  buyer: BuyerJson,
  upstream: Record<string, unknown>,
  key: string,
): string {
  if (!Object.hasOwn(upstream, "prompt_cache_key")) {
    upstream.prompt_cache_key = key;
    return encodeUpstreamBody(buyer, upstream);
  }
  const replaced = replaceMember(
    encodeUpstreamBody(buyer, upstream),
    "prompt_cache_key",
    JSON.stringify(key),
  );
  if (replaced !== undefined) return replaced;
  upstream.prompt_cache_key = key;
  return JSON.stringify(upstream);
}
