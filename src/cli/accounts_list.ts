/**
 * `accounts`: the logins the provider would serve from, by the same rules
 * (`OPENAI_RESPONSES_AUTH_FILE`, else the accounts under `<home>/accounts/`,
 * else the Codex CLI's login), one row each with its state and plan, and no
 * secret. With `--usage`, the usage endpoint of each login says whether it
 * is usage-limited, how much of its windows is used, and how many banked
 * rate-limit resets it has (never spent here: see ./accounts_reset.ts).
 *
 * @module
 */

import type { LoginSource } from "../auth/accounts.ts";
import type { CredentialsInfo } from "../auth/types.ts";
import { codexHomesOf, selectClientVersion } from "../codex/client_version.ts";
import { accountStateOf } from "../codex/errors.ts";
import { machineInfo, upstreamIdentity } from "../codex/request.ts";
import { readUsage } from "../codex/usage.ts";
import { readResetCredits, type ResetCredits } from "../codex/reset_credits.ts";
import { parseConfig, type ProviderSettings } from "../config.ts";
import {
  CredentialsError,
  LoginRequiredError,
  OpenAIResponsesError,
  RelayError,
  TokenRefreshError,
} from "../errors.ts";
import { stateAdvice, stateMeaning } from "../provider/account_states.ts";
import { PROGRAM } from "./args.ts";
import { configFromEnv } from "./env.ts";
import type { CliIo } from "./io.ts";
import {
  describeRule,
  describeTokenState,
  findLogins,
  type FoundLogins,
  loginTokenSource,
} from "./logins.ts";
import { formatRelative } from "./duration.ts";
import { hideHome, maskAccountId, maskEmail } from "../mask.ts";
import { limitedUntil } from "./usage_text.ts";

/** Flags of {@linkcode runAccounts}. */
export interface AccountsCommandOptions {
  /** Read each login's usage endpoint too. */
  usage?: boolean;
}

/** One row of the listing. Holds no secret. */
interface Row {
  name: string;
  state: string;
  plan: string;
  email: string;
  account: string;
  expires: string;
  usage?: string;
  /** Banked rate-limit resets and the next expiry, with `--usage`. */
  resets?: string;
  /** Why the login cannot be used, when it cannot. */
  problem?: string;
}

/** The RESETS cell: the count, and when the next expires. */
function describeResets(credits: ResetCredits, now: number): string {
  const next = credits.credits[0]?.expiresAt;
  return next === undefined || credits.availableCount === 0
    ? String(credits.availableCount)
    : `${credits.availableCount} (next expires ${
      new Date(next).toISOString().slice(0, 10)
    }, ${formatRelative(next, now)})`;
}

function percent(value: number | undefined): string {
  return value === undefined ? "?" : `${value}%`;
}

async function describeLogin(
  login: LoginSource,
  found: FoundLogins,
  settings: ProviderSettings,
  options: AccountsCommandOptions,
  warn: (message: string) => void,
): Promise<Row> {
  const tokens = loginTokenSource(login, settings, warn);
  const now = Date.now();
  let info: CredentialsInfo;
  try {
    info = await tokens.info();
  } catch (error) {
    return loginRequired(login, found, error, options);
  }
  const row: Row = {
    name: login.name,
    state: describeTokenState(info, now),
    plan: info.plan ?? "unknown",
    email: info.email ? maskEmail(info.email) : "unknown",
    account: maskAccountId(info.accountId),
    expires: info.expiresAt === undefined
      ? "unreadable"
      : formatRelative(info.expiresAt, now),
  };
  if (!options.usage) return row;
  try {
    // As the provider would: an expired token is refreshed first.
    const token = await tokens.getToken();
    const fresh = await tokens.info();
    row.state = describeTokenState(fresh, Date.now());
    if (fresh.expiresAt !== undefined) {
      row.expires = formatRelative(fresh.expiresAt, Date.now());
    }
    const identity = upstreamIdentity(
      settings.originator,
      settings.clientVersion,
      machineInfo(),
    );
    // Read only: listing never spends a reset.
    const resets = readResetCredits(settings.baseUrl, token, { identity })
      .then(
        (credits) => describeResets(credits, Date.now()),
        () => "unavailable",
      );
    const report = await readUsage(settings.baseUrl, token, { identity })
      .finally(async () => {
        row.resets = await resets;
      });
    const until = limitedUntil(report);
    if (report.limitReached) {
      row.state = until === undefined
        ? "usage-limited"
        : `usage-limited until ${new Date(until).toISOString()}`;
    }
    if (report.plan !== undefined) row.plan = report.plan;
    row.usage = `primary ${percent(report.primary?.usedPercent)}, secondary ${
      percent(report.secondary?.usedPercent)
    }`;
  } catch (error) {
    if (!(error instanceof RelayError)) {
      return loginRequired(login, found, error, options);
    }
    row.usage = "unavailable";
    row.problem = error.message;
    // The usage endpoint answers an ended account as the responses do.
    const state = accountStateOf(error.code);
    if (state !== undefined) {
      row.state = state;
      row.problem = `${stateMeaning(state)} (${error.code}): ${
        stateAdvice(state, login.name, found.rule)
      }`;
    }
  }
  return row;
}

