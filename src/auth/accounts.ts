/**
 * The provider's own logins: one folder per account under a home folder,
 * `<home>/accounts/<name>/auth.json` (folders 0700, file 0600), each file in
 * exactly the Codex CLI's format so that every reader of auth.json (this
 * provider's token source, `codex` itself with `CODEX_HOME` pointed at the
 * folder) can use it. And which logins the provider serves with: the
 * resolution order of `OPENAI_RESPONSES_AUTH_FILE`, the accounts, the Codex
 * CLI's own login.
 *
 * Error messages name folders and account names, never a token or an email.
 *
 * @module
 */

import {
  chmod,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import { AccountError, systemErrorCode } from "../errors.ts";
import { credentialsFromDocument } from "./auth_file.ts";
import { readTokenClaims } from "./claims.ts";
import type { LoginTokens } from "./oauth.ts";
import { formatLastRefresh, tempPathFor, writeNewFile } from "./write.ts";

/** Valid account names: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit. */
export const ACCOUNT_NAME_PATTERN: RegExp = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Name of the credentials file in an account folder, as the Codex CLI names it. */
export const AUTH_FILE_NAME = "auth.json";

const FOLDER_MODE = 0o700;
const FILE_MODE = 0o600;

function describeBadName(name: string): string {
  if (name === "") return "an empty name";
  if (name.length > 64) return `${name.length} characters`;
  if (/[A-Z]/.test(name)) return "an uppercase letter";
  if (!/^[a-z0-9]/.test(name)) {
    return `a name starting with ${JSON.stringify(name[0])}`;
  }
  const bad = [...name].find((char) => !/[a-z0-9._-]/.test(char));
  return bad === undefined
    ? "a name that is not allowed"
    : `the character ${JSON.stringify(bad)}`;
}

/**
 * Returns `name` when it is a valid account name
 * ({@linkcode ACCOUNT_NAME_PATTERN}). The message of a refusal says what is
 * wrong without repeating the name (it could be an email).
 *
 * Throws `AccountError` (`invalid_account_name`).
 *
 * @example
 * ```ts
 * import { validateAccountName } from "./accounts.ts";
 * console.log(validateAccountName("work-2")); // "work-2"
 * ```
 */
export function validateAccountName(name: string): string {
  if (typeof name === "string" && ACCOUNT_NAME_PATTERN.test(name)) return name;
  throw new AccountError(
    "invalid_account_name",
    `Invalid account name: expected 1 to 64 of a-z, 0-9, ".", "_" and "-", starting with a letter or digit, found ${
      typeof name === "string" ? describeBadName(name) : "no string"
    }`,
  );
}

/**
 * The provider's default home folder: `<homeDir>/.antseed/openai-responses`.
 *
 * @example
 * ```ts
 * import { defaultHome } from "./accounts.ts";
 * console.log(defaultHome("/home/me")); // "/home/me/.antseed/openai-responses"
 * ```
 */
export function defaultHome(homeDir: string): string {
  return join(homeDir, ".antseed", "openai-responses");
}

function accountsFolder(home: string): string {
  return join(home, "accounts");
}

/**
 * The auth file of an account: `<home>/accounts/<name>/auth.json`.
 *
 * Throws `AccountError` (`invalid_account_name`).
 *
 * @example
 * ```ts
 * import { accountAuthFile } from "./accounts.ts";
 * console.log(accountAuthFile("/home/me/.antseed/openai-responses", "work"));
 * // "/home/me/.antseed/openai-responses/accounts/work/auth.json"
 * ```
 */
export function accountAuthFile(home: string, name: string): string {
  return join(accountsFolder(home), validateAccountName(name), AUTH_FILE_NAME);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The names of the accounts under `home`, sorted: folders of
 * `<home>/accounts/` with a valid name that hold an auth.json. Anything else
 * there is ignored; no accounts folder means no accounts.
 *
 * Throws `AccountError` (`accounts_unreadable`) when the folder exists but
 * cannot be listed.
 *
 * @example
 * ```ts
 * import { listAccounts } from "./accounts.ts";
 * console.log(await listAccounts("/home/me/.antseed/openai-responses")); // ["personal", "work"]
 * ```
 */
export async function listAccounts(home: string): Promise<string[]> {
  const folder = accountsFolder(home);
  let entries: string[];
  try {
    entries = await readdir(folder);
  } catch (error) {
    const code = systemErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new AccountError(
      "accounts_unreadable",
      `Cannot list the accounts in ${folder}: expected a readable folder, found ${
        code ?? "an error"
      }. Check its owner and permissions`,
      { cause: error },
    );
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!ACCOUNT_NAME_PATTERN.test(entry)) continue;
    if (await isFile(join(folder, entry, AUTH_FILE_NAME))) names.push(entry);
  }
  return names.sort();
}

/** Options of {@linkcode accountDocument}. */
export interface AccountDocumentOptions {
  /** Time of the login, milliseconds since the epoch (default: now). */
  now?: number;
}

/**
 * The ChatGPT account id of a login: the id token's `chatgpt_account_id`
 * claim, else the access token's.
 *
 * @example
 * ```ts
 * import { loginAccountId } from "./accounts.ts";
 * import { makeAccessToken, makeIdToken } from "../testing/jwt.ts";
 * const id = await loginAccountId({
 *   idToken: makeIdToken({ accountId: "acct_1" }),
 *   accessToken: makeAccessToken({ accountId: "acct_1" }),
 *   refreshToken: "rt_1",
 * });
 * console.log(id); // "acct_1"
 * ```
 */
export async function loginAccountId(
  tokens: LoginTokens,
): Promise<string | undefined> {
  return (await readTokenClaims("", tokens.idToken)).accountId ??
    (await readTokenClaims(tokens.accessToken)).accountId;
}

/**
 * The auth.json document `codex login` writes for a ChatGPT login:
 * `auth_mode: "chatgpt"`, `OPENAI_API_KEY: null`, the three tokens and
 * `account_id` (from the id token), `last_refresh` in the CLI's format.
 *
 * Throws `AccountError` (`account_id_missing`) when neither token names a
 * ChatGPT account.
 *
 * @example
 * ```ts
 * import { accountDocument } from "./accounts.ts";
 * import { makeAccessToken, makeIdToken } from "../testing/jwt.ts";
 * const document = await accountDocument({
 *   idToken: makeIdToken(),
 *   accessToken: makeAccessToken(),
 *   refreshToken: "rt_1",
 * });
 * console.log(document.auth_mode); // "chatgpt"
 * ```
 */
export async function accountDocument(
  tokens: LoginTokens,
  options: AccountDocumentOptions = {},
): Promise<Record<string, unknown>> {
  const accountId = await loginAccountId(tokens);
  if (accountId === undefined) {
    throw new AccountError(
      "account_id_missing",
      `Cannot save the login: expected a ChatGPT account id in the id token (claim "chatgpt_account_id"), found none. ` +
        `Sign in with a ChatGPT account`,
    );
  }
  return {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: tokens.idToken,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      account_id: accountId,
    },
    last_refresh: formatLastRefresh(options.now ?? Date.now()),
  };
}

