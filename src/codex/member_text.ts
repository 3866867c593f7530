/**
 * Replacing one member's value in the JSON text of a request without
 * serialising the request again (a large conversation is sent as the
 * buyer's own text; see `encodeUpstreamBody`).
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipSpace(text: string, at: number): number {
  while (at < text.length && isSpace(text.charCodeAt(at))) at++;
  return at;
}

function escaped(text: string, at: number): boolean {
  let backslashes = 0;
  while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++;
  return backslashes % 2 === 1;
}

/** Just after the string or literal value starting at `at`, or -1 (an object or an array). */
function scalarEnd(text: string, at: number): number {
  const code = text.charCodeAt(at);
  if (code === QUOTE) {
    let quote = text.indexOf('"', at + 1);
    while (quote >= 0 && escaped(text, quote)) {
      quote = text.indexOf('"', quote + 1);
    }
    return quote < 0 ? -1 : quote + 1;
  }
  if (code === 0x7b || code === 0x5b || Number.isNaN(code)) return -1;
  let end = at;
  while (end < text.length) {
    const next = text.charCodeAt(end);
    if (next === 0x2c || next === 0x7d || next === 0x5d || isSpace(next)) {
      break;
    }
    end++;
  }
  return end;
}

/**
 * `text` (a JSON object whose top level has the member `name` with a string
 * or literal value) with that value replaced by `json`; undefined when the
 * key occurs more than once in the text (then which one is the top level's
 * is not known here) or its value is an object or an array.
 *
 * A key is recognised by its unescaped quotes followed by a colon: inside a
 * JSON string every quote is escaped, so such an occurrence is a key at
 * some depth; one occurrence is therefore the top level's.
 *
 * @param text the JSON text of an object that has `name` at its top level
 * @param name the member's key
 * @param json the new value, as JSON text
 * @returns the new text, or undefined
 *
 * @example
 * ```ts
 * import { replaceMember } from "./member_text.ts";
 * console.log(replaceMember('{"model":"gpt-5.4","prompt_cache_key":"conv-1"}', "prompt_cache_key", '"x"'));
 * // {"model":"gpt-5.4","prompt_cache_key":"x"}
 * ```
 */
export function replaceMember(
  text: string,
  name: string,
  json: string,
): string | undefined {
  const needle = JSON.stringify(name);
  let valueAt = -1;
  for (
    let at = text.indexOf(needle);
    at >= 0;
    at = text.indexOf(needle, at + 1)
  ) {
    if (escaped(text, at)) continue;
    const colon = skipSpace(text, at + needle.length);
    if (text.charCodeAt(colon) !== COLON) continue;
    if (valueAt >= 0) return undefined;
    valueAt = skipSpace(text, colon + 1);
  }
  if (valueAt < 0) return undefined;
  const end = scalarEnd(text, valueAt);
  if (end < 0) return undefined;
  return `${text.slice(0, valueAt)}${json}${text.slice(end)}`;
}
