/**
 * The paths the provider serves and the gate in front of them: anything
 * else is answered 404 or 405 before the body is read.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

/** The Responses API path. */
export const RESPONSES_PATH = "/v1/responses";

/** The Chat Completions API path (translated to and from the Responses API). */
export const CHAT_COMPLETIONS_PATH = "/v1/chat/completions";

/** Which API a served request speaks. */
export type Route = "responses" | "chat_completions";

const ROUTES: Record<string, Route> = {
  [RESPONSES_PATH]: "responses",
  [CHAT_COMPLETIONS_PATH]: "chat_completions",
};

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
 * route it takes, or the 404 `not_found` or 405 `method_not_allowed` error
 * to answer.
 *
 * @example
 * ```ts
 * import { routeOf } from "./routes.ts";
 * console.log(routeOf("/v1/responses", "POST")); // "responses"
 * console.log((routeOf("/v1/files", "GET") as Error).message.startsWith("Unknown path")); // true
 * ```
 */
export function routeOf(path: string, method: string): Route | RelayError {
  const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
  if (route === undefined) {
    return new RelayError(
      404,
      "not_found",
      `Unknown path ${
        JSON.stringify(path.slice(0, 200))
      }: this provider serves POST ${RESPONSES_PATH} and POST ${CHAT_COMPLETIONS_PATH}`,
    );
  }
  if (method.toUpperCase() !== "POST") {
    return new RelayError(
      405,
      "method_not_allowed",
      `Method ${
        JSON.stringify(method.slice(0, 20))
      } is not allowed on ${path}: use POST`,
      { headers: { allow: "POST" } },
    );
  }
  return route;
}
