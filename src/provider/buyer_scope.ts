/**
 * A buyer's conversation as the backend sees it: the `prompt_cache_key`, the
 * `session-id`/`thread-id` headers and the pool's affinity key, each derived
 * from what the buyer sent within the buyer's scope (its peer id), so that
 * two buyers who both pick `"default"` never land in one upstream
 * conversation or one prompt cache (where one could learn from
 * `cached_tokens` what the other sent), and the buyer's own key never
 * reaches the backend.
 *
 * A derived key is the SHA-256 of the scope and the key, shaped as a UUID
 * (what the Codex CLI's conversation ids look like): a valid header value of
 * 36 characters whatever the buyer's key holds. A request without a key gets
 * the buyer's own key (stable per buyer, so that its prompt cache stays
 * warm). A request that names no buyer gets a fresh key of its own: callers
 * the provider cannot tell apart share nothing.
 *
 * @module
 */

/** Most derived keys remembered (each for a key of at most {@linkcode MEMO_KEY_CHARS} characters). */
export const CONVERSATION_MEMORY = 4096;

/** Longest buyer key whose derived key is remembered: longer ones are derived each time. */
const MEMO_KEY_CHARS = 256;

/** What a derived key stands for: the buyer's cache key, its session header, or none. */
type Kind = "key" | "session" | "own";

const encoder = new TextEncoder();

/**
 * Derived keys by scope, kind and key. The derivation is a pure function,
 * so the memory only saves its cost (a digest); an entry pushed out by
 * another buyer's requests costs one digest again, nothing else.
 */
const memory = new Map<string, string>();

/** The buyer's conversation, as it goes upstream. */
export interface UpstreamConversation {
  /** The upstream `prompt_cache_key`, also the `session-id` and `thread-id` headers. */
  key: string;
  /** The pool's affinity key (undefined: no affinity). */
  affinity?: string;
}

/** What the buyer sent that names its conversation. */
export interface BuyerConversation {
  /** The buyer's scope: its peer id, or `""` when the request names no buyer. */
  scope: string;
  /** The request's `prompt_cache_key`, when it is a non-empty string. */
  promptCacheKey?: string;
  /** The buyer's `session-id` (or `session_id`) header, if any. */
  sessionHeader?: string;
}

/**
 * The upstream conversation of a buyer's request: the key derived from the
 * buyer's `prompt_cache_key` within its scope, which is also the affinity;
 * without a `prompt_cache_key`, the buyer's own key, and the affinity of the
 * buyer's session header (scoped too) when it sent one, else none. Without
 * a scope, a fresh random key and no affinity.
 *
 * @param buyer the scope and what the request names its conversation by
 * @returns the upstream key and the affinity
 *
 * @example
 * ```ts
 * import { upstreamConversation } from "./buyer_scope.ts";
 *
 * const alice = await upstreamConversation({ scope: "peer-a", promptCacheKey: "default" });
 * const bob = await upstreamConversation({ scope: "peer-b", promptCacheKey: "default" });
 * console.log(alice.key === bob.key); // false
 * console.log(alice.key.length); // 36
 * ```
 */
export async function upstreamConversation(
  buyer: BuyerConversation,
): Promise<UpstreamConversation> {
  if (buyer.scope === "") return { key: crypto.randomUUID() };
  if (buyer.promptCacheKey !== undefined) {
    const key = await scopedKey(buyer.scope, "key", buyer.promptCacheKey);
    return { key, affinity: key };
  }
  const key = await scopedKey(buyer.scope, "own", "");
  // A request that names no conversation is not kept on one login: the
  // buyer's requests spread over the logins as before.
  return buyer.sessionHeader === undefined ? { key } : {
    key,
    affinity: await scopedKey(buyer.scope, "session", buyer.sessionHeader),
  };
}

/**
 * The UUID-shaped SHA-256 of a scope, a kind and a key. The scope is
 * written with its length first, so that no scope and key can be read as
 * another pair.
 */
async function scopedKey(
  scope: string,
  kind: Kind,
  key: string,
): Promise<string> {
  const name = `${scope.length}:${scope}|${kind}|${key}`;
  const remembered = memory.get(name);
  if (remembered !== undefined) return remembered;
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", encoder.encode(name)),
  );
  const derived = uuidOf(digest);
  if (key.length <= MEMO_KEY_CHARS) {
    if (memory.size >= CONVERSATION_MEMORY) {
      memory.delete(memory.keys().next().value!);
    }
    memory.set(name, derived);
  }
  return derived;
}

const HEX = Array.from(
  { length: 256 },
  (_, byte) => byte.toString(16).padStart(2, "0"),
);

/** The first 16 bytes of `digest` as a version-4, RFC 4122 variant UUID. */
function uuidOf(digest: Uint8Array): string {
  digest[6] = (digest[6] & 0x0f) | 0x40;
  digest[8] = (digest[8] & 0x3f) | 0x80;
  let out = "";
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) out += "-";
    out += HEX[digest[index]];
  }
  return out;
}
