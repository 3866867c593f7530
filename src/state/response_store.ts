/**
 * The bounded, per-buyer store of finished responses that makes
 * `previous_response_id` and `item_reference` work on a backend that keeps
 * nothing (the Codex backend requires `store: false`).
 *
 * After a completed response whose request did not say `store: false`, the
 * provider {@linkcode ResponseStore.put}s the turn: its own input items and
 * the output items the backend streamed (reasoning items with their
 * `encrypted_content`), under the backend's `response.id` and the items'
 * ids, within the buyer's scope. Before shaping the next request,
 * {@linkcode ResponseStore.expand} replaces `previous_response_id` by the
 * stored conversation and fills `item_reference`s and id-only reasoning
 * items from the store.
 *
 * Bounds: each turn is kept as the JSON text of its items (parsed again
 * when used), counted as the memory that string takes (one byte a
 * character, two when it holds a character beyond Latin-1), plus a fixed
 * cost per response, per item, per indexed id and per buyer, measured on V8;
 * at most `maxBytes` in all, the least recently used response evicted first.
 * A response not used for `ttlMs` is dropped.
 * Scopes never see each other's ids.
 *
 * @module
 */

import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";

/** Default bound of a store: 64 MiB. */
export const DEFAULT_RESPONSE_STORE_MAX_BYTES = 64 * 1024 * 1024;

/** Default time a response is kept after its last use: one hour. */
export const DEFAULT_RESPONSE_STORE_TTL_MS = 3_600_000;

/**
 * Bytes counted per stored response besides its items' JSON: the entry, its
 * slots in the recency set and the scope's index, its arrays and the
 * headers of its strings. Measured on V8 (Deno with compressed pointers,
 * Node without) with `--expose-gc` over 10,000 responses, and rounded up.
 */
const ENTRY_OVERHEAD = 768;
/** Bytes counted per item besides its JSON: its end offset, id slot and comma. */
const ITEM_OVERHEAD = 24;
/** Bytes counted per indexed item id besides its characters: a map slot and a string header. */
const INDEXED_ID_OVERHEAD = 128;
/** Bytes counted per buyer scope: its object, two maps and a slot in the scope map. */
const SCOPE_OVERHEAD = 640;