/** Options of {@linkcode saveNewAccount}. */
export interface SaveAccountOptions {
  /** Replace the login of an account of that name (default: refuse, `account_exists`). */
  force?: boolean;
  /**
   * Save even when another account holds the same ChatGPT account id
   * (default: refuse, `account_duplicate`).
   */
  allowDuplicate?: boolean;
  /** Time of the login, milliseconds since the epoch (default: now). */
  now?: number;
}

/** What {@linkcode saveNewAccount} did. Holds no secret. */
export interface SavedAccount {
  /** The account name. */
  name: string;
  /** Its auth file. */
  authFile: string;
  /** The ChatGPT account id of the login. */
  accountId: string;
  /** Whether an older login of that name was replaced (`force`). */
  replaced: boolean;
  /**
   * Other accounts that hold the same ChatGPT account id (only with
   * `allowDuplicate`; otherwise such a save is refused).
   */
  duplicates: string[];
}

function unwritable(path: string, error: unknown): AccountError {
  if (error instanceof AccountError) return error;
  return new AccountError(
    "account_unwritable",
    `Cannot save the account in ${path}: expected a writable folder, found ${
      systemErrorCode(error) ?? "an error"
    }. Check the folder's owner and permissions`,
    { cause: error },
  );
}

/** Creates `path` (mode 0700) unless it exists, then makes sure it is a folder of mode 0700. */
async function ownFolder(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: FOLDER_MODE });
  } catch (error) {
    if (systemErrorCode(error) !== "EEXIST") throw error;
  }
  const info = await stat(path);
  if (!info.isDirectory()) {
    throw new AccountError(
      "account_unwritable",
      `Cannot save the account in ${path}: expected a folder, found a file`,
    );
  }
  // The umask may have narrowed the mode, an older folder may be wider.
  if ((info.mode & 0o777) !== FOLDER_MODE) await chmod(path, FOLDER_MODE);
}

