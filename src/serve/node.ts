/**
 * The `node:http` adapter of the local server, on Node and on Deno: turns
 * each incoming request into a web `Request` (whose signal aborts when the
 * client disconnects) and writes the handler's `Response` back, streaming
 * its body with backpressure and stopping as soon as the client is gone.
 *
 * Slow clients are bounded: the headers must arrive within a time, a body
 * may not pause for longer than another, an idle keep-alive connection is
 * closed, and a connection whose request was answered before its body was
 * read is closed after the answer. Deno's own `Deno.serve` has none of
 * these timeouts and cannot be given a listener of ours, while Deno's
 * `node:http` keeps Node's, so both runtimes serve with this adapter.
 *
 * A request that no web `Request` can hold is answered here, in the
 * handler's error format, and told to `onRequestDone`: a method the Fetch
 * standard forbids (`CONNECT`, `TRACE`; the runtime's parser refuses
 * `TRACK` itself with a bare 400) gets 405 `method_not_allowed`, a target
 * that is no URL (`GET http://[`) 400 `invalid_request_target`.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { RelayError } from "../errors.ts";
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
  type ListenOptions,
  type RunningServer,
  type ServerHandler,
} from "./handler.ts";

/**
 * The whole request, headers and body, within this time (Node's default,
 * kept on both runtimes): a body that trickles in just under the pause
 * bound still ends.
 */
const REQUEST_TIMEOUT_MS = 300_000;

/** How often, at most, the server looks for requests past their header time. */
const MAX_CHECKING_INTERVAL_MS = 1_000;

function bodyTimeoutError(bodyTimeoutMs: number): RelayError {
  return new RelayError(
    408,
    "request_body_timeout",
    `Request body timeout: expected the body to keep arriving, found no byte for ${bodyTimeoutMs} ms`,
  );
}

/**
 * The request body as a web stream. Each read waits at most
 * `bodyTimeoutMs` for the next bytes; then the stream errors with 408
 * `request_body_timeout`, which the handler answers.
 */
function bodyStream(
  req: IncomingMessage,
  bodyTimeoutMs: number,
): ReadableStream<Uint8Array> {
  const iterator = req[Symbol.asyncIterator]();
  let ended = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          ended = true;
          controller.error(bodyTimeoutError(bodyTimeoutMs));
          resolve();
        }, bodyTimeoutMs);
        iterator.next().then(({ done, value }) => {
          clearTimeout(timer);
          if (ended) return;
          if (done) {
            ended = true;
            controller.close();
          } else {
            const chunk = value as Uint8Array;
            controller.enqueue(
              new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
            );
          }
        }, (error) => {
          clearTimeout(timer);
          if (ended) return;
          ended = true;
          controller.error(error);
        }).finally(resolve);
      });
    },
    cancel() {
      ended = true;
      // Drain what the client still sends so the answer can go out.
      req.resume();
    },
  });
}

/**
 * Methods a web `Request` refuses (the Fetch standard's forbidden methods):
 * the handler can never be given one.
 */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** The methods the server's routes take, for the `allow` header. */
const ALLOWED_METHODS = "GET, POST";

function methodRefusal(method: string): RelayError {
  return new RelayError(
    405,
    "method_not_allowed",
    `Method ${
      JSON.stringify(method.slice(0, 20))
    } is not allowed: use GET or POST`,
    { headers: { allow: ALLOWED_METHODS } },
  );
}

/**
 * Why a request cannot become a web `Request`, as the answer to it; the
 * path it is logged under (the raw target when it is no URL; without the
 * query, as the handler logs a path); `undefined` when it can.
 */
function refusalOf(
  method: string,
  target: string,
  base: string,
): { error: RelayError; path: string } | undefined {
  let url: URL;
  try {
    url = new URL(target, base);
  } catch {
    const query = target.indexOf("?");
    return {
      error: new RelayError(
        400,
        "invalid_request_target",
        `Invalid request target ${
          JSON.stringify(target.slice(0, 200))
        }: expected a path such as /v1/responses`,
      ),
      path: query === -1 ? target : target.slice(0, query),
    };
  }
  if (FORBIDDEN_METHODS.has(method)) {
    return { error: methodRefusal(method), path: url.pathname };
  }
  return undefined;
}

