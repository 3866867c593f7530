/**
 * One bounded HTTP exchange with the OAuth issuer, shared by the login flows
 * and the revoke call, and the careful reading of what the issuer says when
 * it refuses. Private to `src/auth/`.
 *
 * @module
 */

import { isRecord } from "../json.ts";

/** What the issuer answered: status and JSON body (`undefined` when not JSON). */
export interface IssuerAnswer {
  status: number;
  body: unknown;
}

/** Why no answer came. */
export type IssuerFailure = "timeout" | "network" | "aborted";

/** Thrown by {@linkcode postToIssuer} when no answer came. */
export class IssuerUnreachable extends Error {
  constructor(readonly kind: IssuerFailure, options?: ErrorOptions) {
    super(`issuer ${kind}`, options);
    this.name = "IssuerUnreachable";
  }
}

/** Options of {@linkcode postToIssuer}. */
export interface PostOptions {
  /** Bound of the whole exchange, answer body included, in milliseconds. */
  timeoutMs: number;
  /** Aborts the exchange (`aborted`). */
  signal?: AbortSignal;
  /** `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * POSTs `body` to `url` as JSON (an object) or form-encoded
 * (`URLSearchParams`), and reads the answer within `timeoutMs`.
 *
 * Throws {@linkcode IssuerUnreachable} only.
 */
export async function postToIssuer(
  url: string,
  body: Record<string, unknown> | URLSearchParams,
  options: PostOptions,
): Promise<IssuerAnswer> {
  const controller = new AbortController();
  let kind: IssuerFailure = "network";
  const timer = setTimeout(() => {
    kind = "timeout";
    controller.abort();
  }, options.timeoutMs);
  const onAbort = () => {
    kind = "aborted";
    controller.abort();
  };
  const signal = options.signal;
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const form = body instanceof URLSearchParams;
    const response = await (options.fetch ?? globalThis.fetch)(url, {
      method: "POST",
      headers: {
        "content-type": form
          ? "application/x-www-form-urlencoded"
          : "application/json",
        accept: "application/json",
      },
      body: form ? body.toString() : JSON.stringify(body),
      signal: controller.signal,
      // A redirect is answered as it is, not followed: on a 307 or 308 both
      // runtimes' fetch send the body (a code and its verifier, a device
      // code, a token to revoke) again to wherever it points, another host
      // included.
      redirect: "manual",
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  } catch (error) {
    throw new IssuerUnreachable(controller.signal.aborted ? kind : "network", {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

const REASON = /^[A-Za-z0-9_.:-]{1,80}$/;

/**
 * The issuer's error code: `error` (a string), else `error.code`, else
 * `code`; only when it looks like a code (so that no free text, and thus no
 * secret, is taken for one).
 */
export function issuerReason(body: unknown): string | undefined {
  if (!isRecord(body)) return undefined;
  const candidates = [
    body.error,
    isRecord(body.error) ? body.error.code : undefined,
    body.code,
  ];
  for (const candidate of candidates) {
    if (typeof candidate === "string" && REASON.test(candidate)) {
      return candidate;
    }
  }
  return undefined;
}

/**
 * Makes text from the issuer fit for an error message: control characters
 * and runs of white space become one space, every secret of the exchange is
 * replaced by `[redacted]`, the whole is cut to 200 characters.
 */
export function cleanIssuerText(
  text: string,
  secrets: readonly string[] = [],
): string {
  let clean = text.replace(/[\p{Cc}\s]+/gu, " ").trim();
  for (const secret of secrets) {
    if (secret !== "") clean = clean.split(secret).join("[redacted]");
  }
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}

/**
 * The issuer's explanation of a refusal, as the Codex CLI reads it:
 * `error_description`, else `error.message`, else `error` (a string);
 * cleaned with {@linkcode cleanIssuerText}.
 */
export function issuerMessage(
  body: unknown,
  secrets: readonly string[] = [],
): string | undefined {
  if (!isRecord(body)) return undefined;
  const candidates = [
    body.error_description,
    isRecord(body.error) ? body.error.message : undefined,
    body.error,
  ];
  for (const candidate of candidates) {
    if (typeof candidate === "string" && candidate.trim() !== "") {
      const clean = cleanIssuerText(candidate, secrets);
      if (clean !== "") return clean;
    }
  }
  return undefined;
}

/** `HTTP 400 (invalid_grant: Invalid code verifier)`-style summary of a refusal. */
export function describeRefusal(
  answer: IssuerAnswer,
  secrets: readonly string[] = [],
): string {
  const reason = issuerReason(answer.body);
  const message = issuerMessage(answer.body, secrets);
  const detail = [reason, message === reason ? undefined : message]
    .filter((part) => part !== undefined).join(": ");
  return `HTTP ${answer.status}${detail === "" ? "" : ` (${detail})`}`;
}