/** Creates the home folder (0700) when it is missing; an existing one is left as it is. */
async function ensureHome(home: string): Promise<void> {
  try {
    await stat(home);
    return;
  } catch (error) {
    if (systemErrorCode(error) !== "ENOENT") throw error;
  }
  await mkdir(home, { recursive: true, mode: FOLDER_MODE });
  await chmod(home, FOLDER_MODE);
}

async function syncFolder(path: string): Promise<void> {
  try {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can open or flush a folder.
  }
}

function accountExists(name: string, authFile: string): AccountError {
  return new AccountError(
    "account_exists",
    `Cannot save the account "${name}": expected no login of that name, found ${authFile}. ` +
      `Log in again with --force to replace it, or choose another name`,
  );
}

/** The ChatGPT account id of an account's file, or undefined when it cannot be read. */
async function storedAccountId(authFile: string): Promise<string | undefined> {
  try {
    const document = JSON.parse(await readFile(authFile, "utf8"));
    return (await credentialsFromDocument(document, authFile)).accountId;
  } catch {
    return undefined;
  }
}

/**
 * Saves a fresh login as account `name` under `home`, atomically: a temp
 * file (mode 0600) in the account folder, flushed, then moved in place; the
 * home folder is created (0700) when missing, the `accounts` and account
 * folders are created or set to 0700 and the file to 0600 whatever the
 * umask.
 *
 * An existing account of that name is refused (`account_exists`) unless
 * `force`; without `force` the move cannot replace a file that appears
 * meanwhile (a hard link, which fails when the target exists).
 *
 * When another account already holds the same ChatGPT account id the save
 * is refused (`account_duplicate`, the other name in `error.existing`)
 * unless `allowDuplicate`: two folders for one ChatGPT account would be
 * served as two accounts with one subscription's limits behind them (the
 * pool would count its capacity twice), and the seller who logs in again
 * usually means to renew the existing account, which
 * `saveNewAccount(home, existing, tokens, { force: true })` does. With
 * `allowDuplicate` the others are listed in `duplicates`.
 *
 * Throws `AccountError`: `invalid_account_name`, `account_id_missing`,
 * `account_exists`, `account_duplicate`, `account_unwritable`.
 *
 * @example
 * ```ts
 * import { saveNewAccount } from "./accounts.ts";
 * import { startBrowserLogin } from "./login_browser.ts";
 *
 * const login = await startBrowserLogin();
 * const saved = await saveNewAccount("/home/me/.antseed/openai-responses", "work", await login.tokens);
 * console.log(`Saved ${saved.name} in ${saved.authFile}`);
 * ```
 */
