/**
 * The `Deno.serve` adapter of the local server, a few lines of glue around
 * the web-standard handler (src/serve/handler.ts). Declares the part of the
 * `Deno` namespace it uses, so that tsc builds it for Node too (where it is
 * never called).
 *
 * @module
 */

import type {
  ListenFunction,
  RunningServer,
  ServerHandler,
} from "./handler.ts";

/** The part of Deno's `serve` this module uses (declared here: tsc builds this file for Node too). */
export interface DenoServer {
  /** Stops accepting and resolves once the requests in flight finished. */
  shutdown(): Promise<void>;
}

/** The part of the `Deno` namespace this module uses. */
export interface DenoLike {
  /** Serves `handler` as `Deno.serve` does. */
  serve(
    options: {
      hostname: string;
      port: number;
      onListen?: (address: { hostname: string; port: number }) => void;
      onError?: (error: unknown) => Response | Promise<Response>;
    },
    handler: (request: Request) => Promise<Response>,
  ): DenoServer;
}

/**
 * The `Deno` namespace when running on Deno, else `undefined`.
 *
 * @example
 * ```ts
 * import { denoRuntime } from "./deno.ts";
 * console.log(denoRuntime() !== undefined);
 * ```
 */
export function denoRuntime(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

/**
 * The `Deno.serve` adapter of the local server: serves a handler and
 * resolves once it listens; `close(graceMs)` shuts down gracefully, giving
 * the requests in flight up to `graceMs` (default 10000).
 *
 * @example
 * ```ts ignore
 * import { denoRuntime, serveWithDeno } from "./deno.ts";
 * const listen = serveWithDeno(denoRuntime()!);
 * const server = await listen(() => Promise.resolve(new Response("ok")), {
 *   hostname: "127.0.0.1",
 *   port: 0,
 * });
 * await server.close();
 * ```
 */
export function serveWithDeno(deno: DenoLike): ListenFunction {
  return (handler: ServerHandler, options) =>
    new Promise<RunningServer>((resolve, reject) => {
      try {
        const server = deno.serve({
          hostname: options.hostname,
          port: options.port,
          onListen: ({ port }) =>
            resolve({
              hostname: options.hostname,
              port,
              close(graceMs = 10_000): Promise<void> {
                let timer: ReturnType<typeof setTimeout> | undefined;
                const grace = new Promise<void>((done) => {
                  timer = setTimeout(done, graceMs);
                });
                return Promise.race([server.shutdown(), grace]).finally(() =>
                  clearTimeout(timer)
                );
              },
            }),
          onError: () =>
            Response.json({
              error: {
                message: "The server failed unexpectedly",
                type: "server_error",
                code: "internal_error",
              },
            }, { status: 500 }),
        }, handler);
      } catch (error) {
        reject(error);
      }
    });
}
