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
 * items from the store. A `compaction` item the backend answered a
 * `compaction_trigger` with stands for the conversation before it: a later
 * turn's conversation starts at that item.
 *
 * Bounds: each turn is kept as the JSON text of its items (parsed again
 * when used), counted as the memory that string takes (one byte a
 * character, two when it holds a character beyond Latin-1: a large text
 * with only a few such characters keeps them as `\u` escapes, so that one
 * `’` does not double it), plus a fixed
 * cost per response, per item, per indexed id and per buyer, measured on V8;
 * at most a share of `maxBytes` per buyer, a buyer's own least recently used
 * response evicted first, and at most `maxBytes` in all, the least recently
 * used response of the buyer that holds the most evicted first while it
 * holds more than half a share (so that buyers who fill the store under a
 * few names push out each other's turns before a smaller buyer's), else the
 * least recently used of all. A response not used for `ttlMs` is dropped.
 * Scopes never see each other's ids. A request expanded from the store may
 * not grow past the body limit: what is filled in is counted from the
 * stored text's length before anything of it is parsed.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { utf8Length } from "../bytes.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../config.ts";
import { RelayError } from "../errors.ts";
import { isRecord } from "../json.ts";

/** Default bound of a store: 64 MiB. */
export const DEFAULT_RESPONSE_STORE_MAX_BYTES = 64 * 1024 * 1024;

/** Default time a response is kept after its last use: one hour. */
export const DEFAULT_RESPONSE_STORE_TTL_MS = 3_600_000;

/** Default share of the bound one buyer may hold: a quarter. */
export const DEFAULT_RESPONSE_STORE_BUYER_SHARE = 0.25;

/**
 * The longest item id the store indexes; an item with a longer id is kept
 * but cannot be referred to (a reference to it is dropped like one to an
 * unknown item). V8 hashes a string of more than 16,383 characters by its
 * length alone, so that ids of one such length would all share one bucket of
 * the index, each insertion and lookup comparing against all of them: 300
 * stored ids of 16,384 characters and 3,900 references to others held the
 * event loop 14-18 s. A reference with a longer id is not looked up: even
 * in an index without such ids, 1,000 lookups of ids of 16,384 characters
 * took 0.7 s. The backend's ids are about 50 characters, and api.openai.com
 * takes item ids of at most 64.
 */
export const MAX_ITEM_ID_LENGTH = 256;

/**
 * Bytes counted per stored response besides its items' JSON: the entry (its
 * recency links included), its slot in the scope's index, its arrays and the
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
/**
 * Bytes counted per raw entry besides its two texts: the entry (its recency
 * links included), its raw object, its slots in the scope's index and the
 * unread set, and the headers of its strings. Measured as `ENTRY_OVERHEAD`
 * was (about 390 bytes with 20,000 raw turns of one buyer), and rounded up.
 */
const RAW_OVERHEAD = 512;

/**
 * Characters of stored JSON parsed between two yields to the event loop
 * while expanding a request: about 5 ms of `JSON.parse` of small items on
 * a slow core.
 */
const YIELD_EVERY_CHARS = 256 * 1024;