export async function saveNewAccount(
  home: string,
  name: string,
  tokens: LoginTokens,
  options: SaveAccountOptions = {},
): Promise<SavedAccount> {
  const authFile = accountAuthFile(home, name);
  const document = await accountDocument(tokens, { now: options.now });
  const accountId = (document.tokens as { account_id: string }).account_id;
  const existed = await isFile(authFile);
  if (existed && !options.force) throw accountExists(name, authFile);
  const duplicates: string[] = [];
  for (const other of await listAccounts(home)) {
    if (other === name) continue;
    if (await storedAccountId(accountAuthFile(home, other)) === accountId) {
      duplicates.push(other);
    }
  }
  if (duplicates.length > 0 && !options.allowDuplicate) {
    throw new AccountError(
      "account_duplicate",
      `Cannot save the account "${name}": this ChatGPT account is already logged in as "${
        duplicates[0]
      }". Log in again as "${
        duplicates[0]
      }" with --force to renew that login, or log out of it first`,
      { existing: duplicates[0] },
    );
  }
  const folder = join(accountsFolder(home), name);
  let tempPath: string | undefined;
  try {
    await ensureHome(home);
    await ownFolder(accountsFolder(home));
    await ownFolder(folder);
    const temp = tempPathFor(authFile);
    await writeNewFile(temp, JSON.stringify(document, null, 2), FILE_MODE);
    tempPath = temp;
    if (options.force) {
      await rename(tempPath, authFile);
      tempPath = undefined;
    } else {
      await placeWithoutReplacing(tempPath, name, authFile);
    }
    await syncFolder(folder);
  } catch (error) {
    throw unwritable(folder, error);
  } finally {
    if (tempPath !== undefined) await unlink(tempPath).catch(() => {});
  }
  return {
    name,
    authFile,
    accountId,
    replaced: existed && options.force === true,
    duplicates,
  };
}

/**
 * Moves the finished temp file to `authFile` unless a file is there: a hard
 * link fails with EEXIST when it is, atomically. Where the filesystem has no
 * hard links, a check and a rename do. The temp file is left for the caller
 * to remove.
 */
async function placeWithoutReplacing(
  tempPath: string,
  name: string,
  authFile: string,
): Promise<void> {
  try {
    await link(tempPath, authFile);
    return;
  } catch (error) {
    if (systemErrorCode(error) === "EEXIST") {
      throw accountExists(name, authFile);
    }
  }
  if (await isFile(authFile)) throw accountExists(name, authFile);
  await rename(tempPath, authFile);
}

/**
 * Removes account `name`: its whole folder (`<home>/accounts/<name>/`). The
 * caller revokes the login first if it wants to (see `revokeRefreshToken`);
 * the folder goes whatever the revoke's outcome.
 *
 * Throws `AccountError`: `invalid_account_name`, `account_not_found`,
 * `account_unwritable`.
 *
 * @example
 * ```ts
 * import { removeAccount } from "./accounts.ts";
 * await removeAccount("/home/me/.antseed/openai-responses", "work");
 * ```
 */
export async function removeAccount(home: string, name: string): Promise<void> {
  const folder = join(accountsFolder(home), validateAccountName(name));
  try {
    await stat(folder);
  } catch (error) {
    const code = systemErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new AccountError(
        "account_not_found",
        `Cannot remove the account "${name}": expected a folder ${folder}, found none`,
      );
    }
    throw unwritable(folder, error);
  }
  try {
    await rm(folder, { recursive: true });
  } catch (error) {
    throw new AccountError(
      "account_unwritable",
      `Cannot remove the account "${name}" in ${folder}: found ${
        systemErrorCode(error) ?? "an error"
      }. Check the folder's owner and permissions`,
      { cause: error },
    );
  }
}

/** Which rule chose the logins, see {@linkcode resolveLogins}. */
export type LoginRule = "auth_file" | "accounts" | "codex_home";

