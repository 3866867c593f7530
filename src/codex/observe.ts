/**
 * Observing a finished Codex SSE body without re-framing it: what the relay
 * needs to know once the bytes have passed through (did it end with a
 * terminal event, its usage, the final Response object).
 *
 * Every complete answer ends with its terminal event, so the fast path parses
 * only the last event, found by scanning backwards for the blank line before
 * it: the cost is the size of that one event, not of the stream. Only when
 * the last event is not terminal (a failure), or a non-streaming buyer needs
 * the output rebuilt from the streamed items, is the whole body parsed with
 * the incremental {@linkcode SseParser}.
 *
 * @module
 */

import {
  type AggregateResult,
  ResponseAggregator,
  TERMINAL_EVENTS,
  wantsEvent,
} from "./aggregate.ts";
import { SseParser } from "./sse.ts";

const LF = 0x0a;
const CR = 0x0d;

/** What a finished SSE body says. */
export interface StreamObservation {
  /** The terminal event's name, when the body has one. */
  terminal: string | undefined;
  /** `usage` of the final Response object, parsed on first access. */
  readonly usage: Record<string, unknown> | undefined;
  /** The answer for a non-streaming buyer. */
  result(): AggregateResult;
  /** Bytes of an event cut off at the end of the body (0 when none). */
  pendingBytes: number;
  /** Sequence number an event appended after this body should carry. */
  nextSequenceNumber: number;
  /** The Response id, when the body carried `response.created`. */
  responseId: string | undefined;
}

/**
 * Where the last event of an SSE body starts: just after the blank line
 * before it (line ends closing the body ignored), or 0 for a single event.
 *
 * @example
 * ```ts
 * import { lastEventStart } from "./observe.ts";
 * const body = new TextEncoder().encode("event: a\ndata: 1\n\nevent: b\ndata: 2\n\n");
 * console.log(lastEventStart(body)); // 18
 * ```
 */
export function lastEventStart(body: Uint8Array): number {
  let end = body.length;
  while (end > 0 && (body[end - 1] === LF || body[end - 1] === CR)) end--;
  let at = end;
  while (at > 0) {
    const lf = body.lastIndexOf(LF, at - 1);
    if (lf < 0) return 0;
    let before = lf - 1;
    if (before >= 0 && body[before] === CR) before--;
    if (before >= 0 && body[before] === LF) return lf + 1;
    at = lf;
  }
  return 0;
}

function eventType(event: string, data: string): string {
  if (event !== "message") return event;
  try {
    const type = JSON.parse(data)?.type;
    return typeof type === "string" ? type : event;
  } catch {
    return event;
  }
}

function fullObservation(body: Uint8Array): StreamObservation {
  const aggregator = new ResponseAggregator();
  const parser = new SseParser(
    (event, data) => aggregator.handle(event, data),
    { wants: wantsEvent },
  );
  parser.push(body);
  parser.finish();
  return {
    terminal: aggregator.terminal,
    get usage() {
      return aggregator.usage;
    },
    result: () => aggregator.result(),
    pendingBytes: parser.pendingBytes,
    nextSequenceNumber: Math.max(
      (aggregator.lastSequenceNumber ?? -1) + 1,
      parser.eventCount,
    ),
    responseId: aggregator.responseId,
  };
}

function hasOutput(result: AggregateResult): boolean {
  if (result.kind !== "response") return true;
  const output = result.response.output;
  return Array.isArray(output) && output.length > 0;
}

/**
 * Observes a finished SSE body: parses only its last event when that is a
 * terminal one, else the whole body. With `needOutput`, a completed Response
 * whose `output` is empty is rebuilt from the streamed items (whole parse).
 *
 * @example
 * ```ts
 * import { observeStream } from "./observe.ts";
 * const body = new TextEncoder().encode(
 *   'event: response.completed\ndata: {"type":"response.completed","response":{"output":[],"usage":{"input_tokens":1}}}\n\n',
 * );
 * console.log(observeStream(body).terminal); // "response.completed"
 * ```
 */
export function observeStream(
  body: Uint8Array,
  options: { needOutput?: boolean } = {},
): StreamObservation {
  const start = lastEventStart(body);
  // Most answers end with `event: <terminal>`: recognised on the bytes, the
  // event is decoded and parsed only if its usage or Response is asked for.
  let last: { event: string; data: string } | undefined;
  const parseLast = () => {
    if (!last) {
      const parser = new SseParser((event, data) => {
        last = { event, data };
      });
      parser.push(body.subarray(start));
      parser.finish();
    }
    return last;
  };
  let terminal = endsWithBlankLine(body)
    ? terminalEventAt(body, start)
    : undefined;
  if (terminal === undefined) {
    const event = endsWithBlankLine(body) ? parseLast() : undefined;
    const type = event && eventType(event.event, event.data);
    if (!type || !TERMINAL_EVENTS.has(type)) return fullObservation(body);
    terminal = type;
  }

  let aggregator: ResponseAggregator | undefined;
  const aggregated = () => {
    if (!aggregator) {
      aggregator = new ResponseAggregator();
      const event = parseLast();
      if (event) aggregator.handle(event.event, event.data);
    }
    return aggregator;
  };
  if (options.needOutput && !hasOutput(aggregated().result())) {
    return fullObservation(body);
  }
  return {
    terminal,
    get usage() {
      return aggregated().usage;
    },
    result: () => aggregated().result(),
    pendingBytes: 0,
    get nextSequenceNumber() {
      return (aggregated().lastSequenceNumber ?? -1) + 1;
    },
    responseId: undefined,
  };
}

const TERMINAL_LINES: [string, Uint8Array][] = [...TERMINAL_EVENTS].map((
  name,
) => [name, new TextEncoder().encode(`event: ${name}\n`)]);

/** The terminal event named by the `event:` line at `start`, if it is one. */
function terminalEventAt(body: Uint8Array, start: number): string | undefined {
  for (const [name, line] of TERMINAL_LINES) {
    if (body.length - start < line.length) continue;
    let same = true;
    for (let i = 0; i < line.length; i++) {
      if (body[start + i] !== line[i]) {
        same = false;
        break;
      }
    }
    if (same) return name;
  }
  return undefined;
}

/** Whether the body's last event is closed by a blank line. */
function endsWithBlankLine(body: Uint8Array): boolean {
  const n = body.length;
  return n >= 2 && body[n - 1] === LF &&
    (body[n - 2] === LF ||
      (n >= 4 && body[n - 2] === CR && body[n - 3] === LF));
}