/** Options of {@linkcode ResponseStore}. */
export interface ResponseStoreOptions {
  /** Bound of what is kept, in bytes (default 64 MiB); 0 turns the store off. */
  maxBytes?: number;
  /** Time a response is kept after its last use, in ms (default one hour); 0 turns the store off. */
  ttlMs?: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/** One finished turn, as {@linkcode ResponseStore.put} keeps it. */
export interface StoredTurn {
  /** The backend's `response.id` (what the buyer saw). */
  responseId: string;
  /** The turn's own input items (`ExpandResult.turnInput`); items that are not objects are left out. */
  input: readonly unknown[];
  /** The output items as the backend sent them, ids included. */
  output: readonly unknown[];
  /** The `previous_response_id` the turn continued (`ExpandResult.previousResponseId`). */
  previousResponseId?: string;
}

/** What {@linkcode ResponseStore.expand} made of a request. */
export interface ExpandResult {
  /**
   * The body to shape: the request itself when nothing needed the store,
   * else a copy with the stored conversation in `input` and without
   * `previous_response_id`.
   */
  body: Record<string, unknown>;
  /** Whether `body` differs from the request. */
  changed: boolean;
  /** The `previous_response_id` that was expanded, for {@linkcode StoredTurn.previousResponseId}. */
  previousResponseId?: string;
  /**
   * The turn's own input items after filling (a string input as one user
   * message; the request's own array when nothing was filled), for
   * {@linkcode StoredTurn.input}.
   */
  turnInput: readonly unknown[];
  /** Items of the stored conversation put before the request's own. */
  expandedItems: number;
  /** `item_reference`s and id-only reasoning items filled from the store. */
  filledItems: number;
  /** References and id-only reasoning items dropped because the store does not know them. */
  droppedItems: number;
}

interface Scope {
  readonly name: string;
  /** Response id -> entry. */
  readonly responses: Map<string, Entry>;
  /** Item id -> the newest entry holding an item with that id. */
  readonly items: Map<string, Entry>;
  /** Entries kept as raw bytes, not yet read (their items are not indexed). */
  readonly unread: Set<Entry>;
}

interface Entry {
  readonly scope: Scope;
  readonly responseId: string;
  readonly previousResponseId: string | undefined;
  /** The items' JSON texts joined with commas: input, then output. */
  json: string;
  /** End offset in `json` of each item. */
  ends: readonly number[];
  inputCount: number;
  /** Each item's id (`undefined` when it has none). */
  ids: readonly (string | undefined)[];
  bytes: number;
  lastUsed: number;
  /** A turn kept as it came ({@linkcode ResponseStore.putRaw}), until first read. */
  raw?: { request: string; response: string };
}

/**
 * A finished turn as bytes, for {@linkcode ResponseStore.putRaw}: read only
 * when a later turn refers to it, so that a response nobody refers back to
 * costs a copy of its text and no parsing.
 */
export interface RawTurn {
  /** The backend's `response.id`. */
  responseId: string;
  /** The buyer's request body (JSON): the turn's input is its `input`. */
  request: Uint8Array;
  /** The final Response object as JSON, or the data of the terminal event that carries it. */
  response: Uint8Array;
  /** The `previous_response_id` the turn continued. */
  previousResponseId?: string;
}

/** Bytes counted per raw entry besides its two texts. */
const RAW_OVERHEAD = 256;

const rawDecoder = new TextDecoder();

/** A character beyond Latin-1: one makes a string take two bytes a character. */
const TWO_BYTE = /[\u0100-\uffff]/;

/**
 * The memory a string takes in JavaScript engines (V8, JavaScriptCore):
 * one byte a character when every character is Latin-1, else two. Given
 * the UTF-8 length of the text it was decoded from, an ASCII text (as long
 * as its UTF-8) is known without looking at its characters.
 */
function stringBytes(text: string, utf8Length?: number): number {
  if (utf8Length === text.length) return text.length;
  return TWO_BYTE.test(text) ? 2 * text.length : text.length;
}

/** A turn's items as one JSON text, with where each ends and its id. */
interface SerializedItems {
  /** The items' JSON joined with one comma: item i ends at `ends[i]`. */
  json: string;
  ends: number[];
  ids: (string | undefined)[];
  /** How many of the items are the turn's input (they come first). */
  inputCount: number;
  /** Bytes counted for the items besides their text: per item, per indexed id. */
  bytes: number;
}

/** Serializes a turn's input and output items, leaving out references. */
function serializeItems(
  input: readonly unknown[],
  output: readonly unknown[],
): SerializedItems {
  const texts: string[] = [];
  const ends: number[] = [];
  const ids: (string | undefined)[] = [];
  let length = 0;
  let inputCount = 0;
  let bytes = 0;
  for (const [list, isInput] of [[input, true], [output, false]] as const) {
    for (const item of list) {
      if (!isRecord(item) || item.type === "item_reference") continue;
      const text = JSON.stringify(item);
      texts.push(text);
      length += (texts.length > 1 ? 1 : 0) + text.length;
      ends.push(length);
      const id = typeof item.id === "string" && item.id !== ""
        ? item.id
        : undefined;
      ids.push(id);
      bytes += ITEM_OVERHEAD;
      if (id !== undefined) bytes += INDEXED_ID_OVERHEAD + 2 * id.length;
      if (isInput) inputCount++;
    }
  }
  return { json: texts.join(","), ends, ids, inputCount, bytes };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return `a string of ${value.length} characters`;
  }
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

function hasEncryptedContent(item: Record<string, unknown>): boolean {
  return typeof item.encrypted_content === "string" &&
    item.encrypted_content !== "";
}

/**
 * Whether an input item stands for a stored item: an `item_reference`, or a
 * reasoning item that carries an id but no `encrypted_content` (the
 * backend would look the id up, and it keeps nothing).
 */
function needsStore(item: unknown): item is Record<string, unknown> {
  if (!isRecord(item)) return false;
  if (item.type === "item_reference") return true;
  return item.type === "reasoning" && Object.hasOwn(item, "id") &&
    !hasEncryptedContent(item);
}

/** Whether a stored item can be sent to the backend as it is. */
function usable(item: Record<string, unknown>): boolean {
  return item.type !== "reasoning" || hasEncryptedContent(item);
}

function turnItems(input: unknown): readonly unknown[] {
  if (Array.isArray(input)) return input;
  if (typeof input === "string") {
    return [{
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: input }],
    }];
  }
  return [];
}

