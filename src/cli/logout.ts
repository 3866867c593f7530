/**
 * `logout`: the end of a login of the provider's own. Its refresh token is
 * revoked at the issuer (best effort, 10 s), then its account folder is
 * removed whatever the revoke's outcome, as the Codex CLI's logout does.
 * Only the provider's accounts are touched: never a file named by
 * `OPENAI_RESPONSES_AUTH_FILE`, never the Codex CLI's own login.
 *
 * @module
 */

import { dirname, join } from "node:path";
import {
  accountAuthFile,
  listAccounts,
  removeAccount,
} from "../auth/accounts.ts";
import { readCredentials } from "../auth/auth_file.ts";
import { revokeRefreshToken, type RevokeResult } from "../auth/revoke.ts";
import { parseConfig } from "../config.ts";
import { AccountError } from "../errors.ts";
import { PROGRAM, UsageError } from "./args.ts";
import { configFromEnv } from "./env.ts";
import type { CliIo } from "./io.ts";
import { accountNameFlag } from "./login.ts";
import { hideHome } from "../mask.ts";

/** Flags of {@linkcode runLogout}. */
export interface LogoutCommandOptions {
  /** The account to log out of. */
  name?: string;
  /** Log out of every account. */
  all?: boolean;
}

/** How the revoke of one account went, before its folder is removed. */
type Revoked =
  | { kind: "revoked" }
  | { kind: "failed"; reason: string }
  | { kind: "nothing"; why: string };

async function revokeAccount(
  authFile: string,
  issuer: string,
): Promise<Revoked> {
  let refreshToken: string | undefined;
  try {
    refreshToken = (await readCredentials(authFile)).refreshToken;
  } catch {
    return { kind: "nothing", why: "its auth file cannot be read" };
  }
  if (refreshToken === undefined) {
    return { kind: "nothing", why: "its auth file holds no refresh token" };
  }
  const result: RevokeResult = await revokeRefreshToken(refreshToken, {
    issuer,
  });
  return result.revoked
    ? { kind: "revoked" }
    : { kind: "failed", reason: result.reason ?? "unknown" };
}

async function chooseAccounts(
  home: string,
  options: LogoutCommandOptions,
  shown: (path: string) => string,
): Promise<string[]> {
  const folder = shown(join(home, "accounts"));
  if (options.all) {
    if (options.name !== undefined) {
      throw new UsageError(
        'Conflicting flags for "logout": expected --name <name> or --all, found both',
      );
    }
    return await listAccounts(home);
  }
  const names = await listAccounts(home);
  if (options.name !== undefined) {
    const name = accountNameFlag(options.name);
    if (!names.includes(name)) {
      throw new AccountError(
        "account_not_found",
        `Cannot log out of "${name}": expected an account of that name in ${folder}, found ${
          names.length === 0 ? "no account" : `only ${names.join(", ")}`
        }`,
      );
    }
    return [name];
  }
  if (names.length === 1) return names;
  if (names.length === 0) {
    throw new AccountError(
      "account_not_found",
      `Cannot log out: expected an account in ${folder}, found none. ` +
        `"${PROGRAM} logout" removes only the provider's own logins; "codex logout" removes the Codex CLI's`,
    );
  }
  throw new UsageError(
    `Which account? Expected --name <name> or --all, found ${names.length} accounts: ${
      names.join(", ")
    }`,
  );
}

function outcome(name: string, folder: string, revoked: Revoked): string {
  switch (revoked.kind) {
    case "revoked":
      return `Logged out of "${name}": the issuer revoked its refresh token; removed ${folder}`;
    case "failed":
      return `Logged out of "${name}": removed ${folder}, but the revoke failed (${revoked.reason}): the issuer may accept its refresh token until it expires`;
    case "nothing":
      return `Logged out of "${name}": removed ${folder}; nothing revoked (${revoked.why})`;
  }
}

/**
 * Runs `logout`: for the account named by `name`, for every account with
 * `all`, or, with neither, for the only account there is (several accounts
 * need one of the flags). The refresh tokens are revoked at once (each
 * bounded by 10 s), then each folder is removed and one line says how it
 * went. Resolves with the exit code (0 once every folder is removed, even
 * when a revoke failed); throws `AccountError` or `UsageError` for the
 * caller to print.
 *
 * @example
 * ```ts ignore
 * const code = await runLogout(io, { name: "work" });
 * ```
 */
export async function runLogout(
  io: CliIo,
  options: LogoutCommandOptions = {},
): Promise<number> {
  const config = configFromEnv(io.env);
  const settings = parseConfig(config, { homeDir: io.homeDir });
  const shown = (path: string) => hideHome(path, io.homeDir);
  const names = await chooseAccounts(settings.home, options, shown);
  if (names.length === 0) {
    io.stdout(
      `No account to log out of: ${
        shown(join(settings.home, "accounts"))
      } holds none\n`,
    );
    return 0;
  }
  const revokes = await Promise.all(
    names.map((name) =>
      revokeAccount(accountAuthFile(settings.home, name), settings.authIssuer)
    ),
  );
  for (const [index, name] of names.entries()) {
    await removeAccount(settings.home, name);
    const folder = shown(dirname(accountAuthFile(settings.home, name)));
    io.stdout(`${outcome(name, folder, revokes[index])}\n`);
  }
  if (
    settings.authFiles.length === 0 &&
    (await listAccounts(settings.home)).length === 0
  ) {
    io.stdout(
      `No account is left: the provider now serves from the Codex CLI's login, ${
        shown(settings.codexAuthFile)
      }\n`,
    );
  }
  return 0;
}
