/**
 * `serve`: the provider as a local OpenAI-compatible server
 * (`POST /v1/responses`, `POST /v1/chat/completions`, `GET /v1/models`,
 * `GET /v1/models/{id}`, `GET /health`, `GET /metrics`), with one log line
 * per request, an optional API key, timeouts for slow clients, and a
 * bounded drain on SIGINT/SIGTERM.
 *
 * @module
 */

import { isLoopbackHost } from "../config.ts";
import { ConfigError, OpenAIResponsesError } from "../errors.ts";
import {
  createServerHandler,
  loopbackHosts,
  type ServerLogEntry,
} from "../serve/handler.ts";
import {
  MAX_API_KEY_LENGTH,
  MAX_AUTHORIZATION_LENGTH,
} from "../serve/_api_key.ts";
import { UsageError } from "./args.ts";
import { createProvider, type RequestLogEntry } from "../provider/provider.ts";
import {
  parseAllowedOrigins,
  parseServeTimeouts,
  SERVE_ALLOWED_ORIGINS_ENV,
  SERVE_API_KEY_ENV,
} from "./env.ts";
import type { CliIo } from "./io.ts";
import { formatLogLine, type LogLineEntry } from "./log_line.ts";
import { hideHome } from "../mask.ts";

/** Default interface of `serve`. */
export const DEFAULT_SERVE_HOST = "127.0.0.1";
/** Default port of `serve`. */
export const DEFAULT_SERVE_PORT = 8787;
/** How long requests in flight may finish after SIGINT/SIGTERM, in milliseconds. */
export const DRAIN_MS = 10_000;

/** Options of {@linkcode runServe}. */
export interface ServeOptions {
  /** Interface to bind (default `127.0.0.1`). */
  hostname?: string;
  /** Port (default 8787; `0` picks a free one). */
  port?: number;
  /** How long requests in flight may finish on shutdown, in milliseconds (default 10000). */
  drainMs?: number;
}

function listenError(
  hostname: string,
  port: number,
  error: unknown,
): OpenAIResponsesError {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  const found = code === "EADDRINUSE" || name === "AddrInUse"
    ? "the address is already in use"
    : code === "EACCES" || name === "PermissionDenied"
    ? "permission denied"
    : code === "EADDRNOTAVAIL" || name === "AddrNotAvailable"
    ? "the address is not available on this machine"
    : `an error (${String(code ?? name ?? "unknown")})`;
  return new OpenAIResponsesError(
    "listen_failed",
    `Cannot listen on ${
      urlHost(hostname)
    }:${port}: expected a free address, found ${found}. Pick another --port or --host`,
  );
}

function urlHost(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
}

/**
 * Runs `serve` until SIGINT or SIGTERM: validates the configuration, loads
 * the credentials (`provider.init()`), listens, prints
 * `listening on http://<host>:<port>` to standard output and one log line
 * per request to standard error. On a signal it stops accepting, lets the
 * requests in flight finish for up to `drainMs`, and resolves 0.
 *
 * On a loopback host only requests whose `host` header names that address,
 * `localhost`, `127.0.0.1` or `[::1]` with the bound port are served (DNS
 * rebinding); on any host a request with an `origin` header is served only
 * when `OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS` lists that origin.
 *
 * A client has `OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS` (default 10 s) to
 * send its headers, a body may not pause for longer than
 * `OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS` (default 30 s), and an idle
 * keep-alive connection is closed after
 * `OPENAI_RESPONSES_SERVE_KEEP_ALIVE_TIMEOUT_MS` (default 5 s).
 *
 * Throws a `UsageError` when a non-loopback host is bound without
 * `OPENAI_RESPONSES_SERVE_API_KEY`, a `ConfigError` for an API key too long
 * to fit in an authorization header, a malformed
 * `OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS` or a malformed timeout, and the
 * provider's errors (configuration, credentials) for the caller to print.
 *
 * @example
 * ```ts ignore
 * const code = await runServe(config, io, { port: 0 });
 * ```
 */