function loginRequired(
  login: LoginSource,
  found: FoundLogins,
  error: unknown,
  options: AccountsCommandOptions,
): Row {
  const known = error instanceof CredentialsError ||
    error instanceof LoginRequiredError ||
    error instanceof TokenRefreshError;
  const message = error instanceof OpenAIResponsesError
    ? error.message
    : `unexpected failure (${error instanceof Error ? error.name : "error"})`;
  const hint = known && found.rule === "accounts"
    ? `. Log in again: "${PROGRAM} login --name ${login.name} --force"`
    : "";
  return {
    name: login.name,
    state: error instanceof TokenRefreshError
      ? "refresh failing"
      : "login required",
    plan: "-",
    email: "-",
    account: "-",
    expires: "-",
    usage: options.usage ? "-" : undefined,
    resets: options.usage ? "-" : undefined,
    problem: `${message}${hint}`,
  };
}

function table(rows: readonly string[][]): string[] {
  const widths = rows[0].map((_, column) =>
    Math.max(...rows.map((row) => row[column].length))
  );
  return rows.map((row) =>
    row.map((cell, column) =>
      column === row.length - 1 ? cell : cell.padEnd(widths[column])
    ).join("  ").trimEnd()
  );
}

/**
 * Runs `accounts`: prints the rule that chose the logins, then a table of
 * them (name, state, plan, masked email, masked account id, token expiry;
 * with `usage`, the share used of each window, `usage-limited until
 * <time>` as the state of a limited login, and its banked rate-limit resets
 * with the next expiry), then why each unusable login
 * cannot be used. States: `ok`, `expires in …, will refresh`,
 * `expired, will refresh`, `login required`, `refresh failing`,
 * `usage-limited until …`, and with `usage` the account states the usage
 * endpoint shows (`needs_login`, `deactivated`, `no_codex_access`,
 * `blocked`) with what to do. Resolves with 0 once the list is printed, even
 * when a login is unusable.
 *
 * @example
 * ```ts ignore
 * const code = await runAccounts(io, { usage: true });
 * ```
 */
export async function runAccounts(
  io: CliIo,
  options: AccountsCommandOptions = {},
): Promise<number> {
  const config = configFromEnv(io.env);
  const settings = parseConfig(config, { homeDir: io.homeDir });
  const found = await findLogins(config, settings, io.homeDir);
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(message);
  // The usage endpoint is asked as the serving provider speaks.
  const spoken = options.usage
    ? {
      ...settings,
      clientVersion: (await selectClientVersion(
        settings,
        codexHomesOf(found),
        { homeDir: io.homeDir, onWarning: warn },
      )).version,
    }
    : settings;
  const rows = await Promise.all(
    found.logins.map((login) =>
      describeLogin(login, found, spoken, options, warn)
    ),
  );
  const print = (text = "") => io.stdout(`${hideHome(text, io.homeDir)}\n`);
  print(`rule:   ${describeRule(found)}`);
  print();
  const header = ["NAME", "STATE", "PLAN", "EMAIL", "ACCOUNT", "EXPIRES"];
  if (options.usage) header.push("USAGE", "RESETS");
  const cells = rows.map((row) => {
    const line = [
      row.name,
      row.state,
      row.plan,
      row.email,
      row.account,
      row.expires,
    ];
    if (options.usage) line.push(row.usage ?? "-", row.resets ?? "-");
    return line;
  });
  for (const line of table([header, ...cells])) print(line);
  const problems = rows.filter((row) => row.problem !== undefined);
  if (problems.length > 0) print();
  for (const row of problems) print(`${row.name}: ${row.problem}`);
  for (const warning of new Set(warnings)) {
    io.stderr(`warning: ${hideHome(warning, io.homeDir)}\n`);
  }
  return 0;
}
