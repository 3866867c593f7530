/**
 * The local OpenAI-compatible server: one web-standard
 * `(Request) => Promise<Response>` handler over a provider, served by a thin
 * adapter (`node:http`, on Node and on Deno, in `node.ts`).
 *
 * Routes: `POST /v1/responses` (streaming and non-streaming, exactly as the
 * plugin answers a seller node, without the node's `x-antseed-streaming`
 * header), `POST /v1/chat/completions` (translated by the provider),
 * `GET /v1/models` (an OpenAI list, or with `client_version` the backend's
 * catalog format for the Codex CLI), `GET /v1/models/{id}`, `GET /health`
 * and `GET /metrics` (Prometheus text). Web pages are kept out: the
 * `Host` header must name the address served (DNS rebinding), a request with
 * an `Origin` header needs that origin listed (CORS), and a body must be
 * declared as JSON.
 *
 * @module
 */

import { checkApiKey } from "./_api_key.ts";
import {
  checkHost,
  checkJsonContentType,
  checkOrigin,
  preflightResponse,
  withCorsHeaders,
} from "./_guard.ts";
import {
  type BackendModelsOptions,
  listBackendModels,
  readBackendCatalog,
} from "./models.ts";
import { codexModelList } from "./codex_models.ts";
import { BUYER_HEADER } from "../provider/prepare.ts";
import { CHAT_COMPLETIONS_PATH, RESPONSES_PATH } from "../provider/routes.ts";
import { RelayError } from "../errors.ts";
import { isAccountState } from "../codex/errors.ts";
import type {
  ProviderCapacity,
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../host_types.ts";

export type { BackendModelsOptions } from "./models.ts";

/** What the server needs of a provider; an `OpenAIResponsesProvider` has all of it. */
export interface ServedProvider {
  /** Announced service ids; when empty, `/v1/models` lists the backend's models. */
  readonly services: string[];
  /** The settings the server reads. */
  readonly settings: {
    /** `<base>/codex/models`. */
    readonly modelsUrl: string;
    /** Codex CLI version sent as the model list's `client_version`. */
    readonly clientVersion: string;
    /** `originator` header of the model list request. */
    readonly originator: string;
    /** Largest accepted request body, in bytes. */
    readonly maxBodyBytes: number;
    /** Announced service id -> upstream model, for the Codex CLI's model list. */
    readonly aliasMap?: Readonly<Record<string, string>>;
    /**
     * Instructions of a request without any, given to the Codex CLI as the
     * `base_instructions` of a service the catalog does not describe.
     */
    readonly defaultInstructions?: string;
  };
  /** The Codex CLI version spoken (the model list's `client_version`). */
  clientVersion?(): Promise<{ readonly version: string }>;
  /** The seller's token source (used for the backend's model list). */
  readonly tokens: {
    /** A valid access token and its account id. */
    getToken(): Promise<{ accessToken: string; accountId: string }>;
  };
  /** Answers one request, streaming through the callbacks when asked to. */
  handleRequestStream(
    req: SerializedHttpRequest,
    callbacks: ProviderStreamCallbacks,
    options?: { signal?: AbortSignal; hold?: boolean },
  ): Promise<SerializedHttpResponse>;
  /** Requests in flight and the most allowed at once. */
  getCapacity(): ProviderCapacity;
  /** The latest rate-limit snapshot of the seller's subscription, if any. */
  getRateLimits(): object | undefined;
  /** Unix milliseconds until which a usage limit blocks requests, if any. */
  usageLimitedUntil(): number | undefined;
  /** Each login and its state, when the provider has several to tell of. */
  logins?(options?: { usage?: boolean }): Promise<HealthLogin[]>;
  /** Its numbers in the Prometheus text format, for `GET /metrics`. */
  metrics?(): string;
}

/** One login as `/health` shows it (no secret). */
export interface HealthLogin {
  /** Stable label: the account name, `file1`, ..., or `codex`. */
  name: string;
  /**
   * `ok`; a state only the seller ends (`needs_login`, `deactivated`,
   * `no_codex_access`, `blocked`); or `usage_limited`, `login_failed`
   * (passed over for 30 s) or `at_capacity`.
   */
  state: string;
  /** Requests in flight on it. */
  inFlight: number;
  /** Unix milliseconds until which its usage limit blocks it, if one does. */
  usageLimitedUntil?: number;
  /** Its latest rate-limit snapshot, if any. */
  rateLimits?: object;
  /** What the backend's usage endpoint says of it (windows, credits). */
  usage?: object;
  /** Why the usage endpoint could not be read. */
  usageError?: string;
  /** Its banked rate-limit resets: how many, and when each expires. */
  resetCredits?: {
    availableCount: number;
    credits: readonly { expiresAt?: number }[];
  };
  /** Why the banked resets could not be read. */
  resetCreditsError?: string;
}

/**
 * One request the server answered, for a log line: told once its answer is
 * complete (a stream: once it ended).
 */
export interface ServerLogEntry {
  /** Request id. */
  requestId: string;
  /** HTTP method. */
  method: string;
  /** Path without the query. */
  path: string;
  /** Status answered. */
  status: number;
  /**
   * Stable error code when the answer is an error: the server's own, or the
   * `error.code` of an error the provider answered whole. A stream that
   * failed after its start has none here (the provider's entry has it).
   */
  code?: string;
  /** Handling time, from the request's arrival to its answer's end, in milliseconds. */
  durationMs: number;
}

/** Options of {@linkcode createServerHandler}. */
export interface ServerHandlerOptions extends BackendModelsOptions {
  /**
   * When set, every request must carry `authorization: Bearer <apiKey>`;
   * others get 401 `invalid_api_key`.
   */
  apiKey?: string;
  /**
   * The `host` header values accepted, as `name:port` (`name` alone means
   * port 80); others get 421 `invalid_host`. A function is asked on every
   * request, for a port known only once listening; see
   * {@linkcode loopbackHosts}. Unset: any host (for a server bound to a
   * non-loopback interface, which the API key protects).
   */
  allowedHosts?: readonly string[] | (() => readonly string[]);
  /**
   * Origins (`scheme://host[:port]`, lower case, as a browser sends them)
   * whose pages may call the server; they get CORS headers and answers to
   * their preflight `OPTIONS`. A request with any other `origin` header gets
   * 403 `origin_not_allowed`. Default: none, so only clients that send no
   * `origin` (curl, the OpenAI SDKs, the Codex CLI) are served.
   */
  allowedOrigins?: readonly string[];
  /**
   * Called once for every request, once its answer is complete (a stream:
   * once it ended), those relayed to the provider included; `requestId` is
   * the one the provider was given.
   */
  onRequestDone?: (entry: ServerLogEntry) => void;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
}

/** A web-standard request handler. */
export type ServerHandler = (request: Request) => Promise<Response>;

/** Default time a client has to send a request's headers, in milliseconds. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
/** Default longest pause inside a request body, in milliseconds. */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Default time an idle keep-alive connection stays open, in milliseconds (Node's own default). */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;

/** Where and how to listen. */
export interface ListenOptions {
  /** Interface to bind, e.g. `127.0.0.1`. */
  hostname: string;
  /** Port; `0` picks a free one. */
  port: number;
  /**
   * Time a client has to send a request's headers, from its first byte (or
   * from the connection), in milliseconds; then the connection gets 408 and
   * is closed. Default {@linkcode DEFAULT_HEADERS_TIMEOUT_MS}.
   */
  headersTimeoutMs?: number;
  /**
   * Longest pause while a request body arrives, in milliseconds; then the
   * request is answered 408 `request_body_timeout` and its connection
   * closed. Default {@linkcode DEFAULT_BODY_TIMEOUT_MS}.
   */
  bodyTimeoutMs?: number;
  /**
   * Time an idle keep-alive connection stays open after an answer, in
   * milliseconds (Node adds a second of grace). Default
   * {@linkcode DEFAULT_KEEP_ALIVE_TIMEOUT_MS}.
   */
  keepAliveTimeoutMs?: number;
  /**
   * Told of each request the server answers itself, without the handler
   * (a method or a target no web `Request` can hold), once answered; the
   * handler tells its own through its `onRequestDone`.
   */
  onRequestDone?: (entry: ServerLogEntry) => void;
}

/** A server that listens. */
export interface RunningServer {
  /** The bound interface. */
  readonly hostname: string;
  /** The bound port (the real one when `0` was asked). */
  readonly port: number;
  /**
   * Stops accepting connections, waits up to `graceMs` for the requests in
   * flight to finish, then drops what is left. Resolves once closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** Starts a server for a handler: one per runtime. */
export type ListenFunction = (
  handler: ServerHandler,
  options: ListenOptions,
) => Promise<RunningServer>;

/**
 * The hosts a server bound to a loopback `hostname` answers for: that
 * address and `localhost`, `127.0.0.1` and `[::1]`, each with `port`.
 *
 * @example
 * ```ts
 * import { loopbackHosts } from "./handler.ts";
 * console.log(loopbackHosts("127.0.0.1", 8787));
 * // ["127.0.0.1:8787", "localhost:8787", "[::1]:8787"]
 * ```
 */
export function loopbackHosts(hostname: string, port: number): string[] {
  const bound = hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
  const names = [bound, "localhost", "127.0.0.1", "[::1]"].map((name) =>
    `${name.toLowerCase()}:${port}`
  );
  return [...new Set(names)];
}

/** Path of the model list route. */
export const MODELS_ROUTE = "/v1/models";
/** Prefix of the route of one model, `GET /v1/models/{id}`. */
const MODEL_PREFIX = "/v1/models/";
/** Path of the Prometheus route. */
const METRICS_ROUTE = "/metrics";
/** Path of the health route. */
export const HEALTH_ROUTE = "/health";

const ROUTES: Record<string, string> = {
  [RESPONSES_PATH]: "POST",
  [CHAT_COMPLETIONS_PATH]: "POST",
  [MODELS_ROUTE]: "GET",
  [HEALTH_ROUTE]: "GET",
  [METRICS_ROUTE]: "GET",
};

/** Request headers that belong to this hop and never reach the provider. */
const HOP_HEADERS = new Set([
  "authorization",
  "cookie",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-authorization",
]);

/** Response headers of the host contract that an HTTP client must not see. */
const CONTRACT_HEADERS = new Set([
  "x-antseed-streaming",
  "content-length",
  "transfer-encoding",
  "connection",
]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function errorJson(error: RelayError): Response {
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { "content-type": "application/json", ...error.headers },
  });
}

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

function toResponseHeaders(headers: Record<string, string>): Headers {
  const result = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (!CONTRACT_HEADERS.has(name.toLowerCase())) result.set(name, value);
  }
  return result;
}

/**
 * The headers the provider gets: the client's, without this hop's and
 * without any `x-antseed-*` a client might forge, plus the buyer scope of
 * stored responses. Everyone who may call `serve` holds its one key (or is
 * on this machine), so they are one buyer.
 */
function providerHeaders(headers: Headers): Record<string, string> {
  const result: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (!HOP_HEADERS.has(name) && !name.startsWith("x-antseed-")) {
      result[name] = value;
    }
  });
  result[BUYER_HEADER] = SERVE_BUYER;
  return result;
}

