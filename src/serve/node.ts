/**
 * The `node:http` adapter of the local server: turns each incoming request
 * into a web `Request` (whose signal aborts when the client disconnects) and
 * writes the handler's `Response` back, streaming its body with backpressure
 * and stopping as soon as the client is gone. Runs on Node and on Deno.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { ListenOptions, RunningServer, ServerHandler } from "./handler.ts";

function toWebRequest(
  req: IncomingMessage,
  base: string,
  signal: AbortSignal,
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
  let body: ReadableStream<Uint8Array> | undefined;
  if (method !== "GET" && method !== "HEAD") {
    const iterator = req[Symbol.asyncIterator]();
    body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await iterator.next();
          if (done) {
            controller.close();
          } else {
            const chunk = value as Uint8Array;
            controller.enqueue(
              new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
            );
          }
        } catch (error) {
          controller.error(error);
        }
      },
      cancel() {
        // Drain what the client still sends so the answer can go out.
        req.resume();
      },
    });
  }
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers,
    body,
    signal,
  };
  if (body) init.duplex = "half";
  return new Request(new URL(req.url ?? "/", base), init);
}

function waitForDrain(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function writeResponse(
  response: Response,
  res: ServerResponse,
  gone: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
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
      if (!res.write(value)) await waitForDrain(res);
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
 * writing of its answer. `close(graceMs)` stops accepting connections, waits
 * up to `graceMs` (default 10000) for the answers in flight, then drops every
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
  const server = createServer();
  let inFlight = 0;
  let idle: (() => void) | undefined;

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const gone = new AbortController();
    res.on("close", () => {
      if (!res.writableFinished) gone.abort();
      inFlight--;
      if (inFlight === 0) idle?.();
    });
    const hostname = options.hostname.includes(":")
      ? `[${options.hostname}]`
      : options.hostname;
    const base = `http://${hostname}:${(server.address() as AddressInfo).port}`;
    void (async () => {
      let response: Response;
      try {
        response = await handler(toWebRequest(req, base, gone.signal));
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
      if (gone.signal.aborted) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      await writeResponse(response, res, gone.signal);
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
            return closed;
          });
        },
      });
    });
  });
}
