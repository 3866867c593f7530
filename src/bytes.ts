/**
 * Joining byte chunks: the one copy of what the stream code (the relay, the
 * echo, the rate-limits filter, the observation of a finished stream) needs.
 *
 * @module
 */

/**
 * `parts[from..]` one after another in one new array of `size` bytes (their
 * total when not given), or the part itself when only one is joined (no
 * copy).
 *
 * @param parts the chunks, in order (not changed)
 * @param from the first chunk joined (default 0)
 * @param size the bytes of `parts[from..]`, when the caller knows them
 *
 * @example
 * ```ts
 * import { joinBytes } from "./bytes.ts";
 * const joined = joinBytes([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * console.log([...joined]); // [1, 2, 3]
 * ```
 */
export function joinBytes(
  parts: readonly Uint8Array[],
  from = 0,
  size?: number,
): Uint8Array {
  if (parts.length - from === 1) return parts[from];
  if (size === undefined) {
    size = 0;
    for (let i = from; i < parts.length; i++) size += parts[i].byteLength;
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = from; i < parts.length; i++) {
    out.set(parts[i], offset);
    offset += parts[i].byteLength;
  }
  return out;
}
