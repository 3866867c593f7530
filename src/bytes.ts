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

/** A character beyond ASCII: one makes UTF-8 longer than the string. */
const NON_ASCII = /[\u0080-\uffff]/;

/**
 * The length of a string in UTF-8, without encoding it: each half of a
 * surrogate pair counts two bytes (a lone half, which encodes as the three
 * bytes of U+FFFD, counts two as well; `JSON.stringify` escapes those).
 *
 * @example
 * ```ts
 * import { utf8Length } from "./bytes.ts";
 * console.log(utf8Length("café"), utf8Length("😀")); // 5 4
 * ```
 */
export function utf8Length(text: string): number {
  if (!NON_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) continue;
    bytes += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}
