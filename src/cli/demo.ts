/**
 * `demo`: the whole path with no setup at all. Starts the simulated Codex
 * backend and the fake token endpoint on loopback, writes a throwaway login
 * (whose access token has already expired) in a temp folder, creates the
 * provider against them (which refreshes the login through the fake token
 * endpoint), serves it on a local port, sends one streamed
 * `POST /v1/responses` with `fetch` through that local server, prints the
 * text as it streams and then the usage, and cleans everything up.
 *
 * @module
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProvider } from "../provider/provider.ts";
import { createServerHandler } from "../serve/handler.ts";
import {
  type FakeBehaviour,
  startFakeCodexBackend,
} from "../testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../testing/fake_token_endpoint.ts";
import { makeAuthJson } from "../testing/jwt.ts";
import type { CliIo } from "./io.ts";

/** The prompt the demo sends when none is given. */
export const DEMO_PROMPT = "Say hello to a newcomer in one sentence.";

/** The model the demo asks for. */
export const DEMO_MODEL = "gpt-5.4";

const DEMO_ACCOUNT = "acct_demo_0000001";
const DEMO_REFRESH_TOKEN = "rt_demo_0";
const DEMO_ANSWER =
  "Hello! This text comes from the simulated Codex backend, streamed through the provider and a local OpenAI-compatible server, one delta at a time.";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  /** The user's text (default {@linkcode DEMO_PROMPT}). */
  prompt?: string;
  /** Pause between streamed events, in milliseconds (default 40). */
  eventDelayMs?: number;
  /** What the simulated backend answers (default: a text answer); for tests of the demo's failure path. */
  answer?: FakeBehaviour;
}

/** A `response.*` event of the stream, as far as the demo reads it. */
export interface StreamEvent {
  /** Event type, e.g. `response.output_text.delta`. */
  type?: string;
  /** Text of a delta event. */
  delta?: string;
  /** The Response of `response.*` lifecycle events. */
  response?: {
    usage?: Record<string, unknown>;
    status?: string;
    error?: { code?: string; message?: string } | null;
  };
  /** The error of an `error` event. */
  error?: { code?: string; message?: string };
  /** The message of an `error` event in the flat form. */
  message?: string;
}

/**
 * What a failed stream's event says went wrong: `response.error.message` of
 * `response.failed` (where OpenAI clients read it), the message of an
 * `error` event, or the event's type.
 *
 * @example
 * ```ts
 * import { failureOf } from "./demo.ts";
 * console.log(failureOf({ type: "response.failed", response: { error: { message: "Overloaded" } } })); // "Overloaded"
 * ```
 */
export function failureOf(event: StreamEvent): string {
  const error = event.type === "response.failed"
    ? event.response?.error
    : event.error;
  return error?.message ?? event.message ?? error?.code ?? event.type ??
    "an unknown failure";
}

/** Splits an SSE byte stream into the JSON of its `data:` lines, as they complete. */
async function* sseData(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<StreamEvent> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, {
        stream: true,
      });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data === "") continue;
        try {
          yield JSON.parse(data) as StreamEvent;
        } catch {
          // Not JSON: not an event the demo shows.
        }
      }
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Runs the demo and resolves with the exit code: 0 when the text streamed
 * and the response completed, else 1. Everything it starts is stopped and
 * its temp folder removed, whatever happens.
 *
 * @example
 * ```ts ignore
 * const code = await runDemo(io);
 * ```
 */
export async function runDemo(
  io: CliIo,
  options: DemoOptions = {},
): Promise<number> {
  const out = (text: string) => io.stdout(text);
  const folder = await mkdtemp(join(tmpdir(), "openai-responses-demo-"));
  const cleanups: Array<() => Promise<unknown>> = [
    () => rm(folder, { recursive: true, force: true }),
  ];
  try {
    const tokenEndpoint = await startFakeTokenEndpoint({
      refreshTokens: [DEMO_REFRESH_TOKEN],
      accountId: DEMO_ACCOUNT,
      email: "newcomer@example.com",
    });
    cleanups.unshift(() => tokenEndpoint.close());
    const backend = await startFakeCodexBackend({ deltaChunks: 24 });
    cleanups.unshift(() => backend.close());
    out(`demo: simulated Codex backend on ${backend.baseUrl}\n`);
    out(`demo: fake token endpoint on ${tokenEndpoint.url}\n`);

    const authFile = join(folder, "auth.json");
    await writeFile(
      authFile,
      JSON.stringify(
        makeAuthJson({
          accountId: DEMO_ACCOUNT,
          refreshToken: DEMO_REFRESH_TOKEN,
          email: "newcomer@example.com",
          exp: Math.floor(Date.now() / 1000) - 60,
        }),
        null,
        2,
      ),
      { mode: 0o600 },
    );
    out(
      "demo: throwaway Codex login in a temp folder (access token expired)\n",
    );

    const provider = createProvider({
      OPENAI_RESPONSES_AUTH_FILE: authFile,
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: tokenEndpoint.url,
    }, { onWarning: (message) => io.stderr(`demo: warning: ${message}\n`) });
    await provider.init();
    out(
      `demo: provider ready; the expired token was refreshed through the token endpoint (${tokenEndpoint.successes} refresh)\n`,
    );

    const server = await io.listen(createServerHandler(provider), {
      hostname: "127.0.0.1",
      port: 0,
    });
    cleanups.unshift(() => server.close(1000));
    const url = `http://127.0.0.1:${server.port}/v1/responses`;
    out(`demo: local server on http://127.0.0.1:${server.port}\n`);

    backend.enqueue(
      options.answer ?? {
        kind: "text",
        text: DEMO_ANSWER,
        eventDelayMs: options.eventDelayMs ?? 40,
      },
    );
    const prompt = options.prompt ?? DEMO_PROMPT;
    out(
      `\n> POST /v1/responses {"model":"${DEMO_MODEL}","stream":true,"input":${
        JSON.stringify(prompt)
      }}\n\n`,
    );
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: DEMO_MODEL, input: prompt, stream: true }),
    });
    if (response.status !== 200 || !response.body) {
      io.stderr(
        `demo: expected a 200 stream, found ${response.status}: ${await response
          .text()}\n`,
      );
      return 1;
    }
    let streamed = "";
    let usage: Record<string, unknown> | undefined;
    let failure: string | undefined;
    for await (const event of sseData(response.body)) {
      if (event.type === "response.output_text.delta" && event.delta) {
        streamed += event.delta;
        out(event.delta);
      } else if (event.type === "response.completed") {
        usage = event.response?.usage ?? {};
      } else if (
        event.type === "response.failed" || event.type === "error"
      ) {
        failure = failureOf(event);
      }
    }
    out("\n\n");
    if (failure !== undefined || usage === undefined || streamed === "") {
      io.stderr(
        `demo: expected a completed stream, found ${
          failure ?? "a stream without response.completed"
        }\n`,
      );
      return 1;
    }
    const details = usage.output_tokens_details as
      | Record<string, unknown>
      | null
      | undefined;
    out(
      `usage: ${usage.input_tokens} input tokens, ${usage.output_tokens} output tokens${
        details?.reasoning_tokens
          ? ` (${details.reasoning_tokens} reasoning)`
          : ""
      }, ${usage.total_tokens} total\n`,
    );
    out(
      "demo: done. Next: `check` reads your real Codex login, `serve` relays to the real backend\n",
    );
    return 0;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
  }
}
