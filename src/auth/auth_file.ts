/**
 * Reads and parses the Codex CLI credentials file (`auth.json`) tolerantly:
 * unknown fields are kept, the account id is looked up where the Codex CLI
 * looks for it, and a file caught half-written by the CLI (which truncates it
 * in place) is read again shortly instead of being reported as broken.
 *
 * Error messages name the auth file (they go to the seller's console) but
 * never quote its content: it holds tokens.
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { CredentialsError, systemErrorCode } from "../errors.ts";
import { readTokenClaims } from "./claims.ts";
import type { CredentialsInfo } from "./types.ts";
import { isRecord, nonEmptyString } from "../json.ts";
import { delay } from "../async.ts";

/** Identity of one version of the auth file, from `stat`. */
export interface FileStamp {
  /** Inode number (changes when the file is replaced by a rename). */
  ino: number;
  /** Size in bytes. */
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtimeMs: number;
  /** Status-change time, milliseconds since the epoch. */
  ctimeMs: number;
}

/** The parsed content of auth.json. Holds secrets: never log it. */
export interface CodexCredentials {
  /** Path of the auth file, as given. */
  authFile: string;
  /** Bearer token for the backend. */
  accessToken: string;
  /** Single-use refresh token, when the file has one. */
  refreshToken?: string;
  /** Id token, when the file has one. */
  idToken?: string;
  /** ChatGPT account id. */
  accountId: string;
  /** Plan type (`plus`, `pro`, ...) when the tokens carry it. */
  plan?: string;
  /** Email of the login when the id token carries it. */
  email?: string;
  /** Access-token expiry, milliseconds since the epoch, when readable. */
  expiresAt?: number;
  /** `last_refresh`, milliseconds since the epoch, when readable. */
  lastRefresh?: number;
  /** The whole JSON document, unknown fields included (for write-back). */
  document: Record<string, unknown>;
}

/** Credentials as read from disk, with the stamp of the version read. */
export interface StampedCredentials extends CodexCredentials {
  /** Stamp of the file version these credentials come from. */
  stamp: FileStamp;
}

/** Options of {@linkcode readCredentials}. */
export interface ReadCredentialsOptions {
  /**
   * How long a file that does not parse is read again when it changed
   * recently, in milliseconds (default 1000). The Codex CLI truncates the file
   * before writing it, so a reader may catch it empty or half-written.
   */
  parseRetryMs?: number;
}

const DEFAULT_PARSE_RETRY_MS = 1000;
/** A file modified less than this long ago may still be being written. */
const RECENT_CHANGE_MS = 2000;

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}

function missingFileMessage(authFile: string): string {
  return `Cannot read Codex credentials at ${authFile}: file not found. ` +
    `Run "codex login" on this machine, or set OPENAI_RESPONSES_AUTH_FILE to the auth.json to use ` +
    `(or CODEX_HOME to the Codex home that holds it). ` +
    `A Codex login kept in the OS keyring (cli_auth_credentials_store = "keyring") leaves no auth.json: ` +
    `set cli_auth_credentials_store = "file" in the Codex config.toml and run "codex login" again`;
}

function readError(authFile: string, error: unknown): CredentialsError {
  const code = systemErrorCode(error);
  if (code === "ENOENT" || code === "ENOTDIR") {
    return new CredentialsError(
      "auth_file_missing",
      missingFileMessage(authFile),
    );
  }
  return new CredentialsError(
    "auth_file_unreadable",
    `Cannot read Codex credentials at ${authFile}: expected a readable file, found ${
      code ?? "an error"
    }. Check the file's owner and permissions`,
    { cause: error },
  );
}

/**
 * Stats the auth file (following symlinks).
 *
 * Throws `CredentialsError` (`auth_file_missing`, `auth_file_unreadable`).
 *
 * @example
 * ```ts
 * import { statAuthFile } from "./auth_file.ts";
 * const stamp = await statAuthFile("/home/me/.codex/auth.json");
 * console.log(stamp.size);
 * ```
 */
