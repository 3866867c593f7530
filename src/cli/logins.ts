/**
 * Which logins the commands look at, the same ones the provider serves
 * from (`OPENAI_RESPONSES_AUTH_FILE`, else the accounts under
 * `<home>/accounts/`, else the Codex CLI's login), the rule that chose them
 * in words, and the state of one login in a few words. Shared by `check`
 * and `accounts`.
 *
 * @module
 */

import { join } from "node:path";
import {
  type LoginSource,
  type ResolvedLogins,
  resolveLogins,
} from "../auth/accounts.ts";
import { planRefresh } from "../auth/policy.ts";
import { createTokenSource } from "../auth/token_source.ts";
import type { CredentialsInfo, TokenSource } from "../auth/types.ts";
import type { ProviderSettings } from "../config.ts";
import { formatRelative } from "./duration.ts";

/** The logins found, with the folders the rules looked at. */
export interface FoundLogins extends ResolvedLogins {
  /** The provider's home (`OPENAI_RESPONSES_HOME` or its default). */
  home: string;
}

/**
 * The logins the provider would serve from with this configuration, by the
 * same rules ({@linkcode resolveLogins}).
 *
 * Throws `AccountError` (`accounts_unreadable`).
 *
 * @example
 * ```ts ignore
 * const found = await findLogins(config, parseConfig(config));
 * console.log(found.rule, found.logins.map((login) => login.name));
 * ```
 */
export async function findLogins(
  config: Record<string, string>,
  settings: Pick<ProviderSettings, "home" | "codexAuthFile">,
  homeDir: string,
): Promise<FoundLogins> {
  const resolved = await resolveLogins({
    authFile: config.OPENAI_RESPONSES_AUTH_FILE,
    home: settings.home,
    codexHome: config.CODEX_HOME,
    homeDir,
  });
  return { ...resolved, home: settings.home };
}

/**
 * The rule that chose the logins, in words: its name first (`auth_file`,
 * `accounts`, `codex_home`), then why.
 *
 * @example
 * ```ts
 * import { describeRule } from "./logins.ts";
 * console.log(describeRule({
 *   rule: "auth_file",
 *   home: "/home/me/.antseed/openai-responses",
 *   logins: [{ name: "file1", authFile: "/a/auth.json" }],
 * }));
 * // "auth_file (OPENAI_RESPONSES_AUTH_FILE names 1 file)"
 * ```
 */
export function describeRule(found: FoundLogins): string {
  const accounts = join(found.home, "accounts");
  switch (found.rule) {
    case "auth_file": {
      const count = found.logins.length;
      return `auth_file (OPENAI_RESPONSES_AUTH_FILE names ${count} file${
        count === 1 ? "" : "s"
      })`;
    }
    case "accounts":
      return `accounts (OPENAI_RESPONSES_AUTH_FILE is unset: every account in ${accounts})`;
    case "codex_home":
      return `codex_home (OPENAI_RESPONSES_AUTH_FILE is unset and ${accounts} holds no account: the Codex CLI's login)`;
  }
}

/**
 * A token source over one login, refreshing through the configured token
 * endpoint, as the provider's own.
 */
export function loginTokenSource(
  login: LoginSource,
  settings: Pick<ProviderSettings, "tokenUrl">,
  onWarning: (message: string) => void,
): TokenSource {
  return createTokenSource(login.authFile, {
    tokenUrl: settings.tokenUrl,
    onWarning,
  });
}

/**
 * The state of a readable login in a few words: `ok`,
 * `expires in 3 min, will refresh`, `expired, will refresh`, ...
 *
 * @example
 * ```ts
 * import { describeTokenState } from "./logins.ts";
 * const now = Date.now();
 * console.log(describeTokenState({ authFile: "a", accountId: "b", expiresAt: now - 1 }, now));
 * // "expired, will refresh"
 * ```
 */
export function describeTokenState(
  info: CredentialsInfo,
  now: number,
): string {
  switch (planRefresh(info, now).reason) {
    case "valid":
      return "ok";
    case "expires_soon":
      return `expires ${formatRelative(info.expiresAt!, now)}, will refresh`;
    case "expired":
      return "expired, will refresh";
    case "last_refresh_old":
      return "last refresh over 8 days ago, will refresh";
    case "expiry_unknown":
      return "ok (expiry unreadable)";
  }
}