/** The id of `GET /v1/models/{id}`, or undefined for another path. */
function modelOfPath(path: string): string | undefined {
  if (!path.startsWith(MODEL_PREFIX) || path.length === MODEL_PREFIX.length) {
    return undefined;
  }
  try {
    return decodeURIComponent(path.slice(MODEL_PREFIX.length));
  } catch {
    return undefined;
  }
}

/** The one buyer of `serve`, as the scope of its stored responses. */
const SERVE_BUYER = "serve";

/**
 * Reads a request body up to `maxBytes`; resolves `undefined` when it is
 * larger (the rest is not read).
 */
async function readBody(
  request: Request,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

function sseError(message: string): Uint8Array {
  const data = JSON.stringify({
    type: "error",
    code: "internal_error",
    message,
  });
  return encoder.encode(`event: error\ndata: ${data}\n\n`);
}

/** Largest error body whose code is read for the log line. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** The `error.code` of an OpenAI-shaped error answered whole, if it is one. */
function errorCodeOf(response: SerializedHttpResponse): string | undefined {
  if (
    response.statusCode < 400 ||
    response.body.byteLength > MAX_ERROR_BODY_BYTES
  ) {
    return undefined;
  }
  try {
    const code = JSON.parse(decoder.decode(response.body))?.error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

/** Aborts when either signal aborts (`AbortSignal.any` is missing before Node 20.3). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const both = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) both.abort(signal.reason);
    signal.addEventListener("abort", () => both.abort(signal.reason), {
      once: true,
    });
  }
  return both.signal;
}

/**
 * Drives `handleRequestStream` and turns its callbacks into a web Response:
 * the stream start becomes a Response whose body is a ReadableStream fed by
 * the chunks; a response resolved without a start is answered whole. A
 * client that goes away (request signal, or the body stream cancelled)
 * aborts the upstream exchange. `onSettled` is told the status and, for an
 * error answered whole, its code, once the provider has finished (a
 * stream: once it ended).
 */
function relayToProvider(
  provider: ServedProvider,
  req: SerializedHttpRequest,
  clientSignal: AbortSignal,
  onSettled: (status: number, code?: string) => void,
): Promise<Response> {
  const cancelled = new AbortController();
  const signal = eitherSignal(clientSignal, cancelled.signal);
  return new Promise<Response>((resolve) => {
    let controller: ReadableStreamDefaultController<Uint8Array> | undefined;
    let answered = false;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      try {
        controller?.close();
      } catch {
        // The consumer cancelled the stream already.
      }
    };
    const callbacks: ProviderStreamCallbacks = {
      onResponseStart(response) {
        if (answered) throw new Error("The response was started already");
        answered = true;
        startStatus = response.statusCode;
        const body = new ReadableStream<Uint8Array>({
          start(streamController) {
            controller = streamController;
          },
          cancel() {
            closed = true;
            cancelled.abort();
          },
        });
        if (response.body.byteLength > 0) {
          controller!.enqueue(response.body);
        }
        resolve(
          new Response(body, {
            status: response.statusCode,
            headers: toResponseHeaders(response.headers),
          }),
        );
      },
      onResponseChunk(chunk) {
        if (!answered) return;
        if (closed || signal.aborted) {
          throw new Error("Cannot send in state closed");
        }
        if (chunk.data.byteLength > 0) controller!.enqueue(chunk.data);
        if (chunk.done) close();
      },
    };
    let startStatus = 0;
    // A local client has no 30-second window: a slow answer keeps its own
    // status instead of being held open as a committed stream.
    provider.handleRequestStream(req, callbacks, { signal, hold: false }).then(
      (response) => {
        if (!answered) {
          answered = true;
          resolve(
            new Response(response.body as Uint8Array<ArrayBuffer>, {
              status: response.statusCode,
              headers: toResponseHeaders(response.headers),
            }),
          );
          onSettled(response.statusCode, errorCodeOf(response));
        } else {
          close();
          onSettled(startStatus);
        }
      },
      () => {
        const failure = new RelayError(
          500,
          "internal_error",
          "The provider failed unexpectedly",
        );
        if (!answered) {
          answered = true;
          resolve(errorJson(failure));
          onSettled(failure.status, failure.code);
          return;
        }
        onSettled(startStatus, failure.code);
        if (!closed) {
          try {
            controller!.enqueue(sseError("The provider failed unexpectedly"));
          } catch {
            // The consumer cancelled the stream already.
          }
        }
        close();
      },
    );
  });
}

/**
 * Creates the web-standard handler of the local server.
 *
 * - `POST /v1/responses` and `POST /v1/chat/completions`: relayed through
 *   `provider.handleRequestStream`, with the request's signal wired to the
 *   upstream exchange.
 * - `GET /v1/models`: the announced services as an OpenAI model list, or,
 *   when none are announced, the models the seller's account may use
 *   (`GET <base>/codex/models`), cached for a few minutes; requests that
 *   come while it is read share that read, and a failed read is answered
 *   again without a call for 15 s. With a
 *   `client_version` query (the Codex CLI with a ChatGPT login), the same
 *   models in the backend's catalog format `{"models":[ModelInfo…]}`
 *   instead; see `codex_models.ts`.
 * - `GET /v1/models/{id}`: one model of that list, or 404
 *   `model_not_found`.
 * - `GET /health`: status, capacity, usage-limit time and rate-limit
 *   snapshot, and per login its usage and banked rate-limit resets (count
 *   and expiry, never spent); no secret.
 * - `GET /metrics`: the provider's numbers in the Prometheus text format.
 *
 * Checks, in this order, each refused with an OpenAI-shaped error and no
 * upstream call:
 *
 * 1. with `allowedHosts`, the `host` header (421 `invalid_host`);
 * 2. an `origin` header must be one of `allowedOrigins` (403
 *    `origin_not_allowed`); a preflight `OPTIONS` of an allowed origin on a
 *    route is answered 204 here (a browser sends no key with it), and every
 *    answer to that origin carries `access-control-allow-origin`;
 * 3. with `apiKey`, `authorization: Bearer <apiKey>` (401
 *    `invalid_api_key`);
 * 4. the route and method (404 `not_found`, 405 `method_not_allowed`);
 * 5. `POST /v1/responses` must be `content-type: application/json`,
 *    parameters allowed (415 `unsupported_media_type`), and at most
 *    `maxBodyBytes` long (413 `request_too_large`).
 *
 * @example
 * ```ts
 * import { createProvider } from "../provider/provider.ts";
 * import { createServerHandler } from "./handler.ts";
 *
 * const handler = createServerHandler(createProvider({}));
 * const response = await handler(new Request("http://localhost/health"));
 * console.log(response.status); // 200
 * ```
 */
export function createServerHandler(
  provider: ServedProvider,
  options: ServerHandlerOptions = {},
): ServerHandler {
  const now = options.now ?? Date.now;
  const allowedOrigins = (options.allowedOrigins ?? []).map((origin) =>
    origin.toLowerCase()
  );
  const created = Math.floor(now() / 1000);

  /** Tells `onRequestDone` of one request, once its answer is complete. */
  function report(
    started: number,
    requestId: string,
    request: Request,
    path: string,
    status: number,
    code?: string,
  ): void {
    options.onRequestDone?.({
      requestId,
      method: request.method,
      path,
      status,
      code,
      durationMs: Math.max(0, now() - started),
    });
  }

  function logged(
    started: number,
    requestId: string,
    request: Request,
    path: string,
    response: Response,
    code?: string,
  ): Response {
    report(started, requestId, request, path, response.status, code);
    return response;
  }

  function modelObject(id: string) {
    return { id, object: "model", created, owned_by: "openai" };
  }

  function modelIds(): Promise<string[]> | string[] {
    return provider.services.length > 0
      ? provider.services
      : listBackendModels(provider, options);
  }

  /**
   * `GET /v1/models`: with `client_version` (the Codex CLI), the backend's
   * catalog format; otherwise an OpenAI model list.
   */
  async function models(url: URL): Promise<Response> {
    const clientVersion = url.searchParams.get("client_version");
    if (clientVersion === null) {
      return json({
        object: "list",
        data: (await modelIds()).map(modelObject),
      });
    }
    const services = provider.services;
    // Announced services are listed even when the catalog cannot be read
    // (each then described with the required fields only).
    const catalog = services.length > 0
      ? await readBackendCatalog(provider, options).catch(() => [])
      : await readBackendCatalog(provider, options);
    return json(codexModelList({
      catalog,
      services,
      aliasMap: provider.settings.aliasMap,
      baseInstructions: provider.settings.defaultInstructions,
      clientVersion,
    }));
  }

  /** `GET /v1/models/{id}`: the model, or 404 `model_not_found` as OpenAI answers. */
  async function model(id: string): Promise<Response> {
    if ((await modelIds()).includes(id)) return json(modelObject(id));
    throw new RelayError(
      404,
      "model_not_found",
      `The model ${
        JSON.stringify(id.slice(0, 200))
      } does not exist or this seller does not serve it`,
      { details: { param: "model" } },
    );
  }

  async function health(): Promise<Response> {
    const until = provider.usageLimitedUntil();
    const logins = provider.logins
      ? await provider.logins({ usage: true }).catch(() => undefined)
      : undefined;
    // Every login out of rotation until the seller acts: nothing to serve.
    const ended = logins !== undefined && logins.length > 0 &&
      logins.every((login) => isAccountState(login.state));
    return json({
      status: until !== undefined
        ? "usage_limited"
        : ended
        ? "unavailable"
        : "ok",
      capacity: provider.getCapacity(),
      usageLimitedUntil: until === undefined
        ? null
        : new Date(until).toISOString(),
      rateLimits: provider.getRateLimits() ?? null,
      logins: logins?.map((login) => ({
        name: login.name,
        state: login.state,
        inFlight: login.inFlight,
        usageLimitedUntil: login.usageLimitedUntil === undefined
          ? null
          : new Date(login.usageLimitedUntil).toISOString(),
        rateLimits: login.rateLimits ?? null,
        // When the usage endpoint cannot be read, it says so, and the
        // rate-limit snapshot above stands in.
        usage: login.usage ?? null,
        usageUnavailable: login.usageError ?? null,
        // Shown, never spent: only `accounts reset` spends one.
        resets: login.resetCredits === undefined ? null : {
          available: login.resetCredits.availableCount,
          expiresAt: login.resetCredits.credits.map((credit) =>
            credit.expiresAt === undefined
              ? null
              : new Date(credit.expiresAt).toISOString()
          ),
        },
        resetsUnavailable: login.resetCreditsError ?? null,
      })) ?? null,
    });
  }

  /** Everything after the host and origin checks. */
  async function answer(
    request: Request,
    url: URL,
    started: number,
    requestId: string,
  ): Promise<Response> {
    const path = url.pathname;
    const fail = (error: RelayError) =>
      logged(started, requestId, request, path, errorJson(error), error.code);

    if (options.apiKey !== undefined) {
      const refusal = await checkApiKey(
        request.headers.get("authorization"),
        options.apiKey,
      );
      if (refusal) return fail(refusal);
    }

    const modelId = modelOfPath(path);
    const method = modelId !== undefined ? "GET" : ROUTES[path];
    if (method === undefined) {
      return fail(
        new RelayError(
          404,
          "not_found",
          `Unknown path ${
            JSON.stringify(path.slice(0, 200))
          }: expected POST ${RESPONSES_PATH}, POST ${CHAT_COMPLETIONS_PATH}, GET ${MODELS_ROUTE}, GET ${MODELS_ROUTE}/{id}, GET ${HEALTH_ROUTE} or GET ${METRICS_ROUTE}`,
        ),
      );
    }
    const asked = request.method.toUpperCase();
    if (asked !== method) {
      return fail(
        new RelayError(
          405,
          "method_not_allowed",
          `Method ${
            JSON.stringify(request.method.slice(0, 20))
          } is not allowed on ${path}: use ${method}`,
          { headers: { allow: method } },
        ),
      );
    }

    if (path === METRICS_ROUTE) {
      return logged(
        started,
        requestId,
        request,
        path,
        new Response(provider.metrics?.() ?? "", {
          headers: { "content-type": "text/plain; version=0.0.4" },
        }),
      );
    }
    if (path === HEALTH_ROUTE) {
      return logged(started, requestId, request, path, await health());
    }
    if (path === MODELS_ROUTE || modelId !== undefined) {
      try {
        const answer = modelId !== undefined
          ? await model(modelId)
          : await models(url);
        return logged(started, requestId, request, path, answer);
      } catch (error) {
        if (error instanceof RelayError) return fail(error);
        return fail(
          new RelayError(
            502,
            "upstream_models_unavailable",
            "The list of models could not be read from the upstream",
          ),
        );
      }
    }

    const unsupported = checkJsonContentType(
      request.headers.get("content-type"),
    );
    if (unsupported) return fail(unsupported);
    const maxBytes = provider.settings.maxBodyBytes;
    let body: Uint8Array | undefined;
    try {
      body = await readBody(request, maxBytes);
    } catch (error) {
      // A body that stopped arriving (the adapter's 408); any other failure
      // is a client that went away.
      if (error instanceof RelayError) return fail(error);
      throw error;
    }
    if (body === undefined) {
      return fail(
        new RelayError(
          413,
          "request_too_large",
          `Expected a request body of at most ${maxBytes} bytes, found more`,
        ),
      );
    }
    return await relayToProvider(
      provider,
      {
        requestId,
        method: request.method,
        path: `${path}${url.search}`,
        headers: providerHeaders(request.headers),
        body,
      },
      request.signal,
      (status, code) => report(started, requestId, request, path, status, code),
    );
  }

  return async function handle(request: Request): Promise<Response> {
    const started = now();
    const requestId = crypto.randomUUID();
    const url = new URL(request.url);
    const path = url.pathname;
    const fail = (error: RelayError) =>
      logged(started, requestId, request, path, errorJson(error), error.code);

    if (options.allowedHosts !== undefined) {
      const hosts = typeof options.allowedHosts === "function"
        ? options.allowedHosts()
        : options.allowedHosts;
      const refusal = checkHost(request, hosts);
      if (refusal) return fail(refusal);
    }

    const origin = request.headers.get("origin");
    if (origin === null) return await answer(request, url, started, requestId);
    const refusal = checkOrigin(origin, allowedOrigins);
    if (refusal) return fail(refusal);
    const method = ROUTES[path];
    if (request.method.toUpperCase() === "OPTIONS" && method !== undefined) {
      return logged(
        started,
        requestId,
        request,
        path,
        preflightResponse(request, origin, method),
      );
    }
    return withCorsHeaders(
      await answer(request, url, started, requestId),
      origin,
    );
  };
}
