/**
 * One log line per request for `serve`: method, path, model, status, error
 * code, duration and tokens. Never a header, a body or a secret; what the
 * buyer chose (method, path, model) is escaped and cut (`logText`).
 *
 * @module
 */

import { logText } from "../log_text.ts";
import type { RequestLogEntry } from "../provider/provider.ts";

/** What a log line shows; both the provider's and the server's entries fit. */
export type LogLineEntry = Omit<RequestLogEntry, "requestId">;

function count(value: unknown): string {
  return typeof value === "number" && Number.isFinite(value)
    ? String(value)
    : "-";
}

/**
 * Formats one request as a log line:
 * `2026-01-02T03:04:05.000Z POST /v1/responses gpt-5.4 200 812ms tokens in=12 out=34`.
 *
 * @example
 * ```ts
 * import { formatLogLine } from "./log_line.ts";
 * console.log(formatLogLine({ method: "GET", path: "/health", status: 200, durationMs: 1 }, 0));
 * // "1970-01-01T00:00:00.000Z GET /health - 200 1ms"
 * ```
 */
export function formatLogLine(entry: LogLineEntry, at: number): string {
  const parts = [
    new Date(at).toISOString(),
    logText(entry.method, 20),
    logText(entry.path, 200),
    entry.service === undefined ? "-" : logText(entry.service, 80),
    entry.code ? `${entry.status} ${entry.code}` : String(entry.status),
    `${Math.round(entry.durationMs)}ms`,
  ];
  if (entry.usage) {
    parts.push(
      `tokens in=${count(entry.usage.input_tokens)} out=${
        count(entry.usage.output_tokens)
      }`,
    );
  }
  return parts.join(" ");
}
