/**
 * `check`: which logins the provider serves from and by which rule, what
 * each login's credentials say (masked), what the provider will do with
 * them next, and optionally one forced refresh, one tiny probe request with
 * its rate-limit snapshot, and the usage endpoint's report, for each login.
 *
 * @module
 */

import type { TokenSource } from "../auth/types.ts";
import { planRefresh, REFRESH_MARGIN_MS } from "../auth/policy.ts";
import type { CredentialsInfo } from "../auth/types.ts";
import { listBackendModels } from "../serve/models.ts";
import type { RateLimitSnapshot } from "../codex/rate_limits.ts";
import type {
  SerializedHttpRequest,
  SerializedHttpResponse,
} from "../host_types.ts";
import { formatDuration, formatRelative } from "./duration.ts";
import { maskAccountId, maskEmail } from "../mask.ts";
import { describeRateLimits } from "./rate_limits_text.ts";
import { OpenAIResponsesError, RelayError } from "../errors.ts";
import { readUsage } from "../codex/usage.ts";
import { accountStateOf } from "../codex/errors.ts";
import {
  type LoginsRule,
  stateAdvice,
  stateMeaning,
} from "../provider/account_states.ts";
import { machineInfo, upstreamIdentity } from "../codex/request.ts";
import {
  type ClientVersionChoice,
  describeClientVersion,
} from "../codex/client_version.ts";
import { describeRule, type FoundLogins } from "./logins.ts";
import { describeUsage } from "./usage_text.ts";

/** What `check` needs of a provider; an `OpenAIResponsesProvider` has all of it. */
export interface CheckedProvider {
  /** Settings: where the credentials and the model list are. */
  readonly settings: {
    readonly authFile: string;
    readonly baseUrl: string;
    readonly modelsUrl: string;
    readonly clientVersion: string;
    readonly originator: string;
  };
  /** Announced services; the probe uses the first one. */
  readonly services: string[];
  /** The token source over the seller's credentials. */
  readonly tokens: Pick<TokenSource, "info" | "forceRefresh" | "getToken">;
  /** The Codex CLI version spoken; when absent, the settings' version. */
  clientVersion?(): Promise<{ readonly version: string }>;
  /** Answers one request whole. */
  handleRequest(req: SerializedHttpRequest): Promise<SerializedHttpResponse>;
  /** The latest rate-limit snapshot, if any. */
  getRateLimits(): RateLimitSnapshot | undefined;
}

/** Options of {@linkcode runCheck}. */
export interface CheckOptions {
  /** Force one refresh and print the new expiry. */
  refresh?: boolean;
  /** Send one tiny request and print the rate-limit snapshot. */
  probe?: boolean;
  /** Model of the probe (default: the first announced service, else the first model the backend lists). */
  model?: string;
  /**
   * Read the backend's usage endpoint and print plan, windows and credits;
   * when it fails, say so and print the last rate-limit headers instead
   * (from the probe), or that none are known.
   */
  usage?: boolean;
  /** Bound of the usage call, in milliseconds (default 10000). */
  usageTimeoutMs?: number;
  /** Clock, milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The fetch used for the backend's model list (default: the global one). */
  fetch?: typeof fetch;
  /** The Codex CLI version the logins speak as, printed after the logins. */
  clientVersion?: ClientVersionChoice;
  /** The login checked and the rule that found it, for what to do about its account state. */
  login?: { name: string; rule: LoginsRule };
}

/** A line printer that replaces the seller's home with `~`. */
export interface CheckOutput {
  /** Prints one line. */
  line(text: string): void;
}

const LABEL_WIDTH = 14;

