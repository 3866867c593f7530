/**
 * The paths the provider serves and the gate in front of them: anything
 * else is answered 404 or 405 before the body is read.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

/** The Responses API path, the one path the provider serves. */
export const RESPONSES_PATH = "/v1/responses";

/**
 * The path of a request without its query string.
 *
 * @example
 * ```ts
 * import { pathOf } from "./routes.ts";
 * console.log(pathOf("/v1/responses?x=1")); // "/v1/responses"
 * ```
 */
export function pathOf(path: string): string {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}

/**
 * Checks a request's path (query already removed) and method. Returns the
 * 404 `not_found` or 405 `method_not_allowed` error to answer, or
 * `undefined` when the provider serves it.
 *
 * @example
 * ```ts
 * import { routeError } from "./routes.ts";
 * console.log(routeError("/v1/responses", "POST")); // undefined
 * console.log(routeError("/v1/files", "GET")?.code); // "not_found"
 * ```
 */
export function routeError(
  path: string,
  method: string,
): RelayError | undefined {
  if (path !== RESPONSES_PATH) {
    return new RelayError(
      404,
      "not_found",
      `Unknown path ${
        JSON.stringify(path.slice(0, 200))
      }: this provider serves POST ${RESPONSES_PATH}`,
    );
  }
  if (method.toUpperCase() !== "POST") {
    return new RelayError(
      405,
      "method_not_allowed",
      `Method ${
        JSON.stringify(method.slice(0, 20))
      } is not allowed on ${RESPONSES_PATH}: use POST`,
      { headers: { allow: "POST" } },
    );
  }
  return undefined;
}
