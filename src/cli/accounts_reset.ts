/**
 * `accounts reset --name <login> [--yes]`: spends one banked rate-limit
 * reset of one login, on the seller's explicit decision. Shows the login's
 * banked resets and their expiry, asks `[y/N]` unless `--yes`, then spends
 * the one that expires first with one `redeem_request_id` for the whole
 * invocation (a retry of a lost answer reuses it, so at most one reset is
 * spent), and prints the outcome.
 *
 * Without `--yes` and without a terminal to ask at (standard input piped or
 * closed), nothing is spent: a script must say `--yes`.
 *
 * @module
 */

import {
  readResetCredits,
  redeemResetCredit,
  type ResetCredits,
  type ResetOutcome,
} from "../codex/reset_credits.ts";
import { machineInfo, upstreamIdentity } from "../codex/request.ts";
import { parseConfig } from "../config.ts";
import { PROGRAM, UsageError } from "./args.ts";
import { configFromEnv } from "./env.ts";
import type { CliIo } from "./io.ts";
import { findLogins, loginTokenSource } from "./logins.ts";
import { hideHome } from "../mask.ts";
import { formatRelative } from "./duration.ts";

/** Flags of {@linkcode runAccountsReset}. */
export interface AccountsResetOptions {
  /** The login whose reset to spend (required). */
  name?: string;
  /** Spend without asking. */
  yes?: boolean;
}

/** Outcomes after which the login is not usage-limited: exit code 0. */
const SUCCESS: ReadonlySet<ResetOutcome> = new Set([
  "reset",
  "nothing_to_reset",
]);

function describeOutcome(
  outcome: ResetOutcome,
  name: string,
  windows: number | undefined,
): string {
  switch (outcome) {
    case "reset":
      return `reset: the usage limits of login ${name} were reset${
        windows === undefined
          ? ""
          : ` (${windows} window${windows === 1 ? "" : "s"})`
      }`;
    case "nothing_to_reset":
      return `nothing_to_reset: login ${name} is not usage-limited; no reset was spent`;
    case "no_credit":
      return `no_credit: login ${name} has no banked reset to spend`;
    case "already_redeemed":
      return `already_redeemed: that reset of login ${name} was already spent`;
    case "ineligible":
      return `ineligible: the plan of login ${name} may not spend banked resets (rate_limit_reset_ineligible)`;
  }
}

function describeCredits(credits: ResetCredits, now: number): string {
  const count = credits.availableCount;
  const next = credits.credits[0]?.expiresAt;
  return `${count} banked reset${count === 1 ? "" : "s"}${
    next === undefined
      ? ""
      : `, the next to expire on ${new Date(next).toISOString()} (${
        formatRelative(next, now)
      })`
  }`;
}

/**
 * Runs `accounts reset`. Resolves with 0 when the outcome is `reset` or
 * `nothing_to_reset`, 1 when nothing could be spent (`no_credit`,
 * `already_redeemed`, `ineligible`, the seller said no, no terminal to ask
 * at without `--yes`). Throws `UsageError` without `--name` or for an
 * unknown login, `RelayError` (`reset_credits_unavailable`) when the
 * backend gives no outcome.
 *
 * @example
 * ```ts ignore
 * const code = await runAccountsReset(io, { name: "work", yes: true });
 * ```
 */
export async function runAccountsReset(
  io: CliIo,
  options: AccountsResetOptions,
): Promise<number> {
  const config = configFromEnv(io.env);
  const settings = parseConfig(config, { homeDir: io.homeDir });
  const found = await findLogins(config, settings, io.homeDir);
  const names = found.logins.map((login) => login.name);
  if (options.name === undefined) {
    throw new UsageError(
      `Missing --name: expected the login whose reset to spend, one of ${
        names.join(", ")
      }`,
    );
  }
  const login = found.logins.find((login) => login.name === options.name);
  if (login === undefined) {
    throw new UsageError(
      `Unknown login ${
        JSON.stringify(options.name.slice(0, 64))
      }: expected one of ${names.join(", ")}. Run "${PROGRAM} accounts"`,
    );
  }
  const print = (text: string) => io.stdout(`${hideHome(text, io.homeDir)}\n`);
  const warnings: string[] = [];
  const tokens = loginTokenSource(login, settings, (message) => {
    warnings.push(message);
  });
  try {
    const token = await tokens.getToken();
    const call = {
      identity: upstreamIdentity(
        settings.originator,
        settings.clientVersion,
        machineInfo(),
      ),
    };
    const credits = await readResetCredits(settings.baseUrl, token, call);
    print(`login ${login.name}: ${describeCredits(credits, Date.now())}`);
    if (credits.availableCount === 0) {
      print(describeOutcome("no_credit", login.name, undefined));
      return 1;
    }
    if (!options.yes) {
      const answer = await io.ask?.(
        `Spend one banked reset of login ${login.name} now? [y/N] `,
      );
      if (answer === undefined) {
        io.stderr(
          "error: Refusing to spend a reset without confirmation: standard input is not a terminal. Pass --yes to spend one\n",
        );
        return 1;
      }
      if (!/^\s*y(es)?\s*$/i.test(answer)) {
        print("Nothing spent.");
        return 1;
      }
    }
    // One id for this decision: every retry of a lost answer reuses it.
    const redeemRequestId = crypto.randomUUID();
    print(`redeem_request_id: ${redeemRequestId}`);
    const redemption = await redeemResetCredit(settings.baseUrl, token, {
      ...call,
      redeemRequestId,
      creditId: credits.credits[0]?.id,
    });
    print(
      describeOutcome(redemption.outcome, login.name, redemption.windowsReset),
    );
    return SUCCESS.has(redemption.outcome) ? 0 : 1;
  } finally {
    for (const warning of new Set(warnings)) {
      io.stderr(`warning: ${hideHome(warning, io.homeDir)}\n`);
    }
  }
}