/** The error as the handler answers one: its JSON, its status and headers. */
function errorResponse(error: RelayError): Response {
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { "content-type": "application/json", ...error.headers },
  });
}

function toWebRequest(
  req: IncomingMessage,
  base: string,
  signal: AbortSignal,
  bodyTimeoutMs: number,
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) headers.append(name, item);
    } else {
      headers.set(name, value);
    }
  }
  const method = (req.method ?? "GET").toUpperCase();
  const body = method !== "GET" && method !== "HEAD"
    ? bodyStream(req, bodyTimeoutMs)
    : undefined;
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers,
    body,
    signal,
  };
  if (body) init.duplex = "half";
  return new Request(new URL(req.url ?? "/", base), init);
}

/**
 * Resolves once the answer's buffered bytes drained, or its client went:
 * the answer closed, or `gone` aborted. An answer queued behind another on
 * the connection (pipelined requests) gets no `close` of its own when the
 * client goes, so `gone` is what ends its wait.
 */
function waitForDrain(res: ServerResponse, gone: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (gone.aborted) return resolve();
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      gone.removeEventListener("abort", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
    gone.addEventListener("abort", done, { once: true });
  });
}

async function writeResponse(
  response: Response,
  req: IncomingMessage,
  res: ServerResponse,
  gone: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  // A request answered before its body arrived whole (refused, or its body
  // stalled): the rest of the body is not waited for, the connection ends
  // with the answer.
  if (!req.complete) headers.connection = "close";
  res.writeHead(response.status, headers);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const stop = () => {
    reader.cancel().catch(() => {});
  };
  gone.addEventListener("abort", stop, { once: true });
  try {
    while (!gone.aborted) {
      const { done, value } = await reader.read();
      if (done) break;
      if (gone.aborted) break;
      if (!res.write(value)) await waitForDrain(res, gone);
    }
  } catch {
    // The body failed or was cancelled because the client went away.
  } finally {
    gone.removeEventListener("abort", stop);
    if (gone.aborted) {
      await reader.cancel().catch(() => {});
    }
    reader.releaseLock();
    if (!gone.aborted) res.end();
  }
}

/**
 * Serves a handler with `node:http` and resolves once it listens. A client
 * that disconnects aborts the handler's `request.signal` and stops the
 * writing of its answer. A client that sends its headers too slowly gets
 * 408 and loses its connection (`headersTimeoutMs`), a body that pauses for
 * longer than `bodyTimeoutMs` is answered 408 `request_body_timeout`, an
 * idle keep-alive connection is closed after `keepAliveTimeoutMs`, and the
 * connection of a request answered before its body was read ends with the
 * answer. `close(graceMs)` stops accepting connections, waits up to
 * `graceMs` (default 10000) for the answers in flight, then drops every
 * connection.
 *
 * @example
 * ```ts
 * import { serveWithNodeHttp } from "./node.ts";
 *
 * const server = await serveWithNodeHttp(
 *   () => Promise.resolve(new Response("ok")),
 *   { hostname: "127.0.0.1", port: 0 },
 * );
 * console.log(server.port);
 * await server.close();
 * ```
 */
