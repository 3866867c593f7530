/**
 * A simulated Codex backend (`chatgpt.com/backend-api/codex/...`) on
 * 127.0.0.1, for offline tests, demos and benchmarks. It accepts and rejects
 * what the real backend does (authentication, body rules, exact error
 * texts), answers in the real SSE shape, and can be scripted to fail in every
 * way the real one does: error statuses, usage limits, failed or incomplete
 * responses, truncated or stalled streams, connection resets. A request
 * whose last input item is `{"type":"compaction_trigger"}` is answered, in
 * place of a text or function-call answer, with one `compaction` item
 * (`response.completed` with `output: []`), as the real backend does.
 *
 * Runs on Deno and on Node 20 (`node:http`).
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import type {
  FakeAccountError,
  FakeAccountUsage,
  FakeBehaviour,
  FakeCodexBackend,
  FakeCodexBackendOptions,
  FakeResetCredits,
  FakeResetRedemption,
  FakeUsageFailure,
  FakeUsageLimitInStreamBehaviour,
  RecordedRequest,
} from "./_fake_types.ts";
import { FakeResetBook } from "./_fake_reset_credits.ts";
import {
  authClaim,
  bearerToken,
  checkAuth,
  tokenClaims,
  validateBody,
} from "./_fake_validate.ts";
import {
  type AnswerContext,
  errorEvent,
  failedEvent,
  failureMessage,
  frameEvents,
  functionCallEvents,
  splitText,
  textAnswerEvents,
  throughFirstDelta,
  throughLastDelta,
  usageLimitEvent,
  wantsReasoning,
  type WireEvent,
} from "./_fake_events.ts";
import { defaultBehaviour, defaultText } from "./_fake_default.ts";
import {
  asksForCompaction,
  compactionAnswerEvents,
} from "./_fake_compaction.ts";
import {
  accountErrorAnswer,
  accountUsageBody,
  defaultStatusBody,
  NOISE_HEADERS,
  rateLimitHeaders,
  usageLimitBody,
  type UsageLimitState,
  usageNotIncludedBody,
} from "./_fake_headers.ts";
import { runStream, StreamControl, type StreamPlan } from "./_fake_stream.ts";
import {
  catalogEtag,
  DEFAULT_FAKE_GATED_MODELS,
  DEFAULT_FAKE_RESPONSES_LITE_MODELS,
  isResponsesLiteRequest,
  listModels,
  newerVersionRequired,
  versionAtLeast,
} from "./_fake_models.ts";
import { rateLimitsEvent } from "./_fake_rate_limits_event.ts";
import { RelayError } from "../errors.ts";

export {
  DEFAULT_FAKE_GATED_MODELS,
  DEFAULT_FAKE_RESPONSES_LITE_MODELS,
} from "./_fake_models.ts";

export type {
  FakeAccountError,
  FakeAccountUsage,
  FakeBehaviour,
  FakeCodexBackend,
  FakeCodexBackendOptions,
  FakeErrorEventBehaviour,
  FakeFailedBehaviour,
  FakeFunctionCallBehaviour,
  FakeHeadersNeverBehaviour,
  FakeIncompleteBehaviour,
  FakeLargeBehaviour,
  FakeNoTerminalBehaviour,
  FakeResetBeforeHeadersBehaviour,
  FakeResetCredit,
  FakeResetCredits,
  FakeResetFailure,
  FakeResetMidStreamBehaviour,
  FakeResetRedemption,
  FakeStallBehaviour,
  FakeStatusBehaviour,
  FakeTextBehaviour,
  FakeTruncatedBehaviour,
  FakeUsageCredits,
  FakeUsageFailure,
  FakeUsageLimitBehaviour,
  FakeUsageLimitInStreamBehaviour,
  FakeUsageNotIncludedBehaviour,
  FakeUsageOverride,
  FakeUsageWindow,
  RecordedRequest,
} from "./_fake_types.ts";

/** Models of the simulated account when `models` is not given. */
export const DEFAULT_FAKE_MODELS: readonly string[] = [
  "gpt-5.5",
  "gpt-5.4",
  "gpt-5.4-mini",
  "gpt-5.3-codex",
];