function row(label: string, value: string): string {
  return `${`${label}:`.padEnd(LABEL_WIDTH)} ${value}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * What the token source will do next with these credentials, in words.
 *
 * @example
 * ```ts
 * import { describeNextStep } from "./check.ts";
 * const now = Date.now();
 * console.log(describeNextStep({ authFile: "a", accountId: "b", expiresAt: now - 1 }, now));
 * // "expired: will refresh on the next request"
 * ```
 */
export function describeNextStep(info: CredentialsInfo, now: number): string {
  const plan = planRefresh(info, now);
  const margin = formatDuration(REFRESH_MARGIN_MS);
  switch (plan.reason) {
    case "expired":
      return "expired: will refresh on the next request";
    case "expires_soon":
      return `token expires ${
        formatRelative(info.expiresAt!, now)
      }: will refresh on the next request`;
    case "last_refresh_old":
      return "expiry unreadable and last refresh older than 8 days: will refresh on the next request";
    case "expiry_unknown":
      return "expiry unreadable: used until the backend rejects it, then refreshed";
    case "valid":
      return info.expiresAt !== undefined
        ? `token valid for ${
          formatDuration(info.expiresAt - now)
        }; refreshes automatically ${margin} before expiry`
        : "expiry unreadable; refreshes automatically 8 days after the last refresh";
  }
}

/** The credential lines of `check`, masked. */
function credentialLines(
  info: CredentialsInfo,
  now: number,
): string[] {
  return [
    row("auth file", info.authFile),
    row("account", maskAccountId(info.accountId)),
    row("plan", info.plan ?? "unknown"),
    row("email", info.email ? maskEmail(info.email) : "unknown"),
    row(
      "access token",
      info.expiresAt === undefined
        ? "expiry unreadable"
        : `expires ${iso(info.expiresAt)} (${
          formatRelative(info.expiresAt, now)
        })`,
    ),
    row(
      "last refresh",
      info.lastRefresh === undefined
        ? "unknown"
        : `${iso(info.lastRefresh)} (${formatRelative(info.lastRefresh, now)})`,
    ),
    row("next", describeNextStep(info, now)),
  ];
}

async function probe(
  provider: CheckedProvider,
  output: CheckOutput,
  options: CheckOptions,
  now: () => number,
): Promise<number> {
  const model = options.model ?? provider.services[0] ??
    (await listBackendModels(provider, { fetch: options.fetch }))[0];
  if (model === undefined) {
    output.line(
      row("probe", "failed: expected a model, found an empty model list"),
    );
    return 1;
  }
  const started = now();
  const response = await provider.handleRequest({
    requestId: `check-${crypto.randomUUID()}`,
    method: "POST",
    path: "/v1/responses",
    headers: { "content-type": "application/json" },
    body: new TextEncoder().encode(
      JSON.stringify({ model, input: "ping", stream: false }),
    ),
  });
  const took = now() - started;
  const text = new TextDecoder().decode(response.body);
  let body: Record<string, unknown> | undefined;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.statusCode !== 200) {
    const error = (body?.error ?? {}) as Record<string, unknown>;
    output.line(
      row(
        "probe",
        `${model} answered ${response.statusCode} ${
          String(error.code ?? "error")
        }: ${String(error.message ?? "no message")}`,
      ),
    );
    const state = typeof error.code === "string"
      ? accountStateOf(error.code)
      : undefined;
    if (state !== undefined) {
      output.line(
        row(
          "account state",
          `${state}: ${stateMeaning(state)}${
            options.login
              ? `; ${
                stateAdvice(state, options.login.name, options.login.rule)
              }`
              : ""
          }`,
        ),
      );
    }
  } else {
    const usage = (body?.usage ?? {}) as Record<string, unknown>;
    output.line(
      row(
        "probe",
        `${model} answered 200 in ${took} ms (${
          Number(usage.input_tokens ?? 0)
        } input, ${Number(usage.output_tokens ?? 0)} output tokens)`,
      ),
    );
  }
  // With --usage, the headers are the fallback of the usage report.
  if (!options.usage) {
    for (const line of describeRateLimits(provider.getRateLimits(), now())) {
      output.line(row("rate limit", line));
    }
  }
  return response.statusCode === 200 ? 0 : 1;
}

async function usage(
  provider: CheckedProvider,
  output: CheckOutput,
  options: CheckOptions,
  now: () => number,
): Promise<void> {
  const token = await provider.tokens.getToken();
  const { originator, clientVersion } = provider.settings;
  try {
    const report = await readUsage(provider.settings.baseUrl, token, {
      fetch: options.fetch,
      timeoutMs: options.usageTimeoutMs,
      identity: upstreamIdentity(
        originator,
        provider.clientVersion
          ? (await provider.clientVersion()).version
          : clientVersion,
        machineInfo(),
      ),
      now,
    });
    for (const line of describeUsage(report, now())) {
      output.line(row("usage", line));
    }
  } catch (error) {
    if (!(error instanceof RelayError)) throw error;
    output.line(row("usage", `unavailable: ${error.message}`));
    const snapshot = provider.getRateLimits();
    if (snapshot === undefined) {
      output.line(
        row(
          "rate limit",
          "none known: add --probe to read the rate-limit headers of one request",
        ),
      );
      return;
    }
    output.line(
      row("usage", "showing the last rate-limit headers instead (the probe's)"),
    );
    for (const line of describeRateLimits(snapshot, now())) {
      output.line(row("rate limit", line));
    }
  }
}

/**
 * Runs `check` on one login: prints the credentials (account id and email
 * masked), the access-token expiry and last refresh (ISO and relative), and
 * what happens next; with `refresh`, forces one refresh and prints the new
 * expiry; with `probe`, sends `input: "ping"` through the provider and
 * prints the rate-limit snapshot; with `usage`, prints the usage endpoint's
 * report (or that it is unavailable, and the last rate-limit headers).
 * Resolves with the exit code (0, or 1 when the probe was refused); throws
 * the credentials errors (`CredentialsError`, `LoginRequiredError`,
 * `TokenRefreshError`) for the caller to print.
 *
 * @example
 * ```ts ignore
 * const code = await runCheck(provider, { line: console.log }, { refresh: true });
 * ```
 */
export async function runCheck(
  provider: CheckedProvider,
  output: CheckOutput,
  options: CheckOptions = {},
): Promise<number> {
  const now = options.now ?? Date.now;
  const info = await provider.tokens.info();
  for (const line of credentialLines(info, now())) output.line(line);
  if (options.refresh) {
    const refreshed = await provider.tokens.forceRefresh();
    const at = now();
    output.line(
      row(
        "refreshed",
        refreshed.expiresAt === undefined
          ? "new access token (expiry unreadable)"
          : `new access token expires ${iso(refreshed.expiresAt)} (${
            formatRelative(refreshed.expiresAt, at)
          })`,
      ),
    );
    output.line(row("next", describeNextStep(refreshed, at)));
  }
  let code = 0;
  if (options.probe) code = await probe(provider, output, options, now);
  if (options.usage) await usage(provider, output, options, now);
  return code;
}

/** One login to check: its label and a provider over it alone. */
export interface CheckedLogin {
  /** The login's label (account name, `file1`, `codex`). */
  name: string;
  /** A provider that serves from this login only. */
  provider: CheckedProvider;
}

function failureText(error: unknown): string {
  if (error instanceof OpenAIResponsesError) return error.message;
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return `unexpected failure (${name}): ${message}`;
}

/**
 * Runs `check` on every login the provider serves from: prints the rule
 * that chose them and their names, then {@linkcode runCheck} for each
 * (`refresh`, `probe` and `usage` apply to each: every login is its own
 * account, with its own token and limits). With one login the output is
 * that login's, and its failure is thrown as it is. With several, each
 * section starts with `login: <name>`, a login that fails gets an `error`
 * line and the others are still checked; then a `CheckError`
 * (`login_check_failed`) naming the failed ones is thrown.
 *
 * @example
 * ```ts ignore
 * const code = await runCheckOfLogins(found, logins, { line: console.log }, { usage: true });
 * ```
 */
export async function runCheckOfLogins(
  found: FoundLogins,
  logins: readonly CheckedLogin[],
  output: CheckOutput,
  options: CheckOptions = {},
): Promise<number> {
  output.line(row("rule", describeRule(found)));
  output.line(row("logins", logins.map((login) => login.name).join(", ")));
  if (options.clientVersion) {
    output.line(
      row("client version", describeClientVersion(options.clientVersion)),
    );
  }
  const of = (login: CheckedLogin): CheckOptions => ({
    ...options,
    login: { name: login.name, rule: found.rule },
  });
  if (logins.length === 1) {
    return await runCheck(logins[0].provider, output, of(logins[0]));
  }
  let code = 0;
  const failed: string[] = [];
  for (const login of logins) {
    output.line("");
    output.line(row("login", login.name));
    try {
      code = Math.max(
        code,
        await runCheck(login.provider, output, of(login)),
      );
    } catch (error) {
      failed.push(login.name);
      output.line(row("error", failureText(error)));
    }
  }
  if (failed.length > 0) {
    throw new CheckError(
      `Expected every login to be usable, found ${failed.length} of ${logins.length} that cannot be: ${
        failed.join(", ")
      } (see their error lines above)`,
    );
  }
  return code;
}

/** Some of several logins cannot be used. Code: `login_check_failed`. */
export class CheckError extends OpenAIResponsesError {
  /**
   * Creates the error.
   *
   * @param message which logins failed
   */
  constructor(message: string) {
    super("login_check_failed", message);
    this.name = "CheckError";
  }
}