/**
 * A bounded store of finished responses, per buyer scope, with least
 * recently used eviction and an idle time-to-live.
 *
 * @example
 * ```ts
 * import { ResponseStore } from "./response_store.ts";
 *
 * const store = new ResponseStore();
 * const first = store.expand("buyer-a", { model: "gpt-5.4", input: "Remember 42" });
 * store.put("buyer-a", {
 *   responseId: "resp_1",
 *   input: first.turnInput,
 *   output: [{
 *     id: "msg_1",
 *     type: "message",
 *     role: "assistant",
 *     content: [{ type: "output_text", text: "OK" }],
 *   }],
 * });
 * const next = store.expand("buyer-a", {
 *   model: "gpt-5.4",
 *   input: "Which number?",
 *   previous_response_id: "resp_1",
 * });
 * console.log((next.body.input as unknown[]).length); // 3
 * ```
 */
export class ResponseStore {
  /** Whether the store keeps anything (`maxBytes` and `ttlMs` above 0). */
  readonly enabled: boolean;
  /** Bound of what is kept, in bytes. */
  readonly maxBytes: number;
  /** Time a response is kept after its last use, in milliseconds. */
  readonly ttlMs: number;
  readonly #now: () => number;
  /** Every entry, least recently used first. */
  readonly #recency = new Set<Entry>();
  readonly #scopes = new Map<string, Scope>();
  #bytes = 0;

  /**
   * Creates a store.
   *
   * @param options bound, time-to-live and clock
   */
  constructor(options: ResponseStoreOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_RESPONSE_STORE_MAX_BYTES;
    const ttlMs = options.ttlMs ?? DEFAULT_RESPONSE_STORE_TTL_MS;
    const checked: [string, number][] = [["maxBytes", maxBytes], [
      "ttlMs",
      ttlMs,
    ]];
    for (const [name, value] of checked) {
      if (!Number.isFinite(value) || value < 0) {
        throw new RangeError(
          `Expected ${name} to be a number of at least 0, found ${value}`,
        );
      }
    }
    this.maxBytes = maxBytes;
    this.ttlMs = ttlMs;
    this.enabled = maxBytes > 0 && ttlMs > 0;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes counted for what is kept now (at most {@linkcode maxBytes}). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of responses kept now. */
  get size(): number {
    return this.#recency.size;
  }

  /**
   * Keeps a finished turn in a scope. A turn larger than the whole bound is
   * not kept; a turn with the id of one already kept in the scope replaces
   * it. Older responses are evicted until the bound holds.
   *
   * @param scope the buyer (e.g. its peer id, or the API key of `serve`)
   * @param turn the response id, the turn's input and output items
   * @returns whether the turn is kept
   */
  put(scope: string, turn: StoredTurn): boolean {
    if (!this.enabled || typeof turn.responseId !== "string") return false;
    if (turn.responseId === "") return false;
    const now = this.#now();
    this.#sweep(now);
    const items = serializeItems(turn.input, turn.output);
    const bytes = ENTRY_OVERHEAD + stringBytes(items.json) + items.bytes +
      2 * turn.responseId.length + 2 * (turn.previousResponseId?.length ?? 0);
    const state = this.#placeFor(scope, turn.responseId, bytes);
    if (state === undefined) return false;
    const entry: Entry = {
      scope: state,
      responseId: turn.responseId,
      previousResponseId: turn.previousResponseId,
      json: items.json,
      ends: items.ends,
      inputCount: items.inputCount,
      ids: items.ids,
      bytes,
      lastUsed: now,
    };
    state.responses.set(entry.responseId, entry);
    for (const id of items.ids) {
      if (id !== undefined) state.items.set(id, entry);
    }
    this.#recency.add(entry);
    this.#bytes += bytes;
    this.#evict();
    return true;
  }

  /**
   * Keeps a finished turn as it came, decoded into two strings (the
   * caller's buffers are not kept, so they may be views of larger ones): nothing is
   * parsed until a later turn of the scope refers to it (its id, or the id
   * of one of its items). Otherwise like {@linkcode put}.
   *
   * @param scope the buyer
   * @param turn the response id and the turn's bytes
   * @returns whether the turn is kept
   */
  putRaw(scope: string, turn: RawTurn): boolean {
    if (!this.enabled || turn.responseId === "") return false;
    const now = this.#now();
    this.#sweep(now);
    // Kept as strings, not byte copies: a string holds no pointers for the
    // garbage collector to follow, and many small buffers cost it more.
    const raw = {
      request: rawDecoder.decode(turn.request),
      response: rawDecoder.decode(turn.response),
    };
    const bytes = RAW_OVERHEAD +
      stringBytes(raw.request, turn.request.byteLength) +
      stringBytes(raw.response, turn.response.byteLength) +
      2 * turn.responseId.length +
      2 * (turn.previousResponseId?.length ?? 0);
    const state = this.#placeFor(scope, turn.responseId, bytes);
    if (state === undefined) return false;
    const entry: Entry = {
      scope: state,
      responseId: turn.responseId,
      previousResponseId: turn.previousResponseId,
      json: "",
      ends: [],
      inputCount: 0,
      ids: [],
      bytes,
      lastUsed: now,
      raw,
    };
    state.responses.set(entry.responseId, entry);
    state.unread.add(entry);
    this.#recency.add(entry);
    this.#bytes += bytes;
    this.#evict();
    return true;
  }

  /**
   * The scope a new turn of `bytes` goes into, once the turn it replaces
   * (same id) is removed; undefined when it cannot be kept. The old turn goes
   * first: removing a scope's last turn removes the scope, and the new one
   * must land in the scope that is kept.
   */
  #placeFor(
    scope: string,
    responseId: string,
    bytes: number,
  ): Scope | undefined {
    if (bytes > this.maxBytes) return undefined;
    const old = this.#scopes.get(scope)?.responses.get(responseId);
    if (old !== undefined) this.#remove(old);
    return this.#scopeFor(scope, bytes);
  }