const BASE_PATH = "/backend-api";
const RESPONSES_PATH = `${BASE_PATH}/codex/responses`;
const MODELS_PATH = `${BASE_PATH}/codex/models`;
const USAGE_PATH = `${BASE_PATH}/wham/usage`;
const RESET_CREDITS_PATH = `${BASE_PATH}/wham/rate-limit-reset-credits`;
const CONSUME_PATH = `${RESET_CREDITS_PATH}/consume`;
const DEFAULT_DELTA_CHUNKS = 8;
const DEFAULT_RESETS_IN_SECONDS = 3600;
const LARGE_TEXT =
  "The quick brown fox jumps over the lazy dog while the simulated backend streams. ";

type DefaultBehaviour =
  | FakeBehaviour
  | ((body: Record<string, unknown>) => FakeBehaviour);

/** One HTTP exchange in progress. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  signal: AbortSignal;
  /** Headers of the request, lower-case names. */
  headers: Record<string, string>;
  /** Plan of the caller's token, for headers and usage-limit bodies. */
  planType: string;
  /** The `chatgpt-account-id` header (empty when missing): usage limits are per account. */
  account: string;
}

function recordHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value)
      ? value.join(", ")
      : value;
  }
  return headers;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of req) {
    const bytes = typeof chunk === "string"
      ? new TextEncoder().encode(chunk)
      : chunk as Uint8Array;
    chunks.push(bytes);
    length += bytes.byteLength;
  }
  const all = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}

/** Largest body the simulated backend decodes. */
const MAX_DECODED_BYTES = 64 * 1024 * 1024;
/** The codings the backend decodes: zstd (what the Codex CLI sends) and gzip. */
const BACKEND_CODINGS = new Set(["zstd", "gzip", "identity"]);

/**
 * The body as text, decoded per its `content-encoding` (zstd, gzip), or the
 * backend's refusal: 415 for another coding, 400 for bytes that do not
 * decode. Which statuses the real backend uses here is not known; it is
 * known to accept zstd (and reportedly gzip).
 */
async function decodeBody(
  bytes: Uint8Array,
  encoding: string | undefined,
): Promise<{ text: string } | { status: number; detail: string }> {
  if (encoding === undefined || encoding.trim() === "") {
    return { text: new TextDecoder().decode(bytes) };
  }
  for (const token of encoding.split(",")) {
    const name = token.trim().toLowerCase();
    if (name !== "" && !BACKEND_CODINGS.has(name)) {
      return { status: 415, detail: `Unsupported content encoding: ${name}` };
    }
  }
  try {
    // Loaded on the first compressed body: the CLI imports this module (for
    // `demo`), and its start should not load the decoders.
    const { decodeRequestBody } = await import("../codex/content_encoding.ts");
    const decoded = await decodeRequestBody(
      bytes,
      encoding,
      MAX_DECODED_BYTES,
    );
    return { text: new TextDecoder().decode(decoded) };
  } catch (error) {
    if (!(error instanceof RelayError)) throw error;
    return error.status === 413
      ? { status: 413, detail: "Request body too large" }
      : {
        status: 400,
        detail:
          `Invalid request body: could not decode the ${encoding.trim().toLowerCase()} content`,
      };
  }
}