/** Options of {@linkcode ResponseStore}. */
export interface ResponseStoreOptions {
  /** Bound of what is kept, in bytes (default 64 MiB); 0 turns the store off. */
  maxBytes?: number;
  /** Time a response is kept after its last use, in ms (default one hour); 0 turns the store off. */
  ttlMs?: number;
  /**
   * Share of `maxBytes` one buyer scope may hold, above 0 and at most 1
   * (default 0.25): past it, the buyer's own least recently used responses
   * go first.
   */
  buyerShare?: number;
  /** Clock in milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Options of {@linkcode ResponseStore.expand}. */
export interface ExpandOptions {
  /**
   * Largest request, in bytes, once filled in from the store (default
   * 32 MiB, the default body limit). Past it, expansion stops with a 413
   * `request_too_large` before parsing what it would add.
   */
  maxBodyBytes?: number;
  /** Size of the buyer's own request body in bytes, counted first (default 0). */
  bodyBytes?: number;
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
  /**
   * Bytes filled into the turn's own input from the store (as counted
   * against the body limit): a turn of more than the buyer's share is not
   * kept, so its caller need not hand it to {@linkcode ResponseStore.put}.
   */
  filledBytes: number;
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

interface Scope {
  readonly name: string;
  /** Response id -> entry. */
  readonly responses: Map<string, Entry>;
  /** The scope's least recently used entry (its recency list's head). */
  oldest: Entry | undefined;
  /** The scope's most recently used entry. */
  newest: Entry | undefined;
  /** Item id -> the newest entry holding an item with that id. */
  readonly items: Map<string, Entry>;
  /** Entries kept as raw bytes, not yet read (their items are not indexed). */
  readonly unread: Set<Entry>;
  /** Bytes counted for the scope: its own and its entries'. */
  bytes: number;
  /** The scope's place in the store's heap of scopes by bytes. */
  heapAt: number;
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
  /**
   * Index of the last output item that compacts the conversation (a
   * `compaction` item with its content), -1 when none or not read yet.
   */
  compactedAt: number;
  /** Each item's id (`undefined` when it has none). */
  ids: readonly (string | undefined)[];
  bytes: number;
  lastUsed: number;
  /** Whether the entry is kept (in the recency lists). */
  kept: boolean;
  /** The entry used just before this one, of all (recency list). */
  older: Entry | undefined;
  /** The entry used just after this one, of all. */
  newer: Entry | undefined;
  /** The entry of the scope used just before this one. */
  scopeOlder: Entry | undefined;
  /** The entry of the scope used just after this one. */
  scopeNewer: Entry | undefined;
  /** A turn kept as it came ({@linkcode ResponseStore.putRaw}), until first read. */
  raw?: RawText;
  /** UTF-8 length of `json`, once measured. */
  utf8?: number;
}

interface RawText {
  request: string;
  response: string;
  /** UTF-8 length of the two texts (the bytes they came as). */
  utf8: number;
}

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

/** Bytes counted for a read entry: its items' text, its ids, its fixed cost. */
function parsedBytes(
  json: string,
  ids: readonly (string | undefined)[],
  responseId: string,
  previousResponseId: string | undefined,
): number {
  let bytes = ENTRY_OVERHEAD + stringBytes(json) +
    2 * responseId.length + 2 * (previousResponseId?.length ?? 0);
  for (const id of ids) {
    bytes += ITEM_OVERHEAD;
    if (id !== undefined) bytes += INDEXED_ID_OVERHEAD + 2 * id.length;
  }
  return bytes;
}

/** Bytes counted for a raw entry, given the UTF-8 lengths its texts came in. */
function rawBytes(
  raw: RawText,
  responseId: string,
  previousResponseId: string | undefined,
  utf8?: { request: number; response: number },
): number {
  return RAW_OVERHEAD + stringBytes(raw.request, utf8?.request) +
    stringBytes(raw.response, utf8?.response) + 2 * responseId.length +
    2 * (previousResponseId?.length ?? 0);
}

/** A turn's items as one JSON text, with where each ends and its id. */
interface SerializedItems {
  /** The items' JSON joined with one comma: item i ends at `ends[i]`. */
  json: string;
  ends: number[];
  ids: (string | undefined)[];
  /** How many of the items are the turn's input (they come first). */
  inputCount: number;
  /** Index of the last output item that compacts the conversation, or -1. */
  compactedAt: number;
}

/**
 * Characters beyond Latin-1 in a stored JSON text are written as `\u`
 * escapes when at most one character in this many is one (see
 * {@linkcode narrowTexts}).
 */
const NARROW_RATIO = 64;
/**
 * A turn's text is narrowed ({@linkcode narrowTexts}, {@linkcode narrowUtf8})
 * only past this part of a buyer's share (1 Mi characters of the default
 * 16 MiB): a parsed turn's text is encoded, escaped and decoded again (about
 * 4 us per KB), which a small turn (most answers hold a `’` or a `—`) would
 * pay on every request for little memory.
 */
const NARROW_ABOVE_SHARE = 1 / 16;
/**
 * Past the bound, the largest scope is evicted from only while it holds more
 * than this part of a buyer's share (8 MiB of the default 16 MiB); below, the
 * least recently used turn of all goes.
 */
const EVICT_FLOOR_SHARE = 1 / 2;
const narrowEncoder = new TextEncoder();
const HEX = narrowEncoder.encode("0123456789abcdef");
const BACKSLASH = 0x5c;
const LETTER_U = 0x75;

/**
 * UTF-8 bytes of JSON text with each character beyond Latin-1 written as a
 * `\u` escape (two for a character beyond the BMP), so that the text decodes
 * into a string of one byte a character: the same JSON to `JSON.parse`, as
 * such characters occur only inside strings. Undefined when there is none,
 * when more than one byte in {@linkcode NARROW_RATIO} starts one (a text in
 * another script: its escapes would take more than its two bytes a
 * character), or at a byte sequence that is not UTF-8 (left to the
 * decoder). Works on the bytes: about 1 ns a byte, most of it skipping
 * ASCII four bytes at a time.
 *
 * @example
 * ```ts ignore
 * new TextDecoder().decode(narrowUtf8(new TextEncoder().encode('"it’s"'))); // '"it\u2019s"'
 * ```
 */
function narrowUtf8(bytes: Uint8Array): Uint8Array | undefined {
  const length = bytes.length;
  const most = length / NARROW_RATIO;
  const view = new DataView(bytes.buffer, bytes.byteOffset, length);
  /** Where each such character starts, and its code point. */
  const starts: number[] = [];
  const points: number[] = [];
  let grown = 0;
  // A byte order mark is left as it is: the decoder drops it (escaped, it
  // would be text before the JSON, which JSON.parse refuses).
  let at = length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb &&
      bytes[2] === 0xbf
    ? 3
    : 0;
  while (at < length) {
    if (at + 4 <= length && (view.getInt32(at) & 0x80808080) === 0) {
      at += 4;
      continue;
    }
    const lead = bytes[at];
    // ASCII, the lead byte of a Latin-1 character (0xc2, 0xc3) and a
    // continuation byte stay as they are.
    if (lead < 0xc4) {
      at++;
      continue;
    }
    const size = lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
    if (lead > 0xf4 || at + size > length) return undefined;
    let point = lead & (0xff >> (size + 1));
    for (let next = 1; next < size; next++) {
      const byte = bytes[at + next];
      if ((byte & 0xc0) !== 0x80) return undefined;
      point = (point << 6) | (byte & 0x3f);
    }
    if (
      (size === 3 && (point < 0x800 || (point >= 0xd800 && point <= 0xdfff))) ||
      (size === 4 && (point < 0x10000 || point > 0x10ffff))
    ) {
      return undefined;
    }
    if (starts.length >= most) return undefined;
    starts.push(at);
    points.push(point);
    grown += (point > 0xffff ? 12 : 6) - size;
    at += size;
  }
  if (starts.length === 0) return undefined;
  const out = new Uint8Array(length + grown);
  let from = 0;
  let to = 0;
  const escape = (unit: number) => {
    out[to++] = BACKSLASH;
    out[to++] = LETTER_U;
    for (let shift = 12; shift >= 0; shift -= 4) {
      out[to++] = HEX[(unit >> shift) & 0xf];
    }
  };
  for (let index = 0; index < starts.length; index++) {
    const start = starts[index];
    const point = points[index];
    out.set(bytes.subarray(from, start), to);
    to += start - from;
    if (point > 0xffff) {
      escape(0xd800 + ((point - 0x10000) >> 10));
      escape(0xdc00 + ((point - 0x10000) & 0x3ff));
      from = start + 4;
    } else {
      escape(point);
      from = start + (point < 0x800 ? 2 : 3);
    }
  }
  out.set(bytes.subarray(from), to);
  return out;
}

/**
 * Keeps stored JSON at one byte a character when few of its characters are
 * beyond Latin-1. One such character (a `’` in the question, an emoji)
 * makes a whole string take two bytes a character, and a turn's items are
 * joined into one: an ASCII answer of 10 MB would count 20 MB of the
 * buyer's share. Each text that holds such characters is written with them
 * as escapes ({@linkcode narrowUtf8}); one that cannot be is left as it is.
 */
function narrowTexts(texts: string[]): boolean {
  let changed = false;
  for (let at = 0; at < texts.length; at++) {
    if (!TWO_BYTE.test(texts[at])) continue;
    const narrowed = narrowUtf8(narrowEncoder.encode(texts[at]));
    if (narrowed === undefined) continue;
    texts[at] = rawDecoder.decode(narrowed);
    changed = true;
  }
  return changed;
}

/**
 * A raw turn's text decoded from its bytes; narrowed ({@linkcode narrowUtf8})
 * first when there are more than `narrowAbove` of them, but no more than
 * `most` (past it, what the text counts cannot be within a buyer's share).
 */
function rawText(bytes: Uint8Array, narrowAbove: number, most: number): string {
  const length = bytes.length;
  const narrowed = length > narrowAbove && length <= most
    ? narrowUtf8(bytes)
    : undefined;
  return rawDecoder.decode(narrowed ?? bytes);
}

/**
 * Serializes a turn's input and output items, leaving out references; their
 * text narrowed ({@linkcode narrowTexts}) when longer than `narrowAbove`
 * characters.
 */
function serializeItems(
  input: readonly unknown[],
  output: readonly unknown[],
  narrowAbove: number,
): SerializedItems {
  const texts: string[] = [];
  const ids: (string | undefined)[] = [];
  let inputCount = 0;
  let compactedAt = -1;
  for (const [list, isInput] of [[input, true], [output, false]] as const) {
    for (const item of list) {
      if (!isRecord(item) || item.type === "item_reference") continue;
      if (!isInput && compacts(item)) compactedAt = texts.length;
      texts.push(JSON.stringify(item));
      ids.push(
        typeof item.id === "string" && item.id !== "" &&
          item.id.length <= MAX_ITEM_ID_LENGTH
          ? item.id
          : undefined,
      );
      if (isInput) inputCount++;
    }
  }
  let json = texts.join(",");
  if (json.length > narrowAbove && TWO_BYTE.test(json) && narrowTexts(texts)) {
    json = texts.join(",");
  }
  const ends: number[] = [];
  let length = 0;
  for (const text of texts) {
    length += (ends.length > 0 ? 1 : 0) + text.length;
    ends.push(length);
  }
  return { json, ends, ids, inputCount, compactedAt };
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
 * Item types whose meaning is their `encrypted_content`: reasoning, and the
 * compaction of a conversation (`compaction`, formerly `compaction_summary`).
 */
const ENCRYPTED_ITEM_TYPES: ReadonlySet<string> = new Set([
  "reasoning",
  "compaction",
  "compaction_summary",
]);

/** Item types that stand for the conversation compacted before them. */
const COMPACTION_ITEM_TYPES: ReadonlySet<string> = new Set([
  "compaction",
  "compaction_summary",
]);

function isEncryptedItem(item: Record<string, unknown>): boolean {
  return typeof item.type === "string" && ENCRYPTED_ITEM_TYPES.has(item.type);
}

/**
 * Whether an item compacts the conversation before it: a compaction item
 * with its content (without it, it stands for nothing).
 */
function compacts(item: Record<string, unknown>): boolean {
  return typeof item.type === "string" &&
    COMPACTION_ITEM_TYPES.has(item.type) && hasEncryptedContent(item);
}

/**
 * Whether an input item stands for a stored item: an `item_reference`, or a
 * reasoning or compaction item that carries an id but no
 * `encrypted_content` (the backend would look the id up, and it keeps
 * nothing).
 */
function needsStore(item: unknown): item is Record<string, unknown> {
  if (!isRecord(item)) return false;
  if (item.type === "item_reference") return true;
  return isEncryptedItem(item) && Object.hasOwn(item, "id") &&
    !hasEncryptedContent(item);
}

/** Whether a stored item can be sent to the backend as it is. */
function usable(item: Record<string, unknown>): boolean {
  return !isEncryptedItem(item) || hasEncryptedContent(item);
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
 * The next turn of the event loop: lets timers and I/O run between slices
 * of parsing (`setImmediate`, not `setTimeout`, which the runtimes clamp to
 * 1-4 ms a turn).
 */
function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The turns of a conversation a request continues, oldest first, and the
 * first item of the oldest one that goes upstream.
 */
interface Conversation {
  entries: readonly Entry[];
  /** Index of the first item of `entries[0]` to send. */
  from: number;
}

const NO_CONVERSATION: Conversation = { entries: [], from: 0 };

/**
 * The part of a conversation (read turns, oldest first) that goes
 * upstream: from its newest compaction item on, which stands for
 * everything before it (the history it compacted and the trigger), or all
 * of it when nothing compacted it.
 */
function sinceCompaction(chain: readonly Entry[]): Conversation {
  for (let at = chain.length - 1; at >= 0; at--) {
    const compactedAt = chain[at].compactedAt;
    if (compactedAt >= 0) {
      return { entries: chain.slice(at), from: compactedAt };
    }
  }
  return { entries: chain, from: 0 };
}

/** The characters of a read entry's items from `from` on, commas included. */
function charsFrom(entry: Entry, from: number): number {
  return entry.json.length - (from === 0 ? 0 : entry.ends[from - 1] + 1);
}

/** One stored item a request refers to. */
interface ItemAt {
  entry: Entry;
  index: number;
}

/**
 * One expansion's bookkeeping: the bytes counted against the body limit,
 * and what was looked up and parsed (each stored item is parsed once
 * however often the request refers to it; parsing yields to the event loop
 * every {@linkcode YIELD_EVERY_CHARS}).
 */
class Expansion {
  /** Largest request, in bytes, once filled in. */
  readonly maxBytes: number;
  /** Bytes of the request counted so far: its own, then what is filled in. */
  #counted: number;
  /** Per entry: item id -> index of the last item with that id. */
  readonly #indexes = new Map<Entry, Map<string, number>>();
  /** Per entry: item index -> UTF-8 length, for entries beyond ASCII. */
  readonly #lengths = new Map<Entry, Map<number, number>>();
  /** Per entry: item index -> the parsed item. */
  readonly #items = new Map<Entry, Map<number, Record<string, unknown>>>();
  #sinceYield = 0;

  constructor(maxBytes: number, ownBytes: number) {
    this.maxBytes = maxBytes;
    this.#counted = ownBytes;
  }

  /** Throws the 413 when `bytes` more would take the request past the limit. */
  refuseBeyond(bytes: number, what: "chain" | "refs"): void {
    const total = this.#counted + bytes;
    if (total > this.maxBytes) throw tooLarge(this.maxBytes, total, what);
  }

  /** Bytes counted for references (filled into the turn's own input). */
  refBytes = 0;

  /** Counts `bytes` filled into the request; throws the 413 past the limit. */
  count(bytes: number, what: "chain" | "refs"): void {
    this.refuseBeyond(bytes, what);
    this.#counted += bytes;
    if (what === "refs") this.refBytes += bytes;
  }

  /** Index of the last item of `entry` with id `id`, or -1. */
  indexOf(entry: Entry, id: string): number {
    let index = this.#indexes.get(entry);
    if (index === undefined) {
      index = new Map();
      entry.ids.forEach((itemId, at) => {
        if (itemId !== undefined) index!.set(itemId, at);
      });
      this.#indexes.set(entry, index);
    }
    return index.get(id) ?? -1;
  }

  /** The UTF-8 length of one stored item's text, measured once. */
  itemBytes(entry: Entry, index: number): number {
    const start = index === 0 ? 0 : entry.ends[index - 1] + 1;
    const chars = entry.ends[index] - start;
    if (entryBytes(entry) === entry.json.length) return chars;
    let lengths = this.#lengths.get(entry);
    if (lengths === undefined) {
      lengths = new Map();
      this.#lengths.set(entry, lengths);
    }
    let bytes = lengths.get(index);
    if (bytes === undefined) {
      bytes = utf8Length(entry.json.slice(start, entry.ends[index]));
      lengths.set(index, bytes);
    }
    return bytes;
  }

  /** The UTF-8 length of an entry's items from `from` on, commas included. */
  bytesFrom(entry: Entry, from: number): number {
    if (from === 0) return entryBytes(entry);
    let bytes = 0;
    for (let index = from; index < entry.ends.length; index++) {
      bytes += (index > from ? 1 : 0) + this.itemBytes(entry, index);
    }
    return bytes;
  }

  /**
   * Parses one stored item, once; returns a pause to await when enough
   * has been parsed since the last one.
   */
  parse(entry: Entry, index: number): Promise<void> | undefined {
    let parsed = this.#items.get(entry);
    if (parsed === undefined) {
      parsed = new Map();
      this.#items.set(entry, parsed);
    }
    if (parsed.has(index)) return undefined;
    const start = index === 0 ? 0 : entry.ends[index - 1] + 1;
    parsed.set(index, JSON.parse(entry.json.slice(start, entry.ends[index])));
    return this.paced(entry.ends[index] - start);
  }

  /** A parsed item (after {@linkcode parse}). */
  item(entry: Entry, index: number): Record<string, unknown> {
    return this.#items.get(entry)!.get(index)!;
  }

  /**
   * Counts `chars` of parsing; returns a pause (the next macrotask) to
   * await when enough has run since the last one.
   */
  paced(chars: number): Promise<void> | undefined {
    this.#sinceYield += chars;
    if (this.#sinceYield < YIELD_EVERY_CHARS) return undefined;
    this.#sinceYield = 0;
    return nextTask();
  }
}

/** The UTF-8 length of a read entry's items, measured once. */
function entryBytes(entry: Entry): number {
  entry.utf8 ??= utf8Length(entry.json);
  return entry.utf8;
}

/**
 * A bounded store of finished responses, per buyer scope, with least
 * recently used eviction (within each buyer's share, then from the buyer
 * that holds the most past half a share, then of all) and an idle
 * time-to-live.
 *
 * @example
 * ```ts
 * import { ResponseStore } from "./response_store.ts";
 *
 * const store = new ResponseStore();
 * const first = await store.expand("buyer-a", { model: "gpt-5.4", input: "Remember 42" });
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
 * const next = await store.expand("buyer-a", {
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
  /** Share of {@linkcode maxBytes} one buyer scope may hold. */
  readonly buyerShare: number;
  /** Bytes one buyer scope may hold: `maxBytes` times `buyerShare`, rounded down. */
  readonly maxBuyerBytes: number;
  readonly #now: () => number;
  /** Characters past which a turn's text is narrowed (`NARROW_ABOVE_SHARE`). */
  readonly #narrowAbove: number;
  /** Bytes up to which a scope is evicted from only by plain LRU (`EVICT_FLOOR_SHARE`). */
  readonly #evictFloor: number;
  // Recency is kept in linked lists through the entries, not in the
  // insertion order of a Set or Map: V8 leaves a hole for each deleted
  // element until it rehashes, and finding the oldest element walks them,
  // thousands per put once the store evicts or expires turns steadily.
  /** The least recently used entry of all. */
  #oldest: Entry | undefined;
  /** The most recently used entry of all. */
  #newest: Entry | undefined;
  #size = 0;
  readonly #scopes = new Map<string, Scope>();
  /**
   * The scopes as a binary max-heap on their bytes, kept up to date on every
   * change of a scope's bytes: past the bound, the largest scope is the root.
   */
  readonly #heap: Scope[] = [];
  #bytes = 0;

  /**
   * Creates a store.
   *
   * @param options bound, share per buyer, time-to-live and clock
   */
  constructor(options: ResponseStoreOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_RESPONSE_STORE_MAX_BYTES;
    const ttlMs = options.ttlMs ?? DEFAULT_RESPONSE_STORE_TTL_MS;
    const buyerShare = options.buyerShare ??
      DEFAULT_RESPONSE_STORE_BUYER_SHARE;
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
    if (!(buyerShare > 0 && buyerShare <= 1)) {
      throw new RangeError(
        `Expected buyerShare to be a number above 0 and at most 1, found ${buyerShare}`,
      );
    }
    this.maxBytes = maxBytes;
    this.ttlMs = ttlMs;
    this.buyerShare = buyerShare;
    this.maxBuyerBytes = Math.floor(maxBytes * buyerShare);
    this.#narrowAbove = this.maxBuyerBytes * NARROW_ABOVE_SHARE;
    this.#evictFloor = this.maxBuyerBytes * EVICT_FLOOR_SHARE;
    this.enabled = maxBytes > 0 && ttlMs > 0;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes counted for what is kept now (at most {@linkcode maxBytes}). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of responses kept now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Keeps a finished turn in a scope. A turn larger than a buyer's share of
   * the bound is not kept; a turn with the id of one already kept in the
   * scope replaces it. The scope's own older responses are evicted until it
   * is within its share, then, until the bound holds, the oldest of the
   * scope that holds the most while it holds more than half a share, else
   * the oldest of all (never the new turn, while another can go).
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
    const items = serializeItems(turn.input, turn.output, this.#narrowAbove);
    const bytes = parsedBytes(
      items.json,
      items.ids,
      turn.responseId,
      turn.previousResponseId,
    );
    const state = this.#placeFor(scope, turn.responseId, bytes);
    if (state === undefined) return false;
    const entry: Entry = {
      scope: state,
      responseId: turn.responseId,
      previousResponseId: turn.previousResponseId,
      json: items.json,
      ends: items.ends,
      inputCount: items.inputCount,
      compactedAt: items.compactedAt,
      ids: items.ids,
      bytes,
      lastUsed: now,
      kept: false,
      older: undefined,
      newer: undefined,
      scopeOlder: undefined,
      scopeNewer: undefined,
    };
    for (const id of items.ids) {
      if (id !== undefined) state.items.set(id, entry);
    }
    return this.#add(entry);
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
    // Its texts count at least half their UTF-8 bytes: one past the share
    // by that much is not decoded at all.
    const utf8 = turn.request.byteLength + turn.response.byteLength;
    if (RAW_OVERHEAD + utf8 / 2 + SCOPE_OVERHEAD > this.maxBuyerBytes) {
      return false;
    }
    const now = this.#now();
    this.#sweep(now);
    // Kept as strings, not byte copies: a string holds no pointers for the
    // garbage collector to follow, and many small buffers cost it more.
    const raw: RawText = {
      request: rawText(turn.request, this.#narrowAbove, this.maxBuyerBytes),
      response: rawText(turn.response, this.#narrowAbove, this.maxBuyerBytes),
      utf8,
    };
    const bytes = rawBytes(raw, turn.responseId, turn.previousResponseId, {
      request: turn.request.byteLength,
      response: turn.response.byteLength,
    });
    const state = this.#placeFor(scope, turn.responseId, bytes);
    if (state === undefined) return false;
    const entry: Entry = {
      scope: state,
      responseId: turn.responseId,
      previousResponseId: turn.previousResponseId,
      json: "",
      ends: [],
      inputCount: 0,
      compactedAt: -1,
      ids: [],
      bytes,
      lastUsed: now,
      kept: false,
      older: undefined,
      newer: undefined,
      scopeOlder: undefined,
      scopeNewer: undefined,
      raw,
    };
    state.unread.add(entry);
    return this.#add(entry);
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
    if (bytes + SCOPE_OVERHEAD > this.maxBuyerBytes) return undefined;
    const old = this.#scopes.get(scope)?.responses.get(responseId);
    if (old !== undefined) this.#remove(old);
    let state = this.#scopes.get(scope);
    if (state === undefined) {
      state = {
        name: scope,
        responses: new Map(),
        items: new Map(),
        unread: new Set(),
        bytes: SCOPE_OVERHEAD,
        oldest: undefined,
        newest: undefined,
        heapAt: this.#heap.length,
      };
      this.#scopes.set(scope, state);
      this.#heap.push(state);
      this.#raised(state);
      this.#bytes += SCOPE_OVERHEAD;
    }
    return state;
  }

  /** Counts a new entry in (newest of all and of its scope), then evicts; whether it is kept. */
  #add(entry: Entry): boolean {
    entry.scope.responses.set(entry.responseId, entry);
    entry.kept = true;
    this.#size++;
    this.#linkNewest(entry);
    this.#linkScopeNewest(entry);
    entry.scope.bytes += entry.bytes;
    this.#raised(entry.scope);
    this.#bytes += entry.bytes;
    this.#evict(entry);
    return this.#holds(entry);
  }

  /**
   * Evicts, for an entry just added or grown, its scope's own least recently
   * used entries until the scope is within its share, then, until the bound
   * holds, the least recently used entry of the scope that holds the most
   * while it holds more than half a share, else the least recently used of
   * all; passing over the entry while another can go.
   *
   * Past the bound, taking only the oldest of all lets a buyer who stores a
   * lot under a few names flush every other buyer's turns: such names go
   * first. Taking only from the largest scope would let many names of one
   * small turn each (a peer id costs nothing) make every larger buyer evict
   * its own turns while theirs stayed for their time-to-live: below half a
   * share, recency decides.
   */
  #evict(entry: Entry): void {
    const scope = entry.scope;
    for (let oldest = scope.oldest; oldest; oldest = scope.oldest) {
      if (scope.bytes <= this.maxBuyerBytes) break;
      this.#remove(oldest);
    }
    while (this.#bytes > this.maxBytes) {
      const victim = this.#victim(entry);
      if (victim === undefined) break;
      this.#remove(victim);
    }
  }

  /**
   * The entry to evict past the bound: the least recently used of the
   * largest scope when it holds more than `EVICT_FLOOR_SHARE` of a share
   * (when that is `spared`, its scope's next one, else the oldest of the next
   * largest scope, a child of the heap's root), else the least recently used
   * of all (the next one when that is `spared`); `spared` itself when nothing
   * else is left.
   */
  #victim(spared: Entry): Entry | undefined {
    const heap = this.#heap;
    const largest = heap[0];
    if (largest === undefined) return undefined;
    // Once no buyer holds more than the floor, the least recently used of
    // all (see #evict).
    if (largest.bytes <= this.#evictFloor) {
      const oldest = this.#oldest!;
      return oldest !== spared ? oldest : spared.newer ?? spared;
    }
    const oldest = largest.oldest;
    if (oldest !== spared) return oldest;
    if (spared.scopeNewer !== undefined) return spared.scopeNewer;
    const left = heap[1];
    const right = heap[2];
    const next = right !== undefined && right.bytes > left!.bytes
      ? right
      : left;
    return next?.oldest ?? spared;
  }

  /** Moves a scope whose bytes grew towards the heap's root. */
  #raised(scope: Scope): void {
    const heap = this.#heap;
    let at = scope.heapAt;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = heap[parentAt];
      if (parent.bytes >= scope.bytes) break;
      heap[at] = parent;
      parent.heapAt = at;
      at = parentAt;
    }
    heap[at] = scope;
    scope.heapAt = at;
  }

  /** Moves a scope whose bytes shrank away from the heap's root. */
  #lowered(scope: Scope): void {
    const heap = this.#heap;
    const length = heap.length;
    let at = scope.heapAt;
    for (;;) {
      const leftAt = 2 * at + 1;
      if (leftAt >= length) break;
      const rightAt = leftAt + 1;
      const childAt =
        rightAt < length && heap[rightAt].bytes > heap[leftAt].bytes
          ? rightAt
          : leftAt;
      const child = heap[childAt];
      if (child.bytes <= scope.bytes) break;
      heap[at] = child;
      child.heapAt = at;
      at = childAt;
    }
    heap[at] = scope;
    scope.heapAt = at;
  }

