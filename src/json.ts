/**
 * Reading untrusted JSON values at the boundary (request bodies, auth.json,
 * answers of the backend and the token endpoint): the one home of the small
 * checks every reader needs.
 *
 * @module
 */

/**
 * Whether a value is a JSON object (not `null`, not an array).
 *
 * @example
 * ```ts
 * import { isRecord } from "./json.ts";
 * console.log(isRecord({ a: 1 }), isRecord([1]), isRecord(null)); // true false false
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The value when it is a string with something besides white space, else
 * `undefined`.
 *
 * @example
 * ```ts
 * import { nonEmptyString } from "./json.ts";
 * console.log(nonEmptyString(" a "), nonEmptyString("  "), nonEmptyString(1)); // " a " undefined undefined
 * ```
 */
export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}
