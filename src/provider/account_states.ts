/**
 * What each named account state of a login means and what the seller does
 * about it, in the words of the log line, `accounts --usage` and
 * `check --probe`.
 *
 * @module
 */

import type { AccountState } from "../codex/errors.ts";

/** The command the seller runs; the provider does not import the CLI. */
const PROGRAM = "provider-openai-responses";

/** How the logins were found: only the provider's own accounts have `login --name`. */
export type LoginsRule =
  | "auth_file"
  | "accounts"
  | "codex_home"
  | "token_source";

const MEANING: Record<AccountState, string> = {
  needs_login: "its tokens are refused for good (revoked or invalidated)",
  deactivated: "its ChatGPT account or workspace is deactivated",
  no_codex_access: "its ChatGPT plan does not include Codex",
  blocked: "the backend refused its account",
};

/**
 * What `state` means for a login.
 *
 * @param state the login's state
 * @returns a sentence fragment, e.g. `its ChatGPT plan does not include Codex`
 *
 * @example
 * ```ts
 * import { stateMeaning } from "./account_states.ts";
 * console.log(stateMeaning("deactivated")); // "its ChatGPT account or workspace is deactivated"
 * ```
 */
export function stateMeaning(state: AccountState): string {
  return MEANING[state];
}

/**
 * What the seller does about the login `name` in `state`, by the rule that
 * found the logins.
 *
 * @param state the login's state
 * @param name the login's name (never an email)
 * @param rule how the logins were found
 * @returns what to do, e.g. `run "provider-openai-responses login --name work --force"`
 *
 * @example
 * ```ts
 * import { stateAdvice } from "./account_states.ts";
 * console.log(stateAdvice("needs_login", "work", "accounts"));
 * // run "provider-openai-responses login --name work --force"
 * ```
 */
export function stateAdvice(
  state: AccountState,
  name: string,
  rule: LoginsRule,
): string {
  const login = rule === "accounts"
    ? `run "${PROGRAM} login --name ${name} --force"`
    : rule === "codex_home"
    ? `run "codex login"`
    : "log in again and put the new auth.json in its place";
  switch (state) {
    case "needs_login":
      return login;
    case "deactivated":
      return `log in with another account (${login}) or remove the login`;
    case "no_codex_access":
      return `upgrade the plan to one with Codex, then ${login}; or remove the login`;
    case "blocked":
      return `sign in at chatgpt.com to see what the account needs (e.g. a phone verification), then ${login}`;
  }
}