  /** Takes a scope out of the heap. */
  #unheap(scope: Scope): void {
    const heap = this.#heap;
    const last = heap.pop()!;
    if (last === scope) return;
    const at = scope.heapAt;
    heap[at] = last;
    last.heapAt = at;
    if (last.bytes > scope.bytes) this.#raised(last);
    else this.#lowered(last);
  }

  /** Whether an entry is kept (not removed, evicted or replaced). */
  #holds(entry: Entry): boolean {
    return entry.kept;
  }

  /** Puts an entry last in the recency list of all. */
  #linkNewest(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest) this.#newest.newer = entry;
    else this.#oldest = entry;
    this.#newest = entry;
  }

  /** Takes an entry out of the recency list of all. */
  #unlink(entry: Entry): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    entry.older = entry.newer = undefined;
  }

  /** Puts an entry last in its scope's recency list. */
  #linkScopeNewest(entry: Entry): void {
    const scope = entry.scope;
    entry.scopeOlder = scope.newest;
    entry.scopeNewer = undefined;
    if (scope.newest) scope.newest.scopeNewer = entry;
    else scope.oldest = entry;
    scope.newest = entry;
  }

  /** Takes an entry out of its scope's recency list. */
  #unlinkScope(entry: Entry): void {
    const scope = entry.scope;
    if (entry.scopeOlder) entry.scopeOlder.scopeNewer = entry.scopeNewer;
    else scope.oldest = entry.scopeNewer;
    if (entry.scopeNewer) entry.scopeNewer.scopeOlder = entry.scopeOlder;
    else scope.newest = entry.scopeOlder;
    entry.scopeOlder = entry.scopeNewer = undefined;
  }

  /**
   * Reads a raw entry into items (and indexes their ids). An entry no
   * longer kept is left alone; one whose bytes do not read is removed.
   * Returns whether the entry is kept and read.
   */
  #read(entry: Entry): boolean {
    if (!this.#holds(entry)) return false;
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
    const items = serializeItems(
      input,
      Array.isArray(output) ? output : [],
      this.#narrowAbove,
    );
    entry.json = items.json;
    entry.utf8 = undefined;
    entry.ends = items.ends;
    entry.ids = items.ids;
    entry.inputCount = items.inputCount;
    entry.compactedAt = items.compactedAt;
    const bytes = parsedBytes(
      items.json,
      items.ids,
      entry.responseId,
      entry.previousResponseId,
    );
    // Read, a turn can count more than it came as (its ids are indexed):
    // one past the share alone would evict the buyer's other turns, then
    // itself. It goes alone, as put would not have kept it.
    if (bytes + SCOPE_OVERHEAD > this.maxBuyerBytes) {
      this.#remove(entry);
      return false;
    }
    this.#bytes += bytes - entry.bytes;
    entry.scope.bytes += bytes - entry.bytes;
    if (bytes > entry.bytes) this.#raised(entry.scope);
    else this.#lowered(entry.scope);
    entry.bytes = bytes;
    for (const id of items.ids) {
      if (id !== undefined && !entry.scope.items.has(id)) {
        entry.scope.items.set(id, entry);
      }
    }
    this.#evict(entry);
    return this.#holds(entry);
  }

  /**
   * Reads every raw entry of a scope, newest first, so that its items are
   * indexed; yields to the event loop between entries now and then.
   */
  async #readAll(scope: string, expansion: Expansion): Promise<void> {
    const state = this.#scopes.get(scope);
    if (state === undefined || state.unread.size === 0) return;
    for (const entry of [...state.unread].reverse()) {
      const chars = entry.raw?.utf8 ?? 0;
      // An entry evicted by an earlier read is skipped (not counted again).
      this.#read(entry);
      const pause = expansion.paced(chars);
      if (pause) await pause;
    }
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
    // Entries an expansion still holds must read as no longer kept.
    for (let entry = this.#oldest; entry; entry = entry.newer) {
      entry.kept = false;
    }
    this.#oldest = this.#newest = undefined;
    this.#size = 0;
    this.#scopes.clear();
    this.#heap.length = 0;
    this.#bytes = 0;
  }

  /**
   * Recounts what the store holds and checks its indexes, for tests and
   * diagnostics (it walks everything: not for the request path). Checks
   * that every kept response is in its scope's map and every response of a
   * scope's map is kept, that every indexed item id and every unread entry
   * is a kept response of its scope, that no scope is empty, and that each
   * response's and each scope's count is what it holds and within its
   * share, and that the heap of scopes holds each scope once, in order.
   * Throws an `Error` naming the first inconsistency.
   *
   * @returns the bytes recounted from what is held, to compare with
   * {@linkcode bytes}
   */
  audit(): number {
    const fail = (what: string): never => {
      throw new Error(`Response store inconsistent: ${what}`);
    };
    let total = 0;
    let count = 0;
    for (let entry = this.#oldest; entry; entry = entry.newer) {
      count++;
      if (!entry.kept) fail(`${entry.responseId} is listed but not kept`);
      if (
        (entry.newer?.older ?? entry) !== entry ||
        (entry.newer === undefined && this.#newest !== entry)
      ) {
        fail(`the recency list is broken after ${entry.responseId}`);
      }
      const state = entry.scope;
      if (this.#scopes.get(state.name) !== state) {
        fail(`${entry.responseId} is kept in a scope that is gone`);
      }
      if (state.responses.get(entry.responseId) !== entry) {
        fail(`${entry.responseId} is kept but not in its scope's map`);
      }
      const held = entry.raw === undefined
        ? parsedBytes(
          entry.json,
          entry.ids,
          entry.responseId,
          entry.previousResponseId,
        )
        : rawBytes(entry.raw, entry.responseId, entry.previousResponseId);
      if (held !== entry.bytes) {
        fail(`${entry.responseId} counts ${entry.bytes} bytes, holds ${held}`);
      }
      total += held;
    }
    if (count !== this.#size) {
      fail(
        `the recency list holds ${count} responses, the store counts ${this.#size}`,
      );
    }
    for (const state of this.#scopes.values()) {
      let scopeBytes = SCOPE_OVERHEAD;
      if (state.responses.size === 0) fail(`scope ${state.name} is empty`);
      for (const entry of state.responses.values()) {
        if (!this.#holds(entry)) {
          fail(`${entry.responseId} is in ${state.name}'s map, not kept`);
        }
      }
      let listed = 0;
      for (let entry = state.oldest; entry; entry = entry.scopeNewer) {
        listed++;
        if (
          entry.scope !== state ||
          state.responses.get(entry.responseId) !== entry
        ) {
          fail(
            `${entry.responseId} is in ${state.name}'s recency list, not its map`,
          );
        }
        if (
          (entry.scopeNewer?.scopeOlder ?? entry) !== entry ||
          (entry.scopeNewer === undefined && state.newest !== entry)
        ) {
          fail(
            `${state.name}'s recency list is broken after ${entry.responseId}`,
          );
        }
        scopeBytes += entry.bytes;
      }
      if (listed !== state.responses.size) {
        fail(
          `${state.name}'s recency list holds ${listed} responses, its map ${state.responses.size}`,
        );
      }
      for (const [id, entry] of state.items) {
        if (!this.#holds(entry) || entry.scope !== state) {
          fail(`item ${id} of ${state.name} points at a response not kept`);
        }
      }
      for (const entry of state.unread) {
        if (!this.#holds(entry) || entry.raw === undefined) {
          fail(`${entry.responseId} is unread but not kept or already read`);
        }
      }
      if (scopeBytes !== state.bytes) {
        fail(
          `scope ${state.name} counts ${state.bytes} bytes, holds ${scopeBytes}`,
        );
      }
      if (state.bytes > this.maxBuyerBytes) {
        fail(`scope ${state.name} holds ${state.bytes} bytes, past its share`);
      }
      const parent = this.#heap[(state.heapAt - 1) >> 1];
      if (this.#heap[state.heapAt] !== state) {
        fail(`scope ${state.name} is not at its place in the heap`);
      } else if (state.heapAt > 0 && parent.bytes < state.bytes) {
        fail(`scope ${state.name} holds more than its parent in the heap`);
      }
      total += SCOPE_OVERHEAD;
    }
    if (this.#heap.length !== this.#scopes.size) {
      fail(
        `the heap holds ${this.#heap.length} scopes, the store ${this.#scopes.size}`,
      );
    }
    return total;
  }

  /**
   * Expands a Responses request of a scope with what the store keeps, before
   * it is shaped for the backend:
   *
   * - `previous_response_id`: the stored conversation (each turn's input and
   *   output, oldest first) goes before the request's own items (a string
   *   input becomes one user message) and the field is removed. The
   *   request's own `instructions` apply; none are carried over, as on
   *   OpenAI. A turn the backend answered with a `compaction` item (to a
   *   `compaction_trigger`) ends the conversation's past: it starts at that
   *   item, which stands for every item before it.
   * - `item_reference` items, and reasoning and compaction items that carry
   *   an id but no `encrypted_content`, are replaced by the stored item;
   *   when the store does not know the id, they are dropped (the backend
   *   would refuse an id it never stored). Every other item stays as it is
   *   (shaping removes ids).
   *
   * A request without `previous_response_id`, `conversation` and such items
   * is returned as it is, after one scan of its input.
   *
   * What is filled in is counted against `maxBodyBytes` (after the request's
   * own `bodyBytes`) from the stored text's length before any of it is
   * parsed: a stored item as its JSON in UTF-8, a turn not read yet as its
   * whole stored text. Each stored item is parsed once per request however
   * often it is referred to, and parsing yields to the event loop every
   * megabyte or so.
   *
   * Rejects with a {@linkcode RelayError}: 413 `request_too_large` when the
   * filled-in request would be larger than `maxBodyBytes`; 400
   * `previous_response_not_found` when the response (or an earlier one of
   * its conversation) is not kept in this scope; `unsupported_parameter`
   * for `conversation`; `mutually_exclusive_parameters` for both;
   * `invalid_request` for a `previous_response_id` that is not a non-empty
   * string.
   *
   * @param scope the buyer
   * @param body the buyer's Responses request (not modified)
   * @param options the body limit and the request's own size
   * @returns the body to shape and what was done
   */
  async expand(
    scope: string,
    body: Record<string, unknown>,
    options: ExpandOptions = {},
  ): Promise<ExpandResult> {
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
        filledBytes: 0,
      };
    }
    const previous = this.#checkExpandable(body);
    const result: ExpandResult = {
      body,
      changed: true,
      turnInput: turnItems(input),
      expandedItems: 0,
      filledItems: 0,
      droppedItems: 0,
      filledBytes: 0,
    };
    if (previous !== undefined) result.previousResponseId = previous;
    const expansion = new Expansion(
      options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      options.bodyBytes ?? 0,
    );
    const { entries: chain, from } = previous === undefined
      ? NO_CONVERSATION
      : await this.#readChain(scope, previous, expansion);
    const refs = fill ? await this.#findRefs(scope, input, expansion) : [];
    for (const ref of refs) {
      const pause = ref && expansion.parse(ref.entry, ref.index);
      if (pause) await pause;
    }
    for (const entry of chain) {
      const start = entry === chain[0] ? from : 0;
      for (let index = start; index < entry.ends.length; index++) {
        const pause = expansion.parse(entry, index);
        if (pause) await pause;
      }
    }
    // From here on nothing yields: what was evicted meanwhile is not used.
    this.#checkChain(chain, previous);
    const now = this.#now();
    if (fill) {
      result.turnInput = this.#fill(input, refs, expansion, result, now);
      result.filledBytes = expansion.refBytes;
    }
    const items: unknown[] = [];
    for (const entry of chain) {
      this.#touch(entry, now);
      const start = entry === chain[0] ? from : 0;
      for (let index = start; index < entry.ends.length; index++) {
        const item = expansion.item(entry, index);
        if (usable(item)) items.push(item);
        else result.droppedItems++;
      }
    }
    result.expandedItems = items.length;
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

  /**
   * Refuses what expansion cannot serve (`conversation`, an `input` that is
   * neither a string nor an array, a bad `previous_response_id`); returns
   * the `previous_response_id` to expand, if any.
   */
  #checkExpandable(body: Record<string, unknown>): string | undefined {
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
    const input = body.input;
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
    return previous;
  }

  /**
   * The entries of a conversation, oldest first, found by id without
   * reading any; throws when one is not kept (or has expired). The walk
   * back stops at a read turn that compacted the conversation: what came
   * before it is not needed.
   */
  #chain(scope: string, responseId: string, now: number): Entry[] {
    const state = this.#scopes.get(scope);
    const chain: Entry[] = [];
    const seen = new Set<string>();
    for (
      let id: string | undefined = responseId;
      id !== undefined && !seen.has(id);
      id = chain[chain.length - 1].previousResponseId
    ) {
      seen.add(id);
      const entry = this.#lookup(state?.responses.get(id), now);
      if (entry === undefined) {
        throw this.#notFound(responseId, id === responseId ? undefined : id);
      }
      chain.push(entry);
      if (entry.compactedAt >= 0) break;
    }
    return chain.reverse();
  }

  /**
   * The conversation of `responseId`, oldest first, read and counted
   * against the body limit: first by what is known before reading or
   * parsing anything (a turn not read yet as its whole stored text, a read
   * one as its items' characters, whose UTF-8 is as long or longer), then
   * exactly.
   */
  async #readChain(
    scope: string,
    responseId: string,
    expansion: Expansion,
  ): Promise<Conversation> {
    const now = this.#now();
    const chain = this.#chain(scope, responseId, now);
    let estimate = 0;
    for (const entry of chain) {
      // Only the oldest turn can have compacted (the walk stops there).
      estimate += 1 +
        (entry.raw?.utf8 ?? charsFrom(entry, Math.max(0, entry.compactedAt)));
    }
    expansion.refuseBeyond(estimate, "chain");
    // Used now: reading one turn of the conversation evicts older turns of
    // the buyer before the conversation's own.
    for (const entry of chain) this.#touch(entry, now);
    for (const entry of chain) {
      const chars = entry.raw?.utf8 ?? 0;
      this.#read(entry);
      const pause = expansion.paced(chars);
      if (pause) await pause;
    }
    this.#checkChain(chain, responseId);
    const conversation = sinceCompaction(chain);
    conversation.entries.forEach((entry, at) => {
      const from = at === 0 ? conversation.from : 0;
      expansion.count(1 + expansion.bytesFrom(entry, from), "chain");
    });
    return conversation;
  }

  /** Throws when an entry of a conversation is no longer kept (or not read). */
  #checkChain(chain: readonly Entry[], responseId: string | undefined): void {
    for (const entry of chain) {
      if (this.#holds(entry) && entry.raw === undefined) continue;
      const id = entry.responseId;
      throw this.#notFound(responseId!, id === responseId ? undefined : id);
    }
  }

  /**
   * For each input item that needs the store: the stored item it names, if
   * kept (every raw turn of the scope is read first, so that its items are
   * known), counted against the body limit before any is parsed.
   */
  async #findRefs(
    scope: string,
    input: readonly unknown[],
    expansion: Expansion,
  ): Promise<(ItemAt | undefined)[]> {
    await this.#readAll(scope, expansion);
    const state = this.#scopes.get(scope);
    const now = this.#now();
    const refs: (ItemAt | undefined)[] = [];
    for (const item of input) {
      if (!needsStore(item)) continue;
      const id = item.id;
      // A longer id is in no index: not looked up, it is not hashed either.
      const entry = typeof id === "string" && id.length <= MAX_ITEM_ID_LENGTH
        ? this.#lookup(state?.items.get(id), now)
        : undefined;
      const index = entry === undefined
        ? -1
        : expansion.indexOf(entry, id as string);
      if (index === -1) {
        refs.push(undefined);
        continue;
      }
      expansion.count(1 + expansion.itemBytes(entry!, index), "refs");
      refs.push({ entry: entry!, index });
    }
    return refs;
  }

  /** The input with each reference replaced by its parsed stored item (or dropped). */
  #fill(
    input: readonly unknown[],
    refs: readonly (ItemAt | undefined)[],
    expansion: Expansion,
    result: ExpandResult,
    now: number,
  ): unknown[] {
    const filled: unknown[] = [];
    const used = new Set<Entry>();
    let next = 0;
    for (const item of input) {
      if (!needsStore(item)) {
        filled.push(item);
        continue;
      }
      const ref = refs[next++];
      const stored = ref !== undefined && this.#holds(ref.entry)
        ? expansion.item(ref.entry, ref.index)
        : undefined;
      if (stored !== undefined && usable(stored)) {
        used.add(ref!.entry);
        filled.push(stored);
        result.filledItems++;
      } else {
        result.droppedItems++;
      }
    }
    for (const entry of used) this.#touch(entry, now);
    return filled;
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
    if (entry === undefined || !this.#holds(entry)) return undefined;
    if (!this.#expired(entry, now)) return entry;
    this.#remove(entry);
    return undefined;
  }

  /** Marks a kept entry used now: newest of all and of its scope. */
  #touch(entry: Entry, now: number): void {
    // An entry removed meanwhile is not put back.
    if (!entry.kept) return;
    this.#unlink(entry);
    this.#linkNewest(entry);
    entry.lastUsed = now;
    this.#unlinkScope(entry);
    this.#linkScopeNewest(entry);
  }

  /** Removes expired entries from the least recently used end. */
  #sweep(now: number): void {
    for (let oldest = this.#oldest; oldest; oldest = this.#oldest) {
      if (!this.#expired(oldest, now)) break;
      this.#remove(oldest);
    }
  }

  #remove(entry: Entry): void {
    if (!entry.kept) return;
    entry.kept = false;
    this.#size--;
    this.#unlink(entry);
    this.#unlinkScope(entry);
    this.#bytes -= entry.bytes;
    const state = entry.scope;
    state.bytes -= entry.bytes;
    this.#lowered(state);
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
      this.#unheap(state);
      this.#bytes -= SCOPE_OVERHEAD;
    }
  }
}

/** The 413 of a request that the store would fill in past the body limit. */
function tooLarge(
  maxBytes: number,
  counted: number,
  what: "chain" | "refs",
): RelayError {
  const how = what === "chain"
    ? `its previous_response_id is expanded with the stored conversation`
    : `its item_reference items are filled in from the store`;
  const fix = what === "chain"
    ? `start a new conversation, or send a shorter one in "input"`
    : "refer to fewer stored items";
  return new RelayError(
    413,
    "request_too_large",
    `Expected a request body of at most ${maxBytes} bytes once ${how}, found at least ${counted} bytes; ${fix}`,
    {
      details: {
        param: what === "chain" ? "previous_response_id" : "input",
      },
    },
  );
}
