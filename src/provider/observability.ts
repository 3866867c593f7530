/**
 * What a provider tells its seller: the numbers of `GET /metrics`, the log
 * lines (logins found, state changes, finished requests) and the one-time
 * warnings only the seller can act on. Nothing here sees a token or prompt
 * text; every value a buyer chose is escaped and cut before it is printed.
 *
 * @module
 */

import type { CredentialsInfo } from "../auth/types.ts";
import type { ClientVersionChoice } from "../codex/client_version.ts";
import type { ProviderSettings } from "../config.ts";
import type { RelayError } from "../errors.ts";
import { type Labels, Metrics } from "../metrics.ts";
import { homedir } from "node:os";
import { hideHome, maskEmail } from "../mask.ts";
import { logText } from "../log_text.ts";

/** One finished request, for a log line. Carries no secret. */
export interface RequestLogEntry {
  /** Host request id. */
  requestId: string;
  /** HTTP method. */
  method: string;
  /** Path without the query. */
  path: string;
  /** Requested service, when the body named one. */
  service?: string;
  /** Status answered (200 for every started stream). */
  status: number;
  /**
   * Stable error code when the answer is an error, also when it is one
   * inside a stream that started with 200 (e.g. `upstream_stream_error`).
   */
  code?: string;
  /** Whole handling time, in milliseconds. */
  durationMs: number;
  /** Token usage of the final Response object, when known. */
  usage?: Record<string, unknown>;
}

/** Where an {@linkcode Observability} sends what it has to say. */
export interface ObservabilityOptions {
  /** Called once per finished request. */
  onRequestDone?: (entry: RequestLogEntry) => void;
  /** Seller-facing warnings (default `console.warn`). */
  onWarning?: (message: string) => void;
  /** Seller-facing log lines (default `console.log`). */
  onLog?: (line: string) => void;
  /** Keep the numbers of `metrics()` (default false). */
  metrics?: boolean;
  /** Print per-request lines (default true). */
  logRequests?: boolean;
  /**
   * The seller's home folder, shown as `~` in every line and warning
   * (default the process's, `node:os` `homedir()`).
   */
  homeDir?: string;
}

/** A gauge's series: labels and value. */
export type GaugeSeries = [Labels, number][];

/**
 * The metrics, log lines and warnings of one provider.
 *
 * @example
 * ```ts
 * import { parseConfig } from "../config.ts";
 * import { Observability } from "./observability.ts";
 *
 * const lines: string[] = [];
 * const seen = new Observability(parseConfig({}), { onLog: (line) => lines.push(line) });
 * seen.requestDone("responses", {
 *   requestId: "r1",
 *   method: "POST",
 *   path: "/v1/responses",
 *   status: 502,
 *   code: "upstream_stream_error",
 *   durationMs: 12,
 * });
 * console.log(lines[0]); // "request POST /v1/responses - 502 upstream_stream_error 12ms"
 * ```
 */
export class Observability {
  /** Whether numbers are kept (`metrics: true`). */
  readonly counting: boolean;
  /** Writes a seller-facing log line. */
  readonly log: (line: string) => void;
  /** Writes a seller-facing warning. */
  readonly warn: (message: string) => void;
  readonly #metrics = new Metrics();
  readonly #onRequestDone: ((entry: RequestLogEntry) => void) | undefined;
  readonly #everyRequest: boolean;
  readonly #failedRequests: boolean;
  #clientVersion: string;
  readonly #warnedModels = new Set<string>();

  /**
   * Creates the observability of a provider.
   *
   * @param settings the log level and the client version spoken
   * @param options where lines, warnings and finished requests go
   */
  constructor(
    settings: Pick<ProviderSettings, "log" | "clientVersion">,
    options: ObservabilityOptions = {},
  ) {
    this.counting = options.metrics === true;
    // No line shows the seller's home path (a warning may quote a file's).
    const home = options.homeDir ?? homeDirOrNone();
    const log = options.onLog ?? console.log;
    const warn = options.onWarning ?? console.warn;
    this.log = home === "" ? log : (line) => log(hideHome(line, home));
    this.warn = home === "" ? warn : (message) => warn(hideHome(message, home));
    this.#onRequestDone = options.onRequestDone;
    const lines = options.logRequests !== false;
    this.#everyRequest = lines && settings.log === "requests";
    this.#failedRequests = lines;
    this.#clientVersion =
      `OPENAI_RESPONSES_CLIENT_VERSION=${settings.clientVersion}`;
  }

  /**
   * Records the version spoken, for the notice of a model that needs a
   * newer one.
   *
   * @param choice the version chosen and why
   */
  speaking(choice: ClientVersionChoice): void {
    this.#clientVersion = choice.source === "key"
      ? `OPENAI_RESPONSES_CLIENT_VERSION=${choice.version}`
      : `${choice.version}, the version spoken (${
        choice.source === "default"
          ? "the default"
          : "from a Codex home's version.json"
      })`;
  }

  /** Whether a finished request needs its entry built at all. */
  get wantsEntries(): boolean {
    return this.counting || this.#onRequestDone !== undefined ||
      this.#everyRequest;
  }

  /**
   * A finished request: counted, handed to `onRequestDone`, and logged with
   * `OPENAI_RESPONSES_LOG=requests`, or at the default level when it failed
   * on the seller's side (a 5xx, or an error inside a started stream).
   *
   * @param route the route it took (`responses`, `chat_completions`, `none`)
   * @param entry what it was and how it ended
   */
  requestDone(route: string, entry: RequestLogEntry): void {
    if (this.counting) this.#count(route, entry);
    this.#onRequestDone?.(entry);
    if (
      this.#everyRequest || (this.#failedRequests && sellerSideFailure(entry))
    ) {
      this.log(requestLine(entry));
    }
  }