export function serveWithNodeHttp(
  handler: ServerHandler,
  options: ListenOptions,
): Promise<RunningServer> {
  const headersTimeoutMs = options.headersTimeoutMs ??
    DEFAULT_HEADERS_TIMEOUT_MS;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const server = createServer({
    headersTimeout: headersTimeoutMs,
    requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeoutMs),
    // Node looks for requests past these times every 30 s by default.
    connectionsCheckingInterval: Math.min(
      MAX_CHECKING_INTERVAL_MS,
      Math.ceil(headersTimeoutMs / 4),
    ),
  });
  server.keepAliveTimeout = options.keepAliveTimeoutMs ??
    DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
  let inFlight = 0;
  let idle: (() => void) | undefined;
  /** The answers of each connection not ended yet. */
  const openOn = new WeakMap<object, Set<() => void>>();
  /**
   * Refused CONNECT sockets still open: `node:http` lets go of a socket it
   * hands to `connect`, so `closeAllConnections` does not see them.
   */
  const refused = new Set<Duplex>();

  /** Tells `onRequestDone` of a request answered here, not by the handler. */
  function report(
    method: string,
    path: string,
    error: RelayError,
    started: number,
  ): void {
    options.onRequestDone?.({
      requestId: crypto.randomUUID(),
      method,
      path,
      status: error.status,
      code: error.code,
      durationMs: Math.max(0, Date.now() - started),
    });
  }

  // `node:http` hands a CONNECT to this event, not to `request`, and
  // without a listener drops the connection without a word: it gets the
  // 405 every other forbidden method gets, then the connection ends.
  server.on("connect", (req: IncomingMessage, socket: Duplex) => {
    const started = Date.now();
    socket.on("error", () => {});
    const error = methodRefusal(req.method ?? "CONNECT");
    const body = new TextEncoder().encode(JSON.stringify(error.toJSON()));
    const head = [
      "HTTP/1.1 405 Method Not Allowed",
      "content-type: application/json",
      `allow: ${ALLOWED_METHODS}`,
      `content-length: ${body.byteLength}`,
      "connection: close",
    ].join("\r\n");
    socket.write(`${head}\r\n\r\n`);
    socket.end(body);
    // A client that keeps its side open is not waited for longer than one
    // that is slow to send its headers.
    const timer = setTimeout(() => socket.destroy(), headersTimeoutMs);
    refused.add(socket);
    socket.once("close", () => {
      clearTimeout(timer);
      refused.delete(socket);
    });
    report(req.method ?? "CONNECT", req.url ?? "", error, started);
  });

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    inFlight++;
    const gone = new AbortController();
    // The connection is watched too: an answer queued behind another
    // (pipelined requests) never emits `close` when the client goes away.
    // One listener per connection, however many requests it queues.
    const socket = req.socket;
    let open = openOn.get(socket);
    if (open === undefined) {
      const answers = new Set<() => void>();
      open = answers;
      openOn.set(socket, answers);
      socket.once("close", () => {
        for (const end of [...answers]) end();
      });
    }
    const answers = open;
    const end = () => {
      if (!answers.delete(end)) return;
      if (!res.writableFinished) gone.abort();
      inFlight--;
      if (inFlight === 0) idle?.();
    };
    answers.add(end);
    res.on("close", end);
    const hostname = options.hostname.includes(":")
      ? `[${options.hostname}]`
      : options.hostname;
    const base = `http://${hostname}:${(server.address() as AddressInfo).port}`;
    void (async () => {
      let response: Response;
      const method = (req.method ?? "GET").toUpperCase();
      const refusal = refusalOf(method, req.url ?? "/", base);
      if (refusal !== undefined) {
        // Answered as the handler answers a refusal, and told like one:
        // `new Request` would throw, which used to end as a 500 no log line
        // told of.
        response = errorResponse(refusal.error);
        report(method, refusal.path, refusal.error, started);
      } else {
        try {
          response = await handler(
            toWebRequest(req, base, gone.signal, bodyTimeoutMs),
          );
        } catch {
          response = new Response(
            JSON.stringify({
              error: {
                message: "The server failed unexpectedly",
                type: "server_error",
                code: "internal_error",
              },
            }),
            { status: 500, headers: { "content-type": "application/json" } },
          );
        }
      }
      if (gone.signal.aborted) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      await writeResponse(response, req, res, gone.signal);
    })();
  });

  return new Promise<RunningServer>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const address = server.address() as AddressInfo;
      resolve({
        hostname: options.hostname,
        port: address.port,
        close(graceMs = 10_000): Promise<void> {
          const closed = new Promise<void>((done) =>
            server.close(() => done())
          );
          server.closeIdleConnections();
          const drained = inFlight === 0
            ? Promise.resolve()
            : new Promise<void>((done) => {
              idle = done;
            });
          let timer: ReturnType<typeof setTimeout> | undefined;
          const grace = new Promise<void>((done) => {
            timer = setTimeout(done, graceMs);
          });
          return Promise.race([drained, grace]).then(() => {
            clearTimeout(timer);
            server.closeAllConnections();
            for (const socket of refused) socket.destroy();
            return closed;
          });
        },
      });
    });
  });
}