function parseRecordedBody(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

class Backend implements FakeCodexBackend {
  readonly baseUrl: string;
  readonly responsesUrl: string;
  readonly requests: RecordedRequest[] = [];
  #inFlight = 0;
  #maxInFlight = 0;
  #queue: FakeBehaviour[] = [];
  #default: DefaultBehaviour = defaultBehaviour;
  #limits = new Map<string, UsageLimitState>();
  #ended = new Map<string, FakeAccountError>();
  #usage = new Map<string, FakeAccountUsage | FakeUsageFailure>();
  #resets: FakeResetBook;
  #ids = 0;
  #exchanges = new Set<AbortController>();
  #control = new StreamControl();
  #closing: Promise<void> | undefined;
  readonly #server: Server;
  readonly #options: FakeCodexBackendOptions;
  readonly #models: readonly string[];
  readonly #minimalVersions: Readonly<Record<string, string>>;
  readonly #responsesLite: readonly string[];
  #accountResponsesLite = new Map<string, readonly string[]>();
  readonly #now: () => number;

  constructor(server: Server, options: FakeCodexBackendOptions) {
    this.#server = server;
    this.#options = options;
    this.#models = options.models ??
      [...DEFAULT_FAKE_MODELS, ...Object.keys(DEFAULT_FAKE_GATED_MODELS)];
    this.#minimalVersions = options.minimalClientVersions ??
      DEFAULT_FAKE_GATED_MODELS;
    this.#responsesLite = options.responsesLiteModels ??
      DEFAULT_FAKE_RESPONSES_LITE_MODELS;
    this.#now = options.now ?? Date.now;
    this.#resets = new FakeResetBook(this.#now);
    const { port } = server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}${BASE_PATH}`;
    this.responsesUrl = `${this.baseUrl}/codex/responses`;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  enqueue(...behaviours: FakeBehaviour[]): void {
    this.#queue.push(...behaviours);
  }

  setDefault(behaviour: DefaultBehaviour): void {
    this.#default = behaviour;
  }

  release(): void {
    this.#control.release();
  }

  limitAccount(
    accountId: string,
    options: { resetsInSeconds?: number; status?: 429 | 404 } = {},
  ): void {
    this.#limits.set(accountId, {
      status: options.status ?? 429,
      resetsAt: Math.floor(this.#now() / 1000) +
        (options.resetsInSeconds ?? DEFAULT_RESETS_IN_SECONDS),
      planType: "plus",
    });
  }

  endAccount(accountId: string, code: FakeAccountError | undefined): void {
    if (code === undefined) this.#ended.delete(accountId);
    else this.#ended.set(accountId, code);
  }

  setAccountUsage(
    usage: FakeAccountUsage | FakeUsageFailure | undefined,
    accountId?: string,
  ): void {
    if (accountId === undefined) {
      this.#usage.clear();
      if (usage !== undefined) this.#usage.set("", usage);
      return;
    }
    if (usage === undefined) this.#usage.delete(`account:${accountId}`);
    else this.#usage.set(`account:${accountId}`, usage);
  }

  setAccountResetCredits(
    credits: FakeResetCredits | undefined,
    accountId: string,
  ): void {
    this.#resets.set(accountId, credits);
  }

  setAccountResponsesLite(
    accountId: string,
    models: readonly string[] | undefined,
  ): void {
    if (models === undefined) this.#accountResponsesLite.delete(accountId);
    else this.#accountResponsesLite.set(accountId, [...models]);
  }

  /** The models the catalog of `account` marks responses-lite. */
  #liteOf(account: string): readonly string[] {
    return this.#accountResponsesLite.get(account) ?? this.#responsesLite;
  }

  get redemptions(): readonly FakeResetRedemption[] {
    return this.#resets.redemptions;
  }

  reset(): void {
    this.#queue.length = 0;
    this.requests.length = 0;
    this.#limits.clear();
    this.#ended.clear();
    this.#usage.clear();
    this.#resets.clear();
    this.#accountResponsesLite.clear();
    this.#maxInFlight = this.#inFlight;
  }

  close(): Promise<void> {
    this.#closing ??= new Promise((resolve) => {
      for (const exchange of this.#exchanges) exchange.abort();
      this.#exchanges.clear();
      this.#control.clear();
      this.#server.closeAllConnections();
      this.#server.close(() => resolve());
    });
    return this.#closing;
  }

  /** Entry point of every HTTP request. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.#now();
    const url = req.url ?? "/";
    const path = url.split("?")[0];
    const counted = req.method === "POST" && path === RESPONSES_PATH;
    const controller = new AbortController();
    this.#exchanges.add(controller);
    if (counted) {
      this.#inFlight++;
      this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    }
    let open = true;
    res.on("close", () => {
      if (!open) return;
      open = false;
      if (counted) this.#inFlight--;
      this.#exchanges.delete(controller);
      controller.abort();
    });
    const headers = recordHeaders(req);
    let bytes: Uint8Array;
    try {
      bytes = await readBody(req);
    } catch {
      return;
    }
    const encoding = headers["content-encoding"];
    const decoded = encoding === undefined
      ? { text: new TextDecoder().decode(bytes) }
      : await decodeBody(bytes, encoding);
    const text = "text" in decoded
      ? decoded.text
      : new TextDecoder().decode(bytes);
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      url,
      headers,
      body: parseRecordedBody(text),
      text,
      at,
    };
    if (counted) {
      record.responsesLite = isResponsesLiteRequest(headers, record.body);
    }
    this.requests.push(record);
    const claims = tokenClaims(bearerToken(headers["authorization"]) ?? "");
    const plan = authClaim(claims).chatgpt_plan_type;
    const exchange: Exchange = {
      req,
      res,
      signal: controller.signal,
      headers,
      planType: typeof plan === "string" ? plan : "plus",
      account: headers["chatgpt-account-id"] ?? "",
    };
    try {
      await this.#route(
        exchange,
        req.method ?? "GET",
        url,
        "text" in decoded ? text : decoded,
      );
    } catch {
      if (!res.headersSent && !res.destroyed) {
        this.#sendJson(exchange, 500, { detail: "Internal Server Error" });
      } else {
        res.destroy();
      }
    }
  }

  async #route(
    exchange: Exchange,
    method: string,
    url: string,
    text: string | { status: number; detail: string },
  ): Promise<void> {
    const path = url.split("?")[0];
    const isResponses = method === "POST" && path === RESPONSES_PATH;
    const isModels = method === "GET" && path === MODELS_PATH;
    const isUsage = method === "GET" && path === USAGE_PATH;
    const isResets = method === "GET" && path === RESET_CREDITS_PATH;
    const isConsume = method === "POST" && path === CONSUME_PATH;
    if (!isResponses && !isModels && !isUsage && !isResets && !isConsume) {
      this.#sendJson(exchange, 404, { detail: "Not Found" });
      return;
    }
    const unauthorized = checkAuth(exchange.headers, {
      acceptToken: this.#options.acceptToken,
      nowMs: this.#now(),
    });
    if (unauthorized) {
      this.#sendJson(exchange, unauthorized.status, unauthorized.body);
      return;
    }
    if (isUsage) {
      this.#sendUsage(exchange);
      return;
    }
    if (isResets) {
      this.#sendJson(exchange, 200, this.#resets.list(exchange.account));
      return;
    }
    if (isConsume) {
      this.#consume(exchange, typeof text === "string" ? text : "");
      return;
    }
    if (isModels) {
      const query = new URLSearchParams(url.split("?")[1] ?? "");
      const models = listModels(
        this.#models,
        this.#minimalVersions,
        query.get("client_version") ?? undefined,
        this.#liteOf(exchange.account),
      );
      const body = JSON.stringify({ models });
      const etag = catalogEtag(body);
      if (exchange.headers["if-none-match"] === etag) {
        this.#send(exchange, 304, "", { etag });
        return;
      }
      this.#send(exchange, 200, body, {
        "content-type": "application/json",
        etag,
      });
      return;
    }
    if (typeof text !== "string") {
      this.#sendJson(exchange, text.status, { detail: text.detail });
      return;
    }
    const checked = validateBody(
      text,
      this.#models,
      this.#liteOf(exchange.account),
    );
    if ("rejection" in checked) {
      const { status, body } = checked.rejection;
      this.#sendJson(exchange, status, body);
      return;
    }
    const model = checked.body.model as string;
    const minimal = Object.hasOwn(this.#minimalVersions, model)
      ? this.#minimalVersions[model]
      : undefined;
    // A missing `version` header counts as old: the real backend gates on
    // it, and a relay must send a recent one.
    if (
      minimal !== undefined &&
      !versionAtLeast(exchange.headers["version"], minimal)
    ) {
      this.#sendJson(exchange, 400, { detail: newerVersionRequired(model) });
      return;
    }
    if (this.#sendAccountError(exchange)) return;
    const limit = this.#limits.get(exchange.account);
    if (limit && this.#now() < limit.resetsAt * 1000) {
      this.#sendUsageLimit(exchange, limit);
      return;
    }
    this.#limits.delete(exchange.account);
    const body = checked.body;
    const behaviour = this.#queue.shift() ??
      (typeof this.#default === "function"
        ? this.#default(body)
        : this.#default);
    await this.#answer(exchange, behaviour, body);
  }

  async #answer(
    exchange: Exchange,
    behaviour: FakeBehaviour,
    body: Record<string, unknown>,
  ): Promise<void> {
    switch (behaviour.kind) {
      case "status":
        return this.#sendStatus(exchange, behaviour);
      case "usage_limit":
        return this.#sendUsageLimit(
          exchange,
          this.#startLimit(exchange, behaviour, behaviour.status ?? 429),
        );
      case "usage_limit_in_stream": {
        this.#writeStreamHead(exchange);
        const limit = this.#startLimit(exchange, behaviour, 429);
        const plan = this.#usageLimitPlan(behaviour, limit, body);
        await runStream(exchange.res, plan, this.#control, exchange.signal);
        return;
      }
      case "usage_not_included":
        return this.#sendJson(
          exchange,
          403,
          usageNotIncludedBody(exchange.planType),
        );
      case "headers_never":
        return this.#control.forever(exchange.signal);
      case "reset_before_headers":
        exchange.req.socket.destroy();
        return;
      default: {
        const plan = this.#streamPlan(
          behaviour,
          body,
          exchange.planType,
          this.#limits.get(exchange.account),
        );
        this.#writeStreamHead(exchange);
        await runStream(exchange.res, plan, this.#control, exchange.signal);
      }
    }
  }

  /** Limits the caller's account from now on, until the behaviour's reset. */
  #startLimit(
    exchange: Exchange,
    behaviour: { resetsInSeconds?: number; planType?: string },
    status: 429 | 404,
  ): UsageLimitState {
    const limit: UsageLimitState = {
      status,
      resetsAt: Math.floor(this.#now() / 1000) +
        (behaviour.resetsInSeconds ?? DEFAULT_RESETS_IN_SECONDS),
      planType: behaviour.planType ?? exchange.planType,
    };
    this.#limits.set(exchange.account, limit);
    return limit;
  }

  /** The stream of a usage limit reported inside a 200 answer. */
  #usageLimitPlan(
    behaviour: FakeUsageLimitInStreamBehaviour,
    limit: UsageLimitState,
    body: Record<string, unknown>,
  ): StreamPlan {
    const context = this.#context(body);
    const events = textAnswerEvents(context, {
      deltas: splitText(defaultText(body), 1),
      reasoning: wantsReasoning(body),
    }).slice(0, 2);
    const { error } = usageLimitBody(limit, this.#now()) as {
      error: Record<string, unknown>;
    };
    if (behaviour.as === "error") {
      events.push(
        usageLimitEvent(
          error,
          rateLimitHeaders(this.#now(), limit.planType, limit),
        ),
      );
    } else {
      const resets = behaviour.resetsInSeconds === undefined ? {} : {
        resets_at: error.resets_at,
        resets_in_seconds: error.resets_in_seconds,
      };
      events.push(
        failedEvent(
          context,
          "usage_limit_reached",
          String(error.message),
          resets,
        ),
      );
    }
    return { frames: frameEvents(events), finish: "end" };
  }

  #context(body: Record<string, unknown>): AnswerContext {
    return {
      body,
      responseId: this.#nextId("resp"),
      createdAt: Math.floor(this.#now() / 1000),
      nextId: (prefix) => this.#nextId(prefix),
    };
  }

  #nextId(prefix: string): string {
    this.#ids++;
    return `${prefix}_fake${String(this.#ids).padStart(8, "0")}`;
  }

  #textEvents(
    body: Record<string, unknown>,
    text = defaultText(body),
  ): WireEvent[] {
    return textAnswerEvents(this.#context(body), {
      deltas: splitText(
        text,
        this.#options.deltaChunks ?? DEFAULT_DELTA_CHUNKS,
      ),
      reasoning: wantsReasoning(body),
    });
  }

  #streamPlan(
    behaviour: FakeBehaviour,
    body: Record<string, unknown>,
    planType = "plus",
    limit?: UsageLimitState,
  ): StreamPlan {
    const chunks = this.#options.deltaChunks ?? DEFAULT_DELTA_CHUNKS;
    // The backend answers a compaction trigger with the compaction item
    // whatever the model would have said: an ordinary answer (text or a
    // tool call) becomes one.
    if (
      (behaviour.kind === "text" || behaviour.kind === "function_call") &&
      asksForCompaction(body)
    ) {
      const events = compactionAnswerEvents(this.#context(body), {
        usage: behaviour.usage,
      });
      return { frames: frameEvents(events), finish: "end" };
    }
    switch (behaviour.kind) {
      case "text": {
        const events = textAnswerEvents(this.#context(body), {
          deltas: splitText(behaviour.text ?? defaultText(body), chunks),
          reasoning: behaviour.reasoning ?? wantsReasoning(body),
          usage: behaviour.usage,
          emptyCompletedOutput: behaviour.emptyCompletedOutput,
        });
        if (behaviour.rateLimitsEvent) {
          events.splice(
            1,
            0,
            rateLimitsEvent(this.#now(), planType, limit),
          );
        }
        return {
          frames: frameEvents(events),
          pauseAfter: behaviour.pauseAfterEvents,
          pauseMs: behaviour.pauseMs,
          delayMs: behaviour.eventDelayMs,
          finish: "end",
        };
      }
      case "function_call": {
        const events = functionCallEvents(this.#context(body), {
          name: behaviour.name,
          arguments: behaviour.arguments,
          callId: behaviour.callId ?? this.#nextId("call"),
          reasoning: wantsReasoning(body),
          usage: behaviour.usage,
        });
        return { frames: frameEvents(events), finish: "end" };
      }
      case "failed": {
        const context = this.#context(body);
        const events = textAnswerEvents(context, {
          deltas: splitText(defaultText(body), chunks),
          reasoning: wantsReasoning(body),
        }).slice(0, behaviour.afterEvents ?? 2);
        const message = behaviour.message ?? failureMessage(behaviour.code);
        events.push(failedEvent(context, behaviour.code, message));
        return { frames: frameEvents(events), finish: "end" };
      }
      case "incomplete": {
        const events = textAnswerEvents(this.#context(body), {
          deltas: splitText(defaultText(body), chunks),
          reasoning: wantsReasoning(body),
          incompleteReason: behaviour.reason ?? "max_output_tokens",
        });
        return { frames: frameEvents(events), finish: "end" };
      }
      case "error_event": {
        const events = this.#textEvents(body).slice(0, 2);
        const message = behaviour.message ?? failureMessage(behaviour.code);
        events.push(errorEvent(behaviour.code, message));
        return { frames: frameEvents(events), finish: "end" };
      }
      case "no_terminal": {
        const events = this.#textEvents(body);
        return {
          frames: frameEvents(events.slice(0, throughLastDelta(events))),
          finish: "end",
        };
      }
      case "truncated": {
        const events = this.#textEvents(body);
        const frames = frameEvents(
          events.slice(0, throughFirstDelta(events) + 1),
        );
        const last = frames.pop() ?? "";
        return {
          frames,
          tail: last.slice(0, Math.floor(last.length / 2)),
          finish: "end",
        };
      }
      case "stall":
      case "reset_mid_stream": {
        const events = this.#textEvents(body);
        const count = behaviour.afterEvents ?? throughFirstDelta(events);
        return {
          frames: frameEvents(events.slice(0, count)),
          finish: behaviour.kind === "stall" ? "stall" : "destroy",
        };
      }
      case "large": {
        const size = Math.max(1, behaviour.deltaBytes ?? 8);
        const delta = LARGE_TEXT.repeat(Math.ceil(size / LARGE_TEXT.length))
          .slice(0, size);
        const events = textAnswerEvents(this.#context(body), {
          deltas: new Array<string>(Math.max(0, behaviour.deltas)).fill(delta),
          reasoning: wantsReasoning(body),
        });
        return { frames: frameEvents(events), finish: "end" };
      }
      default:
        throw new Error(
          `Expected a streaming behaviour, found kind ${behaviour.kind}`,
        );
    }
  }

  #noise(): Record<string, string> {
    return this.#options.rateLimitHeaders === false ? {} : { ...NOISE_HEADERS };
  }

  #rateLimits(exchange: Exchange): Record<string, string> {
    if (this.#options.rateLimitHeaders === false) return {};
    return rateLimitHeaders(
      this.#now(),
      exchange.planType,
      this.#limits.get(exchange.account),
    );
  }

  #writeStreamHead(exchange: Exchange): void {
    const headers: Record<string, string> = {
      ...this.#noise(),
      ...this.#rateLimits(exchange),
      "cache-control": "no-cache",
    };
    if (!this.#options.omitContentType) {
      headers["content-type"] = "text/event-stream; charset=utf-8";
    }
    exchange.res.writeHead(200, headers);
    exchange.res.flushHeaders();
  }

  #sendJson(
    exchange: Exchange,
    status: number,
    body: unknown,
    extra: Record<string, string> = {},
  ): void {
    this.#send(exchange, status, JSON.stringify(body), {
      "content-type": "application/json",
      ...extra,
    });
  }

  #send(
    exchange: Exchange,
    status: number,
    text: string,
    headers: Record<string, string>,
  ): void {
    const { res } = exchange;
    if (res.destroyed) return;
    res.writeHead(status, { ...this.#noise(), ...headers });
    res.end(text);
  }

  /** The error of an account ended with `endAccount`; whether one was sent. */
  #sendAccountError(exchange: Exchange): boolean {
    const code = this.#ended.get(exchange.account);
    if (code === undefined) return false;
    const answer = accountErrorAnswer(code, exchange.planType);
    this.#sendStatus(exchange, answer);
    return true;
  }

  /** The usage endpoint: the account's script, else the default one, else the defaults. */
  #sendUsage(exchange: Exchange): void {
    if (this.#sendAccountError(exchange)) return;
    const script = this.#usage.get(`account:${exchange.account}`) ??
      this.#usage.get("") ?? this.#options.accountUsage ?? {};
    if ("status" in script) {
      this.#sendStatus(exchange, { status: script.status, body: script.body });
      return;
    }
    const body = accountUsageBody(
      this.#now(),
      exchange.planType,
      this.#limits.get(exchange.account),
      script,
    );
    if (this.#resets.has(exchange.account)) {
      const { available_count } = this.#resets.list(exchange.account) as {
        available_count: number;
      };
      body.rate_limit_reset_credits = { available_count };
    }
    this.#sendJson(exchange, 200, body);
  }

  /** Spends a banked reset: lifts the account's usage limit on `reset`. */
  #consume(exchange: Exchange, text: string): void {
    const account = exchange.account;
    const key = `account:${account}`;
    const script = this.#usage.get(key);
    const limit = this.#limits.get(account);
    const limited = (limit !== undefined &&
      limit.resetsAt > Math.floor(this.#now() / 1000)) ||
      (script !== undefined && "limitReached" in script &&
        script.limitReached === true);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const answer = this.#resets.consume(account, body, limited, () => {
      this.#limits.delete(account);
      if (script !== undefined && "limitReached" in script) {
        this.#usage.set(key, { ...script, limitReached: false });
      }
    });
    if (typeof answer.body === "string") {
      this.#send(exchange, answer.status, answer.body, {
        "content-type": "text/plain; charset=utf-8",
      });
    } else {
      this.#sendJson(exchange, answer.status, answer.body);
    }
  }

  #sendUsageLimit(exchange: Exchange, limit: UsageLimitState): void {
    this.#sendJson(
      exchange,
      limit.status,
      usageLimitBody(limit, this.#now()),
      this.#rateLimits(exchange),
    );
  }

  #sendStatus(
    exchange: Exchange,
    behaviour: {
      status: number;
      body?: string | object;
      headers?: Record<string, string>;
    },
  ): void {
    const body = behaviour.body ?? defaultStatusBody(behaviour.status);
    const limits = behaviour.status === 429 ? this.#rateLimits(exchange) : {};
    const headers = typeof body === "string"
      ? {
        "content-type": body.trimStart().startsWith("<")
          ? "text/html; charset=utf-8"
          : "text/plain; charset=utf-8",
      }
      : { "content-type": "application/json" };
    const text = typeof body === "string" ? body : JSON.stringify(body);
    this.#send(exchange, behaviour.status, text, {
      ...limits,
      ...headers,
      ...lowerCaseKeys(behaviour.headers ?? {}),
    });
  }
}

