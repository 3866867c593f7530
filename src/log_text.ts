/**
 * Buyer-chosen values (paths, methods, model names, codes) made safe for a
 * seller's log line: control characters, escape sequences and line
 * separators are shown escaped, and the value is cut to a sane length, so
 * that no buyer can forge a line or drive the seller's terminal.
 *
 * @module
 */

/** Longest value shown in a log line, in characters. */
export const LOG_TEXT_MAX = 200;

/** C0 and C1 controls, DEL, the backslash, line and paragraph separators. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\\\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const UNSAFE_ALL = /[\u0000-\u001f\u007f-\u009f\\\u2028\u2029]/g;

function escapeOne(char: string): string {
  if (char === "\\") return "\\\\";
  if (char === "\n") return "\\n";
  if (char === "\r") return "\\r";
  if (char === "\t") return "\\t";
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * A value as a log line may show it: cut to `max` characters (an ellipsis
 * marks the cut), controls and separators escaped.
 *
 * @example
 * ```ts
 * import { logText } from "./log_text.ts";
 * console.log(logText("/v1/responses\n\x1b]0;owned\x07")); // "/v1/responses\\n\\u001b]0;owned\\u0007"
 * ```
 *
 * @param value the buyer's value
 * @param max most characters kept before escaping (default {@linkcode LOG_TEXT_MAX})
 * @returns the value, safe to print
 */
export function logText(value: string, max: number = LOG_TEXT_MAX): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  return UNSAFE.test(cut) ? cut.replace(UNSAFE_ALL, escapeOne) : cut;
}