export async function runServe(
  config: Record<string, string>,
  io: CliIo,
  options: ServeOptions = {},
): Promise<number> {
  const hostname = options.hostname ?? DEFAULT_SERVE_HOST;
  const port = options.port ?? DEFAULT_SERVE_PORT;
  const apiKeyValue = io.env[SERVE_API_KEY_ENV]?.trim();
  const apiKey = apiKeyValue === "" ? undefined : apiKeyValue;
  if (!isLoopbackHost(hostname) && apiKey === undefined) {
    throw new UsageError(
      `Refusing to listen on ${
        JSON.stringify(hostname)
      } without ${SERVE_API_KEY_ENV}: expected a loopback host (127.0.0.1, localhost, ::1) or an API key, found neither. ` +
        `Anyone who can reach that address could spend the seller's subscription`,
    );
  }
  if (apiKey !== undefined && apiKey.length > MAX_API_KEY_LENGTH) {
    throw new ConfigError(
      SERVE_API_KEY_ENV,
      `Invalid ${SERVE_API_KEY_ENV}: expected at most ${MAX_API_KEY_LENGTH} characters (an authorization header is read up to ${MAX_AUTHORIZATION_LENGTH}), found ${apiKey.length}`,
    );
  }
  const allowedOrigins = parseAllowedOrigins(io.env[SERVE_ALLOWED_ORIGINS_ENV]);
  const timeouts = parseServeTimeouts(io.env);

  const log = (entry: LogLineEntry) =>
    io.stderr(`${formatLogLine(entry, Date.now())}\n`);
  // One line per request: the handler tells of every request once its
  // answer is complete; the provider, just before, of those it relayed
  // (model, tokens, and the code of a failure inside a stream).
  const relayed = new Map<string, RequestLogEntry>();
  const requestDone = (entry: ServerLogEntry) => {
    const fromProvider = relayed.get(entry.requestId);
    relayed.delete(entry.requestId);
    log({
      ...entry,
      service: fromProvider?.service,
      usage: fromProvider?.usage,
      code: fromProvider?.code ?? entry.code,
    });
  };
  // serve prints its own line per request (with the provider's code):
  // the provider's own request lines would repeat it.
  // Everyone who may call serve is one buyer (one scope of stored
  // responses): that buyer may use the whole store unless the seller says
  // otherwise.
  const providerConfig = { ...config };
  if (!config.OPENAI_RESPONSES_STATE_BUYER_SHARE?.trim()) {
    providerConfig.OPENAI_RESPONSES_STATE_BUYER_SHARE = "1";
  }
  const provider = createProvider(providerConfig, {
    logRequests: false,
    onRequestDone: (entry) => relayed.set(entry.requestId, entry),
    onWarning: (message) =>
      io.stderr(`warning: ${hideHome(message, io.homeDir)}\n`),
    onLog: (line) => io.stderr(`${hideHome(line, io.homeDir)}\n`),
    metrics: true,
  });
  await provider.init();
  // On loopback the host check is the protection against DNS rebinding; it
  // needs the port, known once listening (`--port 0`), and refuses every
  // host until then. Elsewhere the API key protects and any host is served.
  let allowedHosts: readonly string[] = [];
  const handler = createServerHandler(provider, {
    apiKey,
    allowedHosts: isLoopbackHost(hostname) ? () => allowedHosts : undefined,
    allowedOrigins,
    onRequestDone: requestDone,
  });

  // Subscribe before listening so an early signal is not lost.
  let stop: (signal: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    stop = resolve;
  });
  const unsubscribe = io.onShutdownSignal((signal) => stop(signal));
  try {
    let server;
    try {
      server = await io.listen(handler, {
        hostname,
        port,
        ...timeouts,
        onRequestDone: requestDone,
      });
    } catch (error) {
      throw listenError(hostname, port, error);
    }
    allowedHosts = loopbackHosts(hostname, server.port);
    io.stdout(`listening on http://${urlHost(hostname)}:${server.port}\n`);
    if (apiKey !== undefined) {
      io.stderr(
        `requests must carry "authorization: Bearer <${SERVE_API_KEY_ENV}>"\n`,
      );
    }
    const signal = await stopped;
    const drainMs = options.drainMs ?? DRAIN_MS;
    io.stderr(
      `${signal}: stopping; letting the requests in flight finish (up to ${
        Math.round(drainMs / 1000)
      } s)\n`,
    );
    await server.close(drainMs);
    io.stderr("stopped\n");
    return 0;
  } finally {
    unsubscribe();
  }
}
