/**
 * Reading requests in the fake servers of this folder (`node:http`): the
 * body as text, and the fields of a JSON or form-encoded body. Private to
 * `src/testing/`.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";

/** The whole request body as UTF-8 text. */
export function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    request.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    request.on("end", () => {
      let length = 0;
      for (const chunk of chunks) length += chunk.byteLength;
      const all = new Uint8Array(length);
      let offset = 0;
      for (const chunk of chunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      resolve(new TextDecoder().decode(all));
    });
    request.on("error", reject);
  });
}

/**
 * The string fields of a JSON object body or a form-encoded body, or
 * `undefined` when the body is neither.
 */
export function parseFields(
  contentType: string,
  text: string,
): Record<string, string> | undefined {
  if (contentType.includes("application/json")) {
    try {
      const parsed = JSON.parse(text);
      if (typeof parsed !== "object" || parsed === null) return undefined;
      const fields: Record<string, string> = {};
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === "string") fields[key] = value;
      }
      return fields;
    } catch {
      return undefined;
    }
  }
  if (contentType.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  return undefined;
}
