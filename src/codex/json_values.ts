/**
 * A bound on how many values a buyer's JSON text holds, checked on its bytes
 * before `JSON.parse`, which works in one uninterruptible step: 64 MiB of
 * `{},{},...` (22 million empty objects) hold the event loop for half a
 * minute and take 1.4 GB of heap while they are parsed, and a gzip body of
 * 64 KiB decodes to it. The count is the number of `{`, `[` and `,` outside
 * strings (each value past the first of a container follows one of them);
 * strings are skipped with `indexOf`, so a large body of long strings (a
 * coding conversation) costs little. The scan yields to the event loop with
 * the request's {@linkcode Pacer}, and a body too short to hold more values
 * than the bound is not scanned at all.
 *
 * @module
 */

import { Pacer } from "../async.ts";
import { RelayError } from "../errors.ts";

/**
 * Most `{`, `[` and `,` (outside strings) a request body may hold. The
 * Codex CLI's and the SDKs' bodies in `tests/fixtures/clients/` hold one per
 * 16 to 28 bytes (tool schemas are the densest part), so the bound is 8 to
 * 14 MB of such JSON, far more text than a model's context takes; half a
 * million `{}` take about 0.3 s to parse on a slow machine.
 */
export const MAX_JSON_VALUES = 500_000;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const OPEN_BRACE = 0x7b;

/** Bytes scanned between two looks at the pacer. */
const STEP_BYTES = 256 * 1024;

/**
 * Throws a 413 `request_too_large` {@linkcode RelayError} when `bytes` hold
 * more than `maxValues` values (counted as described in the module doc);
 * yields to the event loop while it scans a large body.
 *
 * @param bytes the decoded request body
 * @param maxValues the bound (default {@linkcode MAX_JSON_VALUES})
 * @param pacer paces the scan (default: a new one)
 *
 * @example
 * ```ts
 * import { checkJsonValueCount } from "./json_values.ts";
 * const body = new TextEncoder().encode('{"input":[1,2,3]}');
 * await checkJsonValueCount(body, 2).catch((error) => console.log(error.code));
 * // "request_too_large"
 * ```
 */
export async function checkJsonValueCount(
  bytes: Uint8Array,
  maxValues: number = MAX_JSON_VALUES,
  pacer: Pacer = new Pacer(),
): Promise<void> {
  // Every counted byte is one byte of the body.
  if (bytes.byteLength <= maxValues) return;
  let count = 0;
  let at = 0;
  let inString = false;
  let pause = STEP_BYTES;
  while (at < bytes.byteLength) {
    if (at >= pause) {
      pause = at + STEP_BYTES;
      await pacer.pace();
    }
    if (inString) {
      const quote = bytes.indexOf(QUOTE, at);
      // Unclosed: JSON.parse refuses it.
      if (quote < 0) return;
      // A quote after an odd run of backslashes is escaped. The run stops
      // at the string's opening quote at the latest.
      let backslashes = 0;
      for (let back = quote - 1; bytes[back] === BACKSLASH; back--) {
        backslashes++;
      }
      if (backslashes % 2 === 0) inString = false;
      at = quote + 1;
      continue;
    }
    const byte = bytes[at];
    if (byte === QUOTE) {
      inString = true;
    } else if (
      byte === COMMA || byte === OPEN_BRACKET || byte === OPEN_BRACE
    ) {
      count++;
      if (count > maxValues) {
        throw new RelayError(
          413,
          "request_too_large",
          `Expected a JSON body of at most ${maxValues} values (objects, arrays and list items), found more`,
        );
      }
    }
    at++;
  }
}