  /**
   * Counts a retried upstream attempt, when counting.
   *
   * @param reason `network_error` or the failure's code
   */
  retried(reason: string): void {
    this.#metrics.count("openai_responses_upstream_retries_total", { reason });
  }

  /**
   * Counts a token refresh of a login, when counting.
   *
   * @param login the login's label
   * @param outcome how the refresh ended
   */
  refreshed(login: string, outcome: string): void {
    this.#metrics.count("openai_responses_token_refreshes_total", {
      login,
      outcome,
    });
  }

  /**
   * Observes the time to the upstream's first byte, when counting.
   *
   * @param seconds the time it took
   */
  firstByte(seconds: number): void {
    if (!this.counting) return;
    this.#metrics.observe(
      "openai_responses_upstream_first_byte_seconds",
      {},
      seconds,
    );
  }

  /**
   * Observes a relayed request's whole duration, when counting.
   *
   * @param seconds the time it took
   */
  duration(seconds: number): void {
    if (!this.counting) return;
    this.#metrics.observe(
      "openai_responses_request_duration_seconds",
      {},
      seconds,
    );
  }

  /**
   * Tells the seller what only the seller can fix, once per model: a model
   * that needs a newer client version than the one spoken.
   *
   * @param error the failure a request ended with
   */
  noticeFailure(error: RelayError): void {
    if (error.code !== "client_version_too_old") return;
    const model = logText(String(error.details.model ?? "a model"));
    if (this.#warnedModels.has(model)) return;
    this.#warnedModels.add(model);
    this.warn(
      `The Codex backend refused ${model}: it requires a newer Codex client than ${this.#clientVersion}. Run the Codex CLI once (its update check records the newest release in version.json) or set OPENAI_RESPONSES_CLIENT_VERSION to the version of a current Codex CLI`,
    );
  }

  /**
   * The numbers in the Prometheus text format, with the gauges of now.
   *
   * @param gauges the gauges' series, by metric name
   * @returns the exposition text
   */
  text(gauges: Record<string, GaugeSeries>): string {
    return this.#metrics.text(gauges);
  }

  #count(route: string, entry: RequestLogEntry): void {
    this.#metrics.count("openai_responses_requests_total", {
      route,
      status: String(entry.status),
      code: entry.code ?? "",
    });
    const usage = entry.usage;
    if (!usage) return;
    const input = usage.input_tokens_details as Record<string, unknown> | null;
    const output = usage.output_tokens_details as
      | Record<string, unknown>
      | null;
    this.#tokens("input", usage.input_tokens);
    this.#tokens("output", usage.output_tokens);
    this.#tokens("cached", input?.cached_tokens);
    this.#tokens("reasoning", output?.reasoning_tokens);
  }

  #tokens(kind: string, value: unknown): void {
    if (typeof value === "number" && value > 0) {
      this.#metrics.count("openai_responses_tokens_total", { kind }, value);
    }
  }
}

/** The process's home folder, or "" where it has none. */
function homeDirOrNone(): string {
  try {
    return homedir();
  } catch {
    return "";
  }
}

/**
 * Whether a request failed on the seller's side (a 5xx, or an error inside
 * a started stream; not a buyer who left): what the default log level
 * reports.
 */
function sellerSideFailure(entry: RequestLogEntry): boolean {
  return entry.status >= 500 ||
    (entry.status < 300 && entry.code !== undefined &&
      entry.code !== "client_closed_request");
}

/**
 * One finished request as a log line: no secret, no prompt text, every
 * value the buyer chose escaped and cut.
 *
 * @example
 * ```ts
 * import { requestLine } from "./observability.ts";
 * console.log(requestLine({
 *   requestId: "r1",
 *   method: "POST",
 *   path: "/v1/responses\n",
 *   status: 200,
 *   durationMs: 5,
 * })); // "request POST /v1/responses\\n - 200 5ms"
 * ```
 */
export function requestLine(entry: RequestLogEntry): string {
  const usage = entry.usage;
  const tokens = usage
    ? ` tokens in=${logText(String(usage.input_tokens ?? "?"))} out=${
      logText(String(usage.output_tokens ?? "?"))
    }`
    : "";
  const service = entry.service === undefined ? "-" : logText(entry.service);
  const code = entry.code === undefined ? "" : ` ${logText(entry.code)}`;
  return `request ${logText(entry.method)} ${
    logText(entry.path)
  } ${service} ${entry.status}${code} ${entry.durationMs}ms${tokens}`;
}

/**
 * A login as a log line: label, masked email, plan, expiry; no secret.
 *
 * @example
 * ```ts
 * import { loginLine } from "./observability.ts";
 * console.log(loginLine("codex", { email: "seller@example.com", plan: "pro" }));
 * // "codex, s***@example.com, plan pro"
 * ```
 */
export function loginLine(name: string, info: CredentialsInfo): string {
  const parts = [name];
  if (info.email !== undefined) parts.push(maskEmail(info.email));
  if (info.plan !== undefined) parts.push(`plan ${info.plan}`);
  if (info.expiresAt !== undefined) {
    parts.push(`token expires ${new Date(info.expiresAt).toISOString()}`);
  }
  return parts.join(", ");
}
