/**
 * Atomic write-back of auth.json after a refresh: a unique temp file in the
 * same folder, written with owner-only permissions, flushed to disk, then
 * renamed over the target, so a reader or a crash sees the old file or the
 * new one and never a truncated one. Unknown fields are kept, a symlinked
 * auth.json keeps pointing where it pointed.
 *
 * @module
 */

import {
  open,
  readdir,
  realpath,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CredentialsError } from "../errors.ts";
import type { RefreshedTokens } from "./refresh.ts";

/** Options of {@linkcode writeAuthFile}. */
export interface WriteAuthFileOptions {
  /**
   * Leftover temp files of crashed writers older than this are removed, in
   * milliseconds (default 60000).
   */
  staleTempMs?: number;
}

/** Options of {@linkcode mergeRefreshedTokens}. */
export interface MergeOptions {
  /** Account id to put in `tokens.account_id` when the file has none. */
  accountId?: string;
  /** Time of the refresh, milliseconds since the epoch (default: now). */
  now?: number;
}

const DEFAULT_STALE_TEMP_MS = 60_000;
const OWNER_READ_WRITE = 0o600;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Formats a time like the Codex CLI's `last_refresh`: RFC 3339 UTC with
 * microseconds, e.g. `2026-01-02T03:04:05.123456Z`.
 *
 * @example
 * ```ts
 * import { formatLastRefresh } from "./write.ts";
 * console.log(formatLastRefresh(Date.UTC(2026, 0, 2, 3, 4, 5, 123))); // "2026-01-02T03:04:05.123000Z"
 * ```
 */
export function formatLastRefresh(ms: number): string {
  const whole = Math.floor(ms);
  const micros = Math.min(999, Math.floor((ms - whole) * 1000));
  const iso = new Date(whole).toISOString(); // 2026-01-02T03:04:05.123Z
  return `${iso.slice(0, -1)}${String(micros).padStart(3, "0")}Z`;
}

/**
 * Builds the auth.json document after a refresh: every field of `document`
 * kept, the returned tokens replacing the old ones (an absent token keeps
 * its old value), `tokens.account_id` filled when missing, `last_refresh`
 * set in the CLI's format.
 *
 * @example
 * ```ts
 * import { mergeRefreshedTokens } from "./write.ts";
 *
 * const next = mergeRefreshedTokens(
 *   { tokens: { access_token: "old", refresh_token: "rt_1" }, extra: 1 },
 *   { accessToken: "new", refreshToken: "rt_2" },
 *   { accountId: "acct_1" },
 * );
 * console.log(next.extra); // 1
 * ```
 */
export function mergeRefreshedTokens(
  document: Record<string, unknown>,
  refreshed: RefreshedTokens,
  options: MergeOptions = {},
): Record<string, unknown> {
  const tokens: Record<string, unknown> = isRecord(document.tokens)
    ? { ...document.tokens }
    : {};
  if (refreshed.idToken !== undefined) tokens.id_token = refreshed.idToken;
  if (refreshed.accessToken !== undefined) {
    tokens.access_token = refreshed.accessToken;
  }
  if (refreshed.refreshToken !== undefined) {
    tokens.refresh_token = refreshed.refreshToken;
  }
  const accountId = tokens.account_id;
  if (
    (typeof accountId !== "string" || accountId === "") &&
    options.accountId !== undefined
  ) {
    tokens.account_id = options.accountId;
  }
  return {
    ...document,
    tokens,
    last_refresh: formatLastRefresh(options.now ?? Date.now()),
  };
}

/** The file a (possibly symlinked) auth path really designates. */
async function resolveTarget(authFile: string): Promise<string> {
  try {
    return await realpath(authFile);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return resolve(authFile);
    throw error;
  }
}

/**
 * The path of the file behind `authFile` (symlinks resolved), or `authFile`
 * made absolute when it does not exist. The refresh lock lives next to it,
 * so processes reaching one file through different links share one lock.
 *
 * @example
 * ```ts
 * import { authFileTarget } from "./write.ts";
 * console.log(await authFileTarget("/home/me/.codex/auth.json"));
 * ```
 */
export async function authFileTarget(authFile: string): Promise<string> {
  try {
    return await resolveTarget(authFile);
  } catch {
    return resolve(authFile);
  }
}

async function removeStaleTemps(
  dir: string,
  name: string,
  olderThanMs: number,
): Promise<void> {
  const prefix = `.${name}.`;
  try {
    for (const entry of await readdir(dir)) {
      if (!entry.startsWith(prefix) || !entry.endsWith(".tmp")) continue;
      const path = join(dir, entry);
      const info = await stat(path).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > olderThanMs) {
        await unlink(path).catch(() => {});
      }
    }
  } catch {
    // Housekeeping only.
  }
}

async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not every platform can open or flush a directory.
  }
}

/**
 * Writes `document` to `authFile` atomically: temp file
 * `.auth.json.<random>.tmp` in the same folder with mode 0600 (or the
 * original file's mode if stricter), flushed, renamed over the file behind
 * `authFile` (symlinks are kept), then the folder is flushed. The temp file is
 * removed on failure.
 *
 * Throws `CredentialsError` (`auth_file_unwritable`).
 *
 * @example
 * ```ts
 * import { writeAuthFile } from "./write.ts";
 * await writeAuthFile("/home/me/.codex/auth.json", { tokens: {} });
 * ```
 */
export async function writeAuthFile(
  authFile: string,
  document: Record<string, unknown>,
  options: WriteAuthFileOptions = {},
): Promise<void> {
  let tempPath: string | undefined;
  try {
    const target = await resolveTarget(authFile);
    const dir = dirname(target);
    const name = basename(target);
    let mode = OWNER_READ_WRITE;
    try {
      mode = (await stat(target)).mode & OWNER_READ_WRITE;
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error;
    }
    tempPath = join(dir, `.${name}.${randomHex(8)}.tmp`);
    const handle = await open(tempPath, "wx", mode);
    try {
      await handle.writeFile(JSON.stringify(document, null, 2));
      // The umask may have narrowed the mode further; set it exactly.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, target);
    tempPath = undefined;
    await syncDirectory(dir);
    await removeStaleTemps(
      dir,
      name,
      options.staleTempMs ?? DEFAULT_STALE_TEMP_MS,
    );
  } catch (error) {
    if (tempPath !== undefined) await unlink(tempPath).catch(() => {});
    throw new CredentialsError(
      "auth_file_unwritable",
      `Cannot write Codex credentials to ${authFile}: expected a writable file and folder, found ${
        errorCode(error) ?? "an error"
      }`,
      { cause: error },
    );
  }
}
