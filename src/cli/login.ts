/**
 * `login`: a ChatGPT login of the provider's own, saved as an account under
 * `<home>/accounts/<name>/auth.json` in the Codex CLI's format. The browser
 * flow (authorization code + PKCE, a callback server on 127.0.0.1:1455,
 * else 1457) by default; the device flow with `--device` for machines
 * without a browser.
 *
 * Prints what the seller must open or enter, then the masked email and the
 * plan of the new login; never a token, a code or a full email.
 *
 * @module
 */

import { stat } from "node:fs/promises";
import { join } from "node:path";
import {
  accountAuthFile,
  saveNewAccount,
  validateAccountName,
} from "../auth/accounts.ts";
import { readTokenClaims } from "../auth/claims.ts";
import { startBrowserLogin } from "../auth/login_browser.ts";
import {
  DEFAULT_DEVICE_LOGIN_TIMEOUT_MS,
  loginWithDeviceCode,
} from "../auth/login_device.ts";
import { DEFAULT_BROWSER_LOGIN_TIMEOUT_MS } from "../auth/login_browser.ts";
import { DEFAULT_CALLBACK_PORTS, type LoginTokens } from "../auth/oauth.ts";
import { openInBrowser } from "../auth/open_browser.ts";
import { parseConfig, type ProviderSettings } from "../config.ts";
import { AccountError, ConfigError } from "../errors.ts";
import { PROGRAM, UsageError } from "./args.ts";
import { configFromEnv } from "./env.ts";
import type { CliIo } from "./io.ts";
import { formatDuration } from "./duration.ts";
import { hideHome, maskAccountId, maskEmail } from "../mask.ts";

/** Name of the account `login` saves when `--name` is not given. */
export const DEFAULT_ACCOUNT_NAME = "default";

/**
 * Environment key of the callback ports of the browser login, tried in
 * order (default `1455,1457`, the only ones the real issuer accepts; `0`
 * takes any free port). For tests and unusual setups (an issuer of your
 * own); not a plugin setting.
 */
export const LOGIN_CALLBACK_PORTS_ENV = "OPENAI_RESPONSES_LOGIN_CALLBACK_PORTS";

/**
 * Environment key of how long `login` waits for the browser or for the
 * device code to be entered, in milliseconds (default 10 minutes for the
 * browser, 15 for the device code, its lifetime at the issuer). For tests
 * only; not a plugin setting.
 */
export const LOGIN_TIMEOUT_ENV = "OPENAI_RESPONSES_LOGIN_TIMEOUT_MS";

/** Flags of {@linkcode runLogin}. */
export interface LoginCommandOptions {
  /** Account name (default `default`). */
  name?: string;
  /** Use the device flow instead of the browser. */
  device?: boolean;
  /** Replace the login of an existing account of that name. */
  force?: boolean;
}

function show(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
}

/**
 * Parses `OPENAI_RESPONSES_LOGIN_CALLBACK_PORTS`: ports from 0 to 65535
 * separated by commas; unset or blank gives `[1455, 1457]`.
 *
 * Throws `ConfigError` naming the key.
 *
 * @example
 * ```ts
 * import { parseCallbackPorts } from "./login.ts";
 * console.log(parseCallbackPorts("1455, 1457")); // [1455, 1457]
 * ```
 */
export function parseCallbackPorts(value: string | undefined): number[] {
  const parts = (value ?? "").split(",").map((part) => part.trim()).filter(
    (part) => part !== "",
  );
  if (parts.length === 0) return [...DEFAULT_CALLBACK_PORTS];
  return parts.map((part) => {
    const port = /^\d{1,5}$/.test(part) ? Number(part) : NaN;
    if (!(port >= 0 && port <= 65535)) {
      throw new ConfigError(
        LOGIN_CALLBACK_PORTS_ENV,
        `Invalid ${LOGIN_CALLBACK_PORTS_ENV}: expected ports from 0 to 65535 separated by commas (default "1455,1457"), found ${
          show(part)
        }`,
      );
    }
    return port;
  });
}

/**
 * Parses `OPENAI_RESPONSES_LOGIN_TIMEOUT_MS`: a whole number of
 * milliseconds from 1; unset or blank gives `undefined` (the flows' own
 * bounds).
 *
 * Throws `ConfigError` naming the key.
 *
 * @example
 * ```ts
 * import { parseLoginTimeout } from "./login.ts";
 * console.log(parseLoginTimeout("1500")); // 1500
 * ```
 */
export function parseLoginTimeout(
  value: string | undefined,
): number | undefined {
  const text = value?.trim() ?? "";
  if (text === "") return undefined;
  const ms = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(ms >= 1)) {
    throw new ConfigError(
      LOGIN_TIMEOUT_ENV,
      `Invalid ${LOGIN_TIMEOUT_ENV}: expected a whole number of milliseconds from 1, found ${
        show(text)
      }`,
    );
  }
  return ms;
}

/**
 * Returns `name` when it is a valid account name; throws a `UsageError`
 * naming `--name` otherwise.
 *
 * @example
 * ```ts
 * import { accountNameFlag } from "./login.ts";
 * console.log(accountNameFlag("work")); // "work"
 * ```
 */