  #scopeFor(scope: string, bytes: number): Scope | undefined {
    let state = this.#scopes.get(scope);
    if (state === undefined) {
      if (bytes + SCOPE_OVERHEAD > this.maxBytes) return undefined;
      state = {
        name: scope,
        responses: new Map(),
        items: new Map(),
        unread: new Set(),
      };
      this.#scopes.set(scope, state);
      this.#bytes += SCOPE_OVERHEAD;
    }
    return state;
  }

  #evict(): void {
    for (const oldest of this.#recency) {
      if (this.#bytes <= this.maxBytes) break;
      this.#remove(oldest);
    }
  }

  /**
   * Reads a raw entry into items (and indexes their ids). An entry whose
   * bytes do not read is removed; resolves with whether it is usable.
   */
  #read(entry: Entry): boolean {
    const raw = entry.raw;
    if (raw === undefined) return true;
    entry.raw = undefined;
    entry.scope.unread.delete(entry);
    let input: readonly unknown[];
    let output: unknown;
    try {
      input = turnItems(JSON.parse(raw.request).input);
      const response = JSON.parse(raw.response);
      output = isRecord(response) && isRecord(response.response)
        ? response.response.output
        : isRecord(response)
        ? response.output
        : undefined;
    } catch {
      this.#remove(entry);
      return false;
    }
    const items = serializeItems(input, Array.isArray(output) ? output : []);
    entry.json = items.json;
    entry.ends = items.ends;
    entry.ids = items.ids;
    entry.inputCount = items.inputCount;
    const bytes = ENTRY_OVERHEAD + stringBytes(entry.json) + items.bytes +
      2 * entry.responseId.length +
      2 * (entry.previousResponseId?.length ?? 0);
    this.#bytes += bytes - entry.bytes;
    entry.bytes = bytes;
    for (const id of items.ids) {
      if (id !== undefined && !entry.scope.items.has(id)) {
        entry.scope.items.set(id, entry);
      }
    }
    this.#evict();
    return this.#recency.has(entry);
  }

  /** Reads every raw entry of a scope, newest last, so that its items are indexed. */
  #readAll(state: Scope | undefined): void {
    if (state === undefined || state.unread.size === 0) return;
    const entries = [...state.unread].reverse();
    for (const entry of entries) this.#read(entry);
  }

  /**
   * Whether a response is kept in a scope (without refreshing it).
   *
   * @param scope the buyer
   * @param responseId the response id
   * @returns true when it is kept and has not expired
   */
  has(scope: string, responseId: string): boolean {
    const entry = this.#scopes.get(scope)?.responses.get(responseId);
    return entry !== undefined && !this.#expired(entry, this.#now());
  }

  /**
   * Forgets a response of a scope (`DELETE /v1/responses/{id}`).
   *
   * @param scope the buyer
   * @param responseId the response id
   * @returns whether it was kept
   */
  delete(scope: string, responseId: string): boolean {
    const entry = this.#scopes.get(scope)?.responses.get(responseId);
    if (entry === undefined) return false;
    this.#remove(entry);
    return true;
  }

  /** Forgets everything. */
  clear(): void {
    this.#recency.clear();
    this.#scopes.clear();
    this.#bytes = 0;
  }

  /**
   * Expands a Responses request of a scope with what the store keeps, before
   * it is shaped for the backend:
   *
   * - `previous_response_id`: the stored conversation (each turn's input and
   *   output, oldest first) goes before the request's own items (a string
   *   input becomes one user message) and the field is removed. The
   *   request's own `instructions` apply; none are carried over, as on
   *   OpenAI.
   * - `item_reference` items and reasoning items that carry an id but no
   *   `encrypted_content` are replaced by the stored item; when the store
   *   does not know the id, they are dropped (the backend would refuse an
   *   id it never stored). Every other item stays as it is (shaping removes
   *   ids).
   *
   * A request without `previous_response_id`, `conversation` and such items
   * is returned as it is, after one scan of its input.
   *
   * Throws a 400 {@linkcode RelayError}: `previous_response_not_found` when
   * the response (or an earlier one of its conversation) is not kept in this
   * scope; `unsupported_parameter` for `conversation`;
   * `mutually_exclusive_parameters` for both; `invalid_request` for a
   * `previous_response_id` that is not a non-empty string.
   *
   * @param scope the buyer
   * @param body the buyer's Responses request (not modified)
   * @returns the body to shape and what was done
   */
  expand(scope: string, body: Record<string, unknown>): ExpandResult {
    const hasPrevious = Object.hasOwn(body, "previous_response_id");
    const hasConversation = Object.hasOwn(body, "conversation");
    const input = body.input;
    const fill = Array.isArray(input) && input.some(needsStore);
    if (!hasPrevious && !hasConversation && !fill) {
      return {
        body,
        changed: false,
        turnInput: turnItems(input),
        expandedItems: 0,
        filledItems: 0,
        droppedItems: 0,
      };
    }
    const previous = body.previous_response_id ?? undefined;
    if (body.conversation !== undefined && body.conversation !== null) {
      if (previous !== undefined) {
        throw new RelayError(
          400,
          "mutually_exclusive_parameters",
          "Mutually exclusive parameters: Ensure you are only providing one of: 'previous_response_id' or 'conversation'",
          { details: { param: null } },
        );
      }
      throw new RelayError(
        400,
        "unsupported_parameter",
        `Unsupported parameter: 'conversation'. This seller relays to a backend that keeps no conversations; send the whole conversation in "input", or continue one with "previous_response_id"`,
        { details: { param: "conversation" } },
      );
    }
    if (
      input !== undefined && typeof input !== "string" && !Array.isArray(input)
    ) {
      throw new RelayError(
        400,
        "invalid_request",
        `Expected "input" to be a string or an array, found ${describe(input)}`,
      );
    }
    if (
      previous !== undefined &&
      (typeof previous !== "string" || previous === "")
    ) {
      throw new RelayError(
        400,
        "invalid_request",
        `Expected "previous_response_id" to be a non-empty string, found ${
          describe(previous)
        }`,
      );
    }
    const now = this.#now();
    const state = this.#scopes.get(scope);
    const result: ExpandResult = {
      body,
      changed: true,
      turnInput: turnItems(input),
      expandedItems: 0,
      filledItems: 0,
      droppedItems: 0,
    };
    if (fill) {
      this.#readAll(state);
      result.turnInput = this.#fill(state, input, now, result);
    }
    const items: unknown[] = [];
    if (typeof previous === "string") {
      result.previousResponseId = previous;
      for (const entry of this.#chain(state, previous, now)) {
        for (let index = 0; index < entry.ends.length; index++) {
          const item = this.#item(entry, index);
          if (usable(item)) items.push(item);
          else result.droppedItems++;
        }
      }
      result.expandedItems = items.length;
    }
    const next: Record<string, unknown> = { ...body };
    delete next.previous_response_id;
    delete next.conversation;
    if (items.length > 0 || result.turnInput !== input) {
      next.input = items.length > 0
        ? [...items, ...result.turnInput]
        : result.turnInput;
    }
    result.body = next;
    return result;
  }

  /** The entries of a conversation, oldest first, refreshed; throws when one is not kept. */
  #chain(state: Scope | undefined, responseId: string, now: number): Entry[] {
    const chain: Entry[] = [];
    const seen = new Set<string>();
    for (
      let id: string | undefined = responseId;
      id !== undefined && !seen.has(id);
      id = chain[chain.length - 1].previousResponseId
    ) {
      seen.add(id);
      const found = this.#lookup(state?.responses.get(id), now);
      const entry = found !== undefined && this.#read(found)
        ? found
        : undefined;
      if (entry === undefined) {
        throw this.#notFound(responseId, id === responseId ? undefined : id);
      }
      chain.push(entry);
    }
    for (const entry of chain) this.#touch(entry, now);
    return chain.reverse();
  }

  #fill(
    state: Scope | undefined,
    input: readonly unknown[],
    now: number,
    result: ExpandResult,
  ): unknown[] {
    const filled: unknown[] = [];
    for (const item of input) {
      if (!needsStore(item)) {
        filled.push(item);
        continue;
      }
      const id = item.id;
      const entry = typeof id === "string"
        ? this.#lookup(state?.items.get(id), now)
        : undefined;
      const index = entry?.ids.lastIndexOf(id as string) ?? -1;
      const stored = entry !== undefined && index !== -1
        ? this.#item(entry, index)
        : undefined;
      if (stored !== undefined && usable(stored)) {
        this.#touch(entry!, now);
        filled.push(stored);
        result.filledItems++;
      } else {
        result.droppedItems++;
      }
    }
    return filled;
  }

  #item(entry: Entry, index: number): Record<string, unknown> {
    const start = index === 0 ? 0 : entry.ends[index - 1] + 1;
    return JSON.parse(entry.json.slice(start, entry.ends[index]));
  }

  #notFound(responseId: string, missing: string | undefined): RelayError {
    const id = truncate(responseId, 100);
    const keeps = this.enabled
      ? `this seller keeps a response for ${this.#ttlText()} after its last use, for the buyer that created it`
      : "this seller keeps no responses";
    const why = missing === undefined
      ? `${keeps[0].toUpperCase()}${keeps.slice(1)}`
      : `An earlier response of its conversation, '${
        truncate(missing, 100)
      }', is no longer kept: ${keeps}`;
    return new RelayError(
      400,
      "previous_response_not_found",
      `Previous response with id '${id}' not found. ${why}; send the whole conversation in "input" instead`,
      { details: { param: "previous_response_id" } },
    );
  }

  #ttlText(): string {
    const minutes = Math.round(this.ttlMs / 60_000);
    if (minutes >= 1) return minutes === 1 ? "1 minute" : `${minutes} minutes`;
    const seconds = Math.max(1, Math.round(this.ttlMs / 1000));
    return seconds === 1 ? "1 second" : `${seconds} seconds`;
  }

  #expired(entry: Entry, now: number): boolean {
    return now - entry.lastUsed >= this.ttlMs;
  }

  /** The entry when it is kept and not expired (an expired one is removed). */
  #lookup(entry: Entry | undefined, now: number): Entry | undefined {
    if (entry === undefined) return undefined;
    if (!this.#expired(entry, now)) return entry;
    this.#remove(entry);
    return undefined;
  }

  #touch(entry: Entry, now: number): void {
    entry.lastUsed = now;
    this.#recency.delete(entry);
    this.#recency.add(entry);
  }

  /** Removes expired entries from the least recently used end. */
  #sweep(now: number): void {
    for (const entry of this.#recency) {
      if (!this.#expired(entry, now)) break;
      this.#remove(entry);
    }
  }

  #remove(entry: Entry): void {
    if (!this.#recency.delete(entry)) return;
    this.#bytes -= entry.bytes;
    const state = entry.scope;
    state.unread.delete(entry);
    if (state.responses.get(entry.responseId) === entry) {
      state.responses.delete(entry.responseId);
    }
    for (const id of entry.ids) {
      if (id !== undefined && state.items.get(id) === entry) {
        state.items.delete(id);
      }
    }
    if (state.responses.size === 0 && this.#scopes.get(state.name) === state) {
      this.#scopes.delete(state.name);
      this.#bytes -= SCOPE_OVERHEAD;
    }
  }
}