function lowerCaseKeys(
  headers: Record<string, string>,
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    result[name.toLowerCase()] = value;
  }
  return result;
}

/**
 * Starts a simulated Codex backend on `127.0.0.1` (a free port) and resolves
 * once it listens. Point a provider at it with
 * `OPENAI_RESPONSES_BASE_URL = backend.baseUrl`, give it credentials made by
 * `makeAuthJson()` (same account id), script answers with `enqueue`, assert
 * on `requests`, and `close()` it at the end.
 *
 * Routes: `POST <base>/codex/responses`, `GET <base>/codex/models`,
 * `GET <base>/wham/usage` (the usage endpoint, per account, scripted with
 * `setAccountUsage`); anything else is a 404. Every route checks the bearer
 * token and the
 * `chatgpt-account-id` header first (401 otherwise).
 *
 * @example
 * ```ts
 * import { writeFile } from "node:fs/promises";
 * import plugin from "@antseed/provider-openai-responses";
 * import {
 *   makeAuthJson,
 *   startFakeCodexBackend,
 * } from "@antseed/provider-openai-responses/testing";
 *
 * const backend = await startFakeCodexBackend();
 * try {
 *   // Credentials for the simulated account (account id `acct_test`).
 *   await writeFile("./test-auth.json", JSON.stringify(makeAuthJson()));
 *   const provider = await plugin.createProvider({
 *     OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
 *     OPENAI_RESPONSES_AUTH_FILE: "./test-auth.json",
 *   });
 *   backend.enqueue({ kind: "text", text: "Hello!" });
 *   // Requests `provider` relays now reach the simulated backend, which
 *   // answers "Hello!" once, then its default behaviour;
 *   // `backend.requests` shows exactly what the provider sent.
 *   console.log(provider.services, backend.requests.length);
 * } finally {
 *   await backend.close();
 * }
 * ```
 */
export async function startFakeCodexBackend(
  options: FakeCodexBackendOptions = {},
): Promise<FakeCodexBackend> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const backend = new Backend(server, options);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    void backend.handle(req, res);
  });
  return backend;
}