export function accountNameFlag(name: string): string {
  try {
    return validateAccountName(name);
  } catch (error) {
    if (error instanceof AccountError) {
      throw new UsageError(
        `Invalid --name: ${
          error.message.replace(/^Invalid account name: /, "")
        }`,
      );
    }
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** What the seller sees on the terminal; the home folder shown as `~`. */
function printer(io: CliIo): (text?: string) => void {
  return (text = "") => io.stdout(`${hideHome(text, io.homeDir)}\n`);
}

async function browserTokens(
  io: CliIo,
  settings: ProviderSettings,
  signal: AbortSignal,
): Promise<LoginTokens> {
  const print = printer(io);
  const timeoutMs = parseLoginTimeout(io.env[LOGIN_TIMEOUT_ENV]) ??
    DEFAULT_BROWSER_LOGIN_TIMEOUT_MS;
  const login = await startBrowserLogin({
    issuer: settings.authIssuer,
    ports: parseCallbackPorts(io.env[LOGIN_CALLBACK_PORTS_ENV]),
    timeoutMs,
    originator: settings.originator,
    signal,
    // Opened below, once the link is on the screen.
    openBrowser: () => {},
  });
  print("Sign in with your ChatGPT account in a browser on this machine:");
  print();
  print(`  ${login.authorizeUrl}`);
  print();
  const opened = await openInBrowser(login.authorizeUrl, { env: io.env });
  print(
    opened
      ? "Opened the link in your browser"
      : `No browser was opened here: open the link above in a browser on this machine, or log in with "${PROGRAM} login --device" where there is none`,
  );
  print(
    `Waiting up to ${
      formatDuration(timeoutMs)
    } for the browser to come back to ${login.redirectUri} (Ctrl-C cancels)`,
  );
  return await login.tokens;
}

async function deviceTokens(
  io: CliIo,
  settings: ProviderSettings,
  signal: AbortSignal,
): Promise<LoginTokens> {
  const print = printer(io);
  const timeoutMs = parseLoginTimeout(io.env[LOGIN_TIMEOUT_ENV]) ??
    DEFAULT_DEVICE_LOGIN_TIMEOUT_MS;
  return await loginWithDeviceCode({
    issuer: settings.authIssuer,
    timeoutMs,
    signal,
    onCode: ({ verificationUrl, userCode, expiresAt }) => {
      print("Sign in with your ChatGPT account on any device with a browser:");
      print();
      print(`  1. Open ${verificationUrl}`);
      print(`  2. Enter the code ${userCode}`);
      print();
      print(
        `The code expires in ${formatDuration(timeoutMs)} (at ${
          new Date(expiresAt).toISOString()
        }). Waiting for it to be entered (Ctrl-C cancels)`,
      );
    },
  });
}

/**
 * Runs `login`: refuses at once an existing account of that name unless
 * `force` (before anything is asked of the seller), logs in with the
 * browser or the device flow, saves the account atomically (folders 0700,
 * file 0600; a second login of a ChatGPT account already saved under
 * another name is refused with that name), and prints the masked email and
 * the plan. SIGINT/SIGTERM cancel the login. Resolves with the exit code
 * (0); throws `LoginError`, `AccountError`, `ConfigError` or `UsageError`
 * for the caller to print.
 *
 * @example
 * ```ts ignore
 * const code = await runLogin(io, { name: "work", device: true });
 * ```
 */
export async function runLogin(
  io: CliIo,
  options: LoginCommandOptions = {},
): Promise<number> {
  const name = accountNameFlag(options.name ?? DEFAULT_ACCOUNT_NAME);
  const config = configFromEnv(io.env);
  const settings = parseConfig(config, { homeDir: io.homeDir });
  const authFile = accountAuthFile(settings.home, name);
  if (!options.force && await exists(authFile)) {
    throw new AccountError(
      "account_exists",
      `Cannot log in as "${name}": expected no account of that name, found ${
        hideHome(authFile, io.homeDir)
      }. Add --force to replace its login, or choose another --name`,
    );
  }
  const controller = new AbortController();
  const stop = io.onShutdownSignal(() => controller.abort());
  let tokens: LoginTokens;
  try {
    tokens = options.device
      ? await deviceTokens(io, settings, controller.signal)
      : await browserTokens(io, settings, controller.signal);
  } finally {
    stop();
  }
  const saved = await saveNewAccount(settings.home, name, tokens, {
    force: options.force,
  });
  const claims = await readTokenClaims(tokens.accessToken, tokens.idToken);
  const print = printer(io);
  print();
  print(
    `Logged in as "${name}": ${
      claims.email ? maskEmail(claims.email) : "email unknown"
    }, plan ${claims.plan ?? "unknown"} (account ${
      maskAccountId(saved.accountId)
    })`,
  );
  print(
    `Saved in ${saved.authFile}${
      saved.replaced ? ` (replaced the previous login of "${name}")` : ""
    }`,
  );
  if (settings.authFiles.length > 0) {
    print(
      "Note: OPENAI_RESPONSES_AUTH_FILE is set, so the provider serves from the files it names, not from this account. Unset it to serve from the accounts",
    );
  } else {
    print(
      `The provider serves from every account in ${
        join(settings.home, "accounts")
      } ("${PROGRAM} accounts" lists them)`,
    );
  }
  return 0;
}