export async function statAuthFile(authFile: string): Promise<FileStamp> {
  try {
    const info = await stat(authFile);
    if (!info.isFile()) {
      throw new CredentialsError(
        "auth_file_unreadable",
        `Cannot read Codex credentials at ${authFile}: expected a file, found a directory or special file`,
      );
    }
    return {
      ino: info.ino,
      size: info.size,
      mtimeMs: info.mtimeMs,
      ctimeMs: info.ctimeMs,
    };
  } catch (error) {
    if (error instanceof CredentialsError) throw error;
    throw readError(authFile, error);
  }
}

/**
 * Whether two stamps describe the same version of the file.
 *
 * @example
 * ```ts
 * import { sameStamp } from "./auth_file.ts";
 * const a = { ino: 1, size: 10, mtimeMs: 5, ctimeMs: 5 };
 * console.log(sameStamp(a, { ...a })); // true
 * ```
 */
export function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs;
}

/**
 * Parses a `last_refresh` value (RFC 3339, any number of fractional digits)
 * into milliseconds since the epoch.
 *
 * @example
 * ```ts
 * import { parseLastRefresh } from "./auth_file.ts";
 * console.log(parseLastRefresh("2026-01-02T03:04:05.123456Z")); // 1767323045123
 * ```
 */
export function parseLastRefresh(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match =
    /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i
      .exec(value.trim());
  if (!match) return undefined;
  const millis = (match[2] ?? "").slice(0, 3).padEnd(3, "0");
  const parsed = Date.parse(`${match[1]}.${millis}${match[3].toUpperCase()}`);
  return Number.isFinite(parsed) ? parsed : undefined;
}

/** A parse failure that may come from catching the file mid-write. */
class UnparsableFile extends Error {
  constructor(readonly found: string) {
    super(found);
  }
}

function parseJson(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (body.trim() === "") throw new UnparsableFile("an empty file");
  try {
    return JSON.parse(body);
  } catch {
    // The parser's message may quote the content, which holds tokens.
    throw new UnparsableFile("text that is not valid JSON");
  }
}

/**
 * Validates a parsed auth.json document and extracts the credentials.
 *
 * Throws `CredentialsError` with code `auth_file_invalid`,
 * `auth_api_key_only`, `auth_token_missing` or `auth_account_id_missing`.
 *
 * @example
 * ```ts
 * import { credentialsFromDocument } from "./auth_file.ts";
 * import { makeAuthJson } from "../testing/jwt.ts";
 *
 * const creds = await credentialsFromDocument(makeAuthJson(), "auth.json");
 * console.log(creds.accountId); // "acct_test"
 * ```
 */
export async function credentialsFromDocument(
  document: unknown,
  authFile: string,
): Promise<CodexCredentials> {
  const where = `Codex credentials at ${authFile}`;
  if (!isRecord(document)) {
    throw new CredentialsError(
      "auth_file_invalid",
      `Cannot use ${where}: expected a JSON object, found ${
        describeJson(document)
      }. Run "codex login" to write a new file`,
    );
  }
  const tokens = document.tokens;
  if (tokens === undefined || tokens === null) {
    const hasApiKey = nonEmptyString(document.OPENAI_API_KEY) !== undefined;
    if (hasApiKey || document.auth_mode === "apikey") {
      throw new CredentialsError(
        "auth_api_key_only",
        `Cannot use ${where}: expected a ChatGPT login, found an API-key-only login (no "tokens"). ` +
          `This provider sells ChatGPT subscription capacity: run "codex login" and sign in with ChatGPT`,
      );
    }
    throw new CredentialsError(
      "auth_token_missing",
      `Cannot use ${where}: expected a "tokens" object, found none. Run "codex login" and sign in with ChatGPT`,
    );
  }
  if (!isRecord(tokens)) {
    throw new CredentialsError(
      "auth_file_invalid",
      `Cannot use ${where}: expected "tokens" to be an object, found ${
        describeJson(tokens)
      }. Run "codex login" to write a new file`,
    );
  }
  const accessToken = nonEmptyString(tokens.access_token);
  if (accessToken === undefined) {
    throw new CredentialsError(
      "auth_token_missing",
      `Cannot use ${where}: expected "tokens.access_token" to be a non-empty string, found ${
        tokens.access_token === undefined
          ? "none"
          : describeJson(tokens.access_token)
      }. Run "codex login" to sign in again`,
    );
  }
  const idToken = nonEmptyString(tokens.id_token);
  const refreshToken = nonEmptyString(tokens.refresh_token);
  const claims = await readTokenClaims(accessToken, idToken);
  const accountId = claims.accountId ?? nonEmptyString(tokens.account_id);
  if (accountId === undefined) {
    throw new CredentialsError(
      "auth_account_id_missing",
      `Cannot use ${where}: expected a ChatGPT account id (token claim "chatgpt_account_id" or "tokens.account_id"), found none. ` +
        `Run "codex login" and sign in with ChatGPT`,
    );
  }
  const credentials: CodexCredentials = {
    authFile,
    accessToken,
    accountId,
    document,
  };
  if (refreshToken !== undefined) credentials.refreshToken = refreshToken;
  if (idToken !== undefined) credentials.idToken = idToken;
  if (claims.plan !== undefined) credentials.plan = claims.plan;
  if (claims.email !== undefined) credentials.email = claims.email;
  if (claims.expiresAt !== undefined) credentials.expiresAt = claims.expiresAt;
  const lastRefresh = parseLastRefresh(document.last_refresh);
  if (lastRefresh !== undefined) credentials.lastRefresh = lastRefresh;
  return credentials;
}

