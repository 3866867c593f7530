/**
 * One buyer request through the provider, in the order it runs:
 *
 * 1. **route**: the path and method name a route, or the request is refused
 *    (nothing of the body is read);
 * 2. **admit**: the logins are known, not all usage-limited, and a
 *    concurrency slot is free and taken; a refusal costs nothing more, so a
 *    stranger's large body is never decoded, parsed or expanded unless it
 *    will be served (at most `maxConcurrency` requests are prepared at once);
 * 3. **prepare**: the body is decoded, read, expanded and shaped
 *    (./prepare.ts), within the body limit;
 * 4. **relay**: a login is picked and the upstream exchange opened, moving
 *    on to the next login on a failure that is the login's own (./logins.ts);
 * 5. **answer**: streamed to the host or aggregated (../relay.ts), in the
 *    buyer's protocol; an aggregated answer that is not ready within the
 *    hold time is committed as a JSON stream (./hold.ts), so that the
 *    AntSeed buyer's 30-second window does not cut it;
 * 6. **finish**: the turn stored, the slot released (always, in a
 *    `finally`), the request counted and logged (./observability.ts).
 *
 * @module
 */

import type { ProviderSettings } from "../config.ts";
import { RelayError } from "../errors.ts";
import type {
  ProviderStreamCallbacks,
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../host_types.ts";
import {
  aggregateToResponse,
  errorResponse,
  type OpenUpstream,
  openUpstream,
  type RelayOptions,
  type RelayOutcome,
  streamToHost,
} from "../relay.ts";
import type { ResponseStore } from "../state/response_store.ts";
import type { ConcurrencyGate } from "./capacity.ts";
import { holdAnswer } from "./hold.ts";
import type { Logins } from "./logins.ts";
import type { Observability, RequestLogEntry } from "./observability.ts";
import type { Login, LoginPool } from "./pool.ts";
import {
  type PreparedRequest,
  prepareRequest,
  type TurnToStore,
} from "./prepare.ts";
import { pathOf, type Route, routeOf } from "./routes.ts";

/**
 * Response header listing the request parameters removed because the
 * backend does not accept them (`max_output_tokens`, `temperature`, ...), so
 * that a buyer's client can see what was not applied.
 */
export const DROPPED_HEADER = "x-antseed-dropped-params";

/** What the pipeline runs on: one provider's parts. */
export interface Pipeline {
  /** The provider's settings. */
  settings: ProviderSettings;
  /** The concurrency gate (admission). */
  capacity: ConcurrencyGate;
  /** Finished turns, for later turns. */
  store: ResponseStore;
  /** The logins and what is known of them. */
  logins: Logins;
  /** Metrics, log lines, warnings. */
  observability: Observability;
}

/** Callbacks for `handleRequest` of a streaming buyer: the body is returned whole. */
const NO_CALLBACKS: ProviderStreamCallbacks = {
  onResponseStart() {},
  onResponseChunk() {},
};

/** A failure as the error the buyer gets: an unexpected one is a 500 `internal_error`. */
function asRelayError(error: unknown): RelayError {
  return error instanceof RelayError ? error : new RelayError(
    500,
    "internal_error",
    "The provider failed unexpectedly",
    { cause: error },
  );
}

/** One request on its way through the pipeline: what its log line needs. */
class Handling {
  readonly started = Date.now();
  readonly path: string;
  route: Route | "none" = "none";
  /** Known once the body is read; the log line of an early refusal has none. */
  service: string | undefined;

  constructor(
    readonly req: SerializedHttpRequest,
    readonly seen: Observability,
  ) {
    this.path = pathOf(req.path);
  }

  /** Step 6: the answer, counted and logged. */
  finish(outcome: RelayOutcome, code?: string): SerializedHttpResponse {
    if (!this.seen.wantsEntries && code === undefined && !outcome.failure) {
      return outcome.response;
    }
    const entry: RequestLogEntry = {
      requestId: this.req.requestId,
      method: this.req.method,
      path: this.path,
      service: this.service,
      status: outcome.response.statusCode,
      code: code ?? outcome.failure?.code,
      durationMs: Date.now() - this.started,
      usage: outcome.usage,
    };
    this.seen.requestDone(this.route, entry);
    return outcome.response;
  }

  /** Step 6 of a request that ends in an error before any byte. */
  fail(error: RelayError): SerializedHttpResponse {
    this.seen.noticeFailure(error);
    return this.finish(
      { response: errorResponse(this.req.requestId, error) },
      error.code,
    );
  }
}

/**
 * Answers one buyer request: route, admit, prepare, relay, answer, finish.
 * Never throws: every failure is an OpenAI-shaped error answer, and a
 * started stream always ends with its done chunk.
 *
 * @param parts the provider's parts
 * @param req the host's request
 * @param callbacks the host's stream callbacks (undefined: answer whole)
 * @param options the buyer's abort signal; whether to hold a slow answer
 * @returns the resolved response
 */
export async function handleRequest(
  parts: Pipeline,
  req: SerializedHttpRequest,
  callbacks: ProviderStreamCallbacks | undefined,
  options: { signal?: AbortSignal; hold?: boolean } = {},
): Promise<SerializedHttpResponse> {
  const handling = new Handling(req, parts.observability);
  // 1. Route.
  const route = routeOf(handling.path, req.method);
  if (route instanceof RelayError) return handling.fail(route);
  handling.route = route;
  // 2. Admit.
  const admitted = await admit(parts);
  if (admitted instanceof RelayError) return handling.fail(admitted);
  try {
    // 3. Prepare.
    const prepared = await prepareRequest(
      req,
      parts.settings,
      parts.store,
      route,
    );
    handling.service = prepared.service;
    // 4 and 5. Relay and answer.
    const relayed = relay(
      parts,
      req,
      prepared,
      admitted,
      callbacks,
      options.signal,
    );
    const outcome = callbacks && !prepared.stream && options.hold !== false
      ? await held(parts, req, prepared, callbacks, relayed)
      : await relayed;
    parts.observability.duration((Date.now() - handling.started) / 1000);
    if (outcome.failure) parts.observability.noticeFailure(outcome.failure);
    // 6. Finish.
    return handling.finish(outcome);
  } catch (error) {
    return handling.fail(asRelayError(error));
  } finally {
    parts.capacity.leave();
  }
}

/**
 * Step 2: the pool of logins, once no usage limit blocks every login and a
 * concurrency slot is taken; else the refusal to answer. Reads nothing of
 * the request's body.
 */
async function admit(parts: Pipeline): Promise<LoginPool | RelayError> {
  let pool: LoginPool;
  try {
    pool = parts.logins.found ?? await parts.logins.pool();
  } catch (error) {
    return asRelayError(error);
  }
  const refusal = (pool.allLimited ? await pool.refusal() : undefined) ??
    parts.capacity.enter();
  return refusal ?? pool;
}

/**
 * Steps 4 and 5: the upstream exchange opened on one of the logins of
 * `pool`, then streamed or aggregated to the buyer, in the buyer's protocol;
 * the turn stored. Step 5 is here, not in a function of its own: each async
 * function waiting for the answer holds a frame for as long as it streams.
 */
async function relay(
  parts: Pipeline,
  req: SerializedHttpRequest,
  prepared: PreparedRequest,
  pool: LoginPool,
  callbacks: ProviderStreamCallbacks | undefined,
  signal: AbortSignal | undefined,
): Promise<RelayOutcome> {
  const { login, upstream } = await open(parts, prepared, pool, signal);
  try {
    const how: RelayOptions = {
      idleTimeoutMs: parts.settings.idleTimeoutMs,
      keepAliveMs: parts.settings.keepAliveMs,
      keepOutput: prepared.store !== undefined,
    };
    if (prepared.dropped.length > 0) {
      how.headers = { [DROPPED_HEADER]: prepared.dropped.join(", ") };
    }
    if (prepared.echo) how.echo = prepared.echo;
    if (prepared.chat) await translateForChat(prepared, how);
    const outcome = prepared.stream
      ? await streamToHost(
        upstream,
        req.requestId,
        callbacks ?? NO_CALLBACKS,
        how,
      )
      : await aggregateToResponse(upstream, req.requestId, how);
    parts.logins.noteFailure(login, outcome.failure);
    if (outcome.usageLimit) {
      parts.logins.limitReached(
        login,
        outcome.usageLimit.resetsAt,
        upstream.accountId,
      );
    }
    if (prepared.store && outcome.final) {
      try {
        storeTurn(parts.store, prepared.store, outcome.final);
      } catch {
        // A turn that cannot be kept (on Node, JSON.stringify of a buyer's
        // deeply nested item throws) is not kept: the answer, delivered or
        // ready and paid for upstream, still resolves with its usage.
      }
    }
    return outcome;
  } finally {
    login.inFlight--;
  }
}

/**
 * Step 4: the upstream exchange, opened on the logins of `pool`, moving on
 * to the next login on a failure that is the login's own. The login it
 * opened on counts it in flight; the caller gives that back.
 */
async function open(
  parts: Pipeline,
  prepared: PreparedRequest,
  pool: LoginPool,
  signal: AbortSignal | undefined,
): Promise<{ login: Login; upstream: OpenUpstream }> {
  const { logins, observability } = parts;
  const several = pool.logins.length > 1;
  const excluded = new Set<Login>();
  let last: RelayError | undefined;
  for (;;) {
    const login = pool.pick(prepared.model, prepared.affinity, excluded);
    if (!login) {
      // A login out of rotation whose auth.json changed is tried again.
      if (await pool.revive()) continue;
      throw await logins.noLogin(pool, last, parts.capacity, prepared.model);
    }
    const context = logins.contextOf(login);
    login.inFlight++;
    let upstream: OpenUpstream;
    const asked = performance.now();
    try {
      upstream = await openUpstream(
        prepared,
        signal ? { ...context, signal } : context,
      );
    } catch (error) {
      try {
        const failure = asRelayError(error);
        if (await logins.failOver(login, failure, prepared.model) && several) {
          excluded.add(login);
          last = failure;
          continue;
        }
        throw failure;
      } finally {
        login.inFlight--;
      }
    }
    observability.firstByte((performance.now() - asked) / 1000);
    // Not held while the answer streams: the body (the whole conversation,
    // for most buyers) and the shaped object were only for the attempts.
    prepared.body = "";
    prepared.shaped = prepared.liteBody = undefined;
    return { login, upstream };
  }
}

/**
 * Step 5 of a non-streaming answer for a host with a window: resolved whole
 * when ready within the hold time, else committed as a JSON stream with
 * keep-alives (./hold.ts). A failure after the commit is written into the
 * body; the outcome keeps it for the log line and the metrics.
 */
async function held(
  parts: Pipeline,
  req: SerializedHttpRequest,
  prepared: PreparedRequest,
  callbacks: ProviderStreamCallbacks,
  relayed: Promise<RelayOutcome>,
): Promise<RelayOutcome> {
  const settled = relayed.catch((error): RelayOutcome => {
    const failure = asRelayError(error);
    return { response: errorResponse(req.requestId, failure), failure };
  });
  const response = await holdAnswer(
    callbacks,
    settled.then((outcome) => outcome.response),
    {
      requestId: req.requestId,
      holdMs: parts.settings.holdMs,
      keepAliveMs: parts.settings.holdKeepAliveMs,
      protocol: prepared.chat ? "chat" : "responses",
      model: prepared.service,
      headers: prepared.dropped.length > 0
        ? { [DROPPED_HEADER]: prepared.dropped.join(", ") }
        : undefined,
      echo: prepared.echo,
    },
  );
  const outcome = await settled;
  return response === outcome.response ? outcome : { ...outcome, response };
}

/** Sets the translation of a Chat Completions buyer's answer. */
async function translateForChat(
  prepared: PreparedRequest,
  how: RelayOptions,
): Promise<void> {
  // Loaded with the first Chat Completions request (cold start).
  const model = prepared.service;
  if (prepared.stream) {
    const { ChatStreamTranslator } = await import(
      "../protocols/chat_stream.ts"
    );
    how.translator = new ChatStreamTranslator({
      model,
      includeUsage: prepared.chat!.includeUsage,
    });
  } else {
    const { responseToChatCompletion } = await import(
      "../protocols/chat_response.ts"
    );
    how.convert = (response) => responseToChatCompletion(response, { model });
  }
}

/** Keeps a completed turn for later turns that refer to it. */
function storeTurn(
  store: ResponseStore,
  turn: TurnToStore,
  final: NonNullable<RelayOutcome["final"]>,
): void {
  if ("event" in final && turn.request) {
    store.putRaw(turn.scope, {
      responseId: final.event.responseId,
      request: turn.request,
      response: final.event.data,
      previousResponseId: turn.previousResponseId,
    });
    return;
  }
  const response = "response" in final
    ? final.response
    : parseResponse(final.event.data);
  if (
    !response || typeof response.id !== "string" ||
    !Array.isArray(response.output)
  ) {
    return;
  }
  store.put(turn.scope, {
    responseId: response.id,
    input: turn.input,
    output: response.output,
    previousResponseId: turn.previousResponseId,
  });
}

const decoder = new TextDecoder();

/** The Response of a completed event's data, or undefined. */
function parseResponse(
  data: Uint8Array,
): Record<string, unknown> | undefined {
  try {
    const event = JSON.parse(decoder.decode(data));
    return event?.response;
  } catch {
    return undefined;
  }
}