/** One login the provider serves with. */
export interface LoginSource {
  /**
   * A stable label without secret: the account name (rule `accounts`),
   * `file1`, `file2`, ... in the order of `OPENAI_RESPONSES_AUTH_FILE`
   * (rule `auth_file`), or `codex` (rule `codex_home`). Never an email or a
   * path.
   */
  name: string;
  /** Path of its auth.json. */
  authFile: string;
}

/** The logins the provider serves with, and why. */
export interface ResolvedLogins {
  /** The rule that decided. */
  rule: LoginRule;
  /** The logins, at least one. */
  logins: LoginSource[];
}

/** Raw setting values of {@linkcode resolveLogins}; empty strings count as unset. */
export interface LoginSettings {
  /** `OPENAI_RESPONSES_AUTH_FILE`: one path, or several separated by commas. */
  authFile?: string;
  /** `OPENAI_RESPONSES_HOME` (default {@linkcode defaultHome} of `homeDir`). */
  home?: string;
  /** `CODEX_HOME` (default `<homeDir>/.codex`). */
  codexHome?: string;
  /** The user's home folder (`os.homedir()`). */
  homeDir: string;
}

function setting(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/**
 * The paths of an `OPENAI_RESPONSES_AUTH_FILE` value: split at commas,
 * trimmed, empty parts and repeats (of the same absolute path) dropped.
 *
 * @example
 * ```ts
 * import { parseAuthFileList } from "./accounts.ts";
 * console.log(parseAuthFileList("/a/auth.json, /b/auth.json,,/a/auth.json"));
 * // ["/a/auth.json", "/b/auth.json"]
 * ```
 */
export function parseAuthFileList(value: string): string[] {
  const seen = new Set<string>();
  const paths: string[] = [];
  for (const part of value.split(",")) {
    const path = part.trim();
    if (path === "" || seen.has(resolve(path))) continue;
    seen.add(resolve(path));
    paths.push(path);
  }
  return paths;
}

/**
 * Which logins the provider serves with, first rule that applies:
 *
 * 1. `auth_file`: `OPENAI_RESPONSES_AUTH_FILE` is set: its paths, labelled
 *    `file1`, `file2`, ...;
 * 2. `accounts`: at least one account under `<home>/accounts/`: every one,
 *    by name;
 * 3. `codex_home`: the Codex CLI's login, `$CODEX_HOME/auth.json` or
 *    `~/.codex/auth.json`, labelled `codex`.
 *
 * Only lists folders; whether the files are usable is the token source's
 * business. Throws `AccountError` (`accounts_unreadable`) rather than
 * silently falling back to the Codex CLI's login when the accounts folder
 * exists but cannot be listed.
 *
 * @example
 * ```ts
 * import { resolveLogins } from "./accounts.ts";
 * const { rule, logins } = await resolveLogins({ homeDir: "/home/me" });
 * console.log(rule, logins.map((login) => login.name));
 * ```
 */
export async function resolveLogins(
  settings: LoginSettings,
): Promise<ResolvedLogins> {
  const authFile = setting(settings.authFile);
  if (authFile !== undefined) {
    const paths = parseAuthFileList(authFile);
    if (paths.length > 0) {
      return {
        rule: "auth_file",
        logins: paths.map((path, index) => ({
          name: `file${index + 1}`,
          authFile: path,
        })),
      };
    }
  }
  const home = setting(settings.home) ?? defaultHome(settings.homeDir);
  const accounts = await listAccounts(home);
  if (accounts.length > 0) {
    return {
      rule: "accounts",
      logins: accounts.map((name) => ({
        name,
        authFile: accountAuthFile(home, name),
      })),
    };
  }
  const codexHome = setting(settings.codexHome) ??
    join(settings.homeDir, ".codex");
  return {
    rule: "codex_home",
    logins: [{ name: "codex", authFile: join(codexHome, AUTH_FILE_NAME) }],
  };
}