/**
 * Reads and parses auth.json. A file that does not parse and changed in the
 * last moments is read again for up to `parseRetryMs` before failing.
 *
 * Throws `CredentialsError`: `auth_file_missing` (says how to log in and
 * which settings point at the file), `auth_file_unreadable`,
 * `auth_file_invalid` (not JSON), `auth_api_key_only`, `auth_token_missing`,
 * `auth_account_id_missing`.
 *
 * @example
 * ```ts
 * import { readCredentials } from "./auth_file.ts";
 *
 * const creds = await readCredentials("/home/me/.codex/auth.json");
 * console.log(creds.accountId, creds.plan, creds.expiresAt);
 * ```
 */
export async function readCredentials(
  authFile: string,
  options: ReadCredentialsOptions = {},
): Promise<StampedCredentials> {
  const retryMs = options.parseRetryMs ?? DEFAULT_PARSE_RETRY_MS;
  const started = Date.now();
  let pause = 20;
  let previous: FileStamp | undefined;
  for (;;) {
    // Stat before reading: if the file changes in between, the stamp is
    // older than the content and the next stat triggers another read.
    const stamp = await statAuthFile(authFile);
    let text: string;
    try {
      text = await readFile(authFile, "utf8");
    } catch (error) {
      throw readError(authFile, error);
    }
    let document: unknown;
    try {
      document = parseJson(text);
    } catch (error) {
      if (!(error instanceof UnparsableFile)) throw error;
      const changing = Date.now() - stamp.mtimeMs < RECENT_CHANGE_MS ||
        (previous !== undefined && !sameStamp(previous, stamp));
      if (changing && Date.now() - started < retryMs) {
        previous = stamp;
        await delay(pause);
        pause = Math.min(pause * 2, 200);
        continue;
      }
      throw new CredentialsError(
        "auth_file_invalid",
        `Cannot use Codex credentials at ${authFile}: expected JSON, found ${error.found}. ` +
          `Run "codex login" to write a new file`,
      );
    }
    return { ...(await credentialsFromDocument(document, authFile)), stamp };
  }
}

/**
 * What a credentials object says, without any secret.
 *
 * @example
 * ```ts
 * import { credentialsInfo, readCredentials } from "./auth_file.ts";
 *
 * const info = credentialsInfo(await readCredentials("auth.json"));
 * console.log(info.accountId);
 * ```
 */
export function credentialsInfo(
  credentials: CodexCredentials,
): CredentialsInfo {
  const info: CredentialsInfo = {
    authFile: credentials.authFile,
    accountId: credentials.accountId,
  };
  if (credentials.plan !== undefined) info.plan = credentials.plan;
  if (credentials.email !== undefined) info.email = credentials.email;
  if (credentials.expiresAt !== undefined) {
    info.expiresAt = credentials.expiresAt;
  }
  if (credentials.lastRefresh !== undefined) {
    info.lastRefresh = credentials.lastRefresh;
  }
  return info;
}
