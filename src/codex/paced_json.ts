/**
 * JSON text of a large request body without holding the event loop:
 * `JSON.stringify` of a body of many small items (150,000 messages, 11.7 MB
 * of text) is one step of 70-160 ms, and joining that many strings another
 * of 50-85 ms. {@linkcode stringifyPaced} writes the body member by member,
 * in the object's own order, an array member's items a slice at a time
 * (256 items, or fewer that make 64 Ki characters), with the request's
 * pacer between slices, and counts the UTF-8 bytes as it
 * writes, so that a body past its bound stops at the item that passes it.
 *
 * @module
 */

import type { Pacer } from "../async.ts";
import { utf8Length } from "../bytes.ts";

/**
 * Most items written between two looks at the pacer's clock (and joined at
 * once), and the characters after which a slice ends early: a stored item
 * filled in from a reference may be a megabyte on its own.
 */
const ITEMS_PER_SLICE = 256;
const CHARS_PER_SLICE = 64 * 1024;

/**
 * The JSON text of `object`, as `JSON.stringify(object)` writes it (the
 * same members in the same order, members whose value has no JSON text
 * left out), with yields to the event loop between slices of its arrays'
 * items. Throws what `tooLarge` returns, given the bytes counted so far,
 * once the text passes `maxBytes` bytes of UTF-8.
 *
 * @param object the body (not modified)
 * @param maxBytes the most bytes the text may take in UTF-8
 * @param pacer paces the work
 * @param tooLarge the error to throw past `maxBytes`
 * @returns the JSON text
 *
 * @example
 * ```ts
 * import { Pacer } from "../async.ts";
 * import { stringifyPaced } from "./paced_json.ts";
 * const text = await stringifyPaced(
 *   { model: "gpt-5.4", input: [{ role: "user", content: "Hi" }], store: false },
 *   1024,
 *   new Pacer(),
 *   (bytes) => new Error(`${bytes} bytes`),
 * );
 * console.log(text); // {"model":"gpt-5.4","input":[{"role":"user","content":"Hi"}],"store":false}
 * ```
 */
export async function stringifyPaced(
  object: Readonly<Record<string, unknown>>,
  maxBytes: number,
  pacer: Pacer,
  tooLarge: (bytes: number) => Error,
): Promise<string> {
  const pieces: string[] = [];
  let bytes = 1;
  const add = (text: string) => {
    bytes += utf8Length(text);
    if (bytes > maxBytes) throw tooLarge(bytes);
    pieces.push(text);
  };
  let comma = "";
  for (const key of Object.keys(object)) {
    const value = object[key];
    const name = `${comma}${JSON.stringify(key)}:`;
    if (!Array.isArray(value)) {
      const text = JSON.stringify(value) as string | undefined;
      if (text === undefined) continue;
      add(`${name}${text}`);
    } else {
      add(`${name}[`);
      let index = 0;
      while (index < value.length) {
        await pacer.pace();
        const first = index === 0;
        const slice: string[] = [];
        const end = Math.min(index + ITEMS_PER_SLICE, value.length);
        for (let chars = 0; index < end && chars < CHARS_PER_SLICE; index++) {
          // As JSON.stringify writes an item with no JSON text in an array.
          const text = JSON.stringify(value[index]) ?? "null";
          slice.push(text);
          chars += text.length;
        }
        add(`${first ? "" : ","}${slice.join(",")}`);
      }
      add("]");
    }
    comma = ",";
  }
  add("}");
  return `{${pieces.join("")}`;
}
