/**
 * The checks of the local server that keep web pages out: the `Host` header
 * against the addresses the server answers for (DNS rebinding), the `Origin`
 * header against an allow list, the CORS headers of an allowed origin, and
 * the media type of a request body. Private to the server.
 *
 * @module
 */

import { RelayError } from "../errors.ts";

/** Environment key of the allowed origins, named in the refusals. */
const ALLOWED_ORIGINS_KEY = "OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS";

/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Headers a preflight allows when the browser does not say which it will send. */
const DEFAULT_ALLOWED_HEADERS = "authorization, content-type";

/** Response headers a page of an allowed origin may read beyond the safelisted ones. */
const EXPOSED_HEADERS = "retry-after";

function show(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 197)}...` : text);
}

/**
 * A host as `name:port`, lower case, with the port of plain http (80) when
 * none is given, as a browser omits it then; `undefined` when the text is
 * not a host with an optional port.
 *
 * @example
 * ```ts
 * import { normalizeHost } from "./_guard.ts";
 * console.log(normalizeHost("LocalHost"), normalizeHost("[::1]:8787")); // "localhost:80" "[::1]:8787"
 * ```
 */
export function normalizeHost(text: string): string | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/@?#]+)(?::(\d{1,5}))?$/i.exec(
    text,
  );
  if (!match) return undefined;
  return `${match[1].toLowerCase()}:${match[2] ?? "80"}`;
}

/**
 * Checks the host a request was sent to against the allowed hosts. The host
 * is the `host` header; without one (HTTP/2 carries it in the URL, HTTP/1.0
 * may leave it out, a browser never does) it is the authority of the
 * request's URL. Resolves `undefined` when it is allowed, else the 421
 * `invalid_host` error to answer.
 *
 * @example
 * ```ts
 * import { checkHost } from "./_guard.ts";
 * const request = new Request("http://127.0.0.1:8787/health");
 * console.log(checkHost(request, ["127.0.0.1:8787"])); // undefined
 * ```
 */
export function checkHost(
  request: Request,
  allowed: readonly string[],
): RelayError | undefined {
  const header = request.headers.get("host");
  const found = header ?? new URL(request.url).host;
  const host = normalizeHost(found.trim());
  if (
    host !== undefined && allowed.some((entry) => normalizeHost(entry) === host)
  ) {
    return undefined;
  }
  const expected = allowed.length === 0
    ? "none yet (the server is not listening)"
    : `one of ${allowed.map((entry) => JSON.stringify(entry)).join(", ")}`;
  return new RelayError(
    421,
    "invalid_host",
    `Invalid host: expected ${expected}, found ${
      show(found)
    }. This server answers only for the address it listens on, so that a web page cannot reach it through a name of its own (DNS rebinding)`,
  );
}

/**
 * Checks an `Origin` header against the allowed origins (each already in
 * the form `scheme://host[:port]`, lower case). Resolves `undefined` when it
 * is listed, else the 403 `origin_not_allowed` error to answer.
 *
 * @example
 * ```ts
 * import { checkOrigin } from "./_guard.ts";
 * console.log(checkOrigin("http://localhost:3000", ["http://localhost:3000"])); // undefined
 * ```
 */
export function checkOrigin(
  origin: string,
  allowed: readonly string[],
): RelayError | undefined {
  if (allowed.includes(origin.toLowerCase())) return undefined;
  return new RelayError(
    403,
    "origin_not_allowed",
    `Origin not allowed: expected no origin header (a local program) or one listed in ${ALLOWED_ORIGINS_KEY}, found ${
      show(origin)
    }`,
  );
}

/**
 * The answer to a CORS preflight of an allowed origin: 204 with the method
 * of the route and the headers the browser asked for.
 *
 * @example
 * ```ts
 * import { preflightResponse } from "./_guard.ts";
 * const request = new Request("http://127.0.0.1:8787/v1/responses", {
 *   method: "OPTIONS",
 *   headers: { origin: "http://localhost:3000" },
 * });
 * console.log(preflightResponse(request, "http://localhost:3000", "POST").status); // 204
 * ```
 */
export function preflightResponse(
  request: Request,
  origin: string,
  method: string,
): Response {
  const asked = request.headers.get("access-control-request-headers")?.trim();
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": method,
      "access-control-allow-headers": asked ? asked : DEFAULT_ALLOWED_HEADERS,
      "access-control-max-age": String(PREFLIGHT_MAX_AGE_SECONDS),
      vary:
        "origin, access-control-request-method, access-control-request-headers",
    },
  });
}

/**
 * Adds the CORS headers of an allowed origin to an answer and returns it.
 *
 * @example
 * ```ts
 * import { withCorsHeaders } from "./_guard.ts";
 * const response = withCorsHeaders(new Response("ok"), "http://localhost:3000");
 * console.log(response.headers.get("access-control-allow-origin")); // "http://localhost:3000"
 * ```
 */
export function withCorsHeaders(response: Response, origin: string): Response {
  response.headers.set("access-control-allow-origin", origin);
  response.headers.set("access-control-expose-headers", EXPOSED_HEADERS);
  response.headers.append("vary", "origin");
  return response;
}

/**
 * Checks that a request body is declared as JSON: `application/json`,
 * parameters allowed. Resolves `undefined` when it is, else the 415
 * `unsupported_media_type` error to answer.
 *
 * @example
 * ```ts
 * import { checkJsonContentType } from "./_guard.ts";
 * console.log(checkJsonContentType("application/json; charset=utf-8")); // undefined
 * ```
 */
export function checkJsonContentType(
  contentType: string | null,
): RelayError | undefined {
  const mediaType = contentType?.split(";")[0].trim().toLowerCase();
  if (mediaType === "application/json") return undefined;
  return new RelayError(
    415,
    "unsupported_media_type",
    `Unsupported media type: expected "content-type: application/json", found ${
      contentType === null ? "no content-type header" : show(contentType)
    }`,
  );
}
