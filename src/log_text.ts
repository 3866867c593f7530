/**
 * Text a buyer chose (a path, a method, a model name), made safe for one
 * log line: no line break, no terminal escape sequence, no character that
 * reorders what a reader sees, and a bounded length.
 *
 * @module
 */

/** Longest buyer-chosen value a log line shows, in UTF-16 code units, before it is cut. */
export const LOG_TEXT_MAX_LENGTH = 200;

/**
 * What `logText` escapes: the backslash (so that an escape in the output is
 * always one of ours), C0 controls, DEL and C1 controls (`\x9b` starts a
 * terminal sequence as `\x1b[` does), the line and paragraph separators,
 * the bidirectional marks, embeddings, overrides and isolates (they reorder
 * the rest of the line on screen), and lone surrogates.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const NAMED: Record<string, string> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function escapeOne(character: string): string {
  const named = NAMED[character];
  if (named !== undefined) return named;
  const code = character.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * A buyer-chosen value as it may appear in a log line: cut to `maxLength`
 * UTF-16 code units (default {@linkcode LOG_TEXT_MAX_LENGTH}) with `...`
 * appended when longer, then every unsafe character written as an escape
 * (`\n`, `\r`, `\t`, `\\`, `\xHH`, `\uHHHH`). Printable text, spaces and
 * quotes included, is kept as it is. The result is at most
 * `6 * maxLength + 3` code units long.
 *
 * @example
 * ```ts
 * import { logText } from "./log_text.ts";
 * console.log(logText("/v1/responses\n\x1b]0;owned\x07")); // "/v1/responses\\n\\x1b]0;owned\\x07"
 * console.log(logText("abcdef", 3)); // "abc..."
 * ```
 */
export function logText(
  value: string,
  maxLength: number = LOG_TEXT_MAX_LENGTH,
): string {
  const cut = value.length > maxLength;
  const kept = cut ? value.slice(0, maxLength) : value;
  const escaped = kept.replace(UNSAFE, escapeOne);
  return cut ? `${escaped}...` : escaped;
}
