/**
 * Atomic write-back of auth.json after a refresh: a unique temp file in the
 * same folder, written with owner-only permissions and the original file's
 * owner and group, flushed to disk, then renamed over the target, so a
 * reader or a crash sees the old file or the new one and never a truncated
 * one. Unknown fields are kept, a symlinked auth.json keeps pointing where it
 * pointed.
 *
 * Where a rename cannot replace the file (a single-file bind mount answers
 * `EBUSY`, a mount across file systems `EXDEV`, a folder the process may not
 * write `EACCES` or `EPERM`), the existing file is rewritten in place
 * instead (open, write, truncate, flush), the way the Codex CLI writes it.
 *
 * @module
 */

import {
  type FileHandle,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { CredentialsError, systemErrorCode } from "../errors.ts";
import { credentialsFromDocument } from "./auth_file.ts";
import type { RefreshedTokens } from "./refresh.ts";
import { isRecord } from "../json.ts";

/**
 * The file operations of a write-back that a test may replace, to make them
 * fail the way a bind mount or another file system does. Default: those of
 * `node:fs/promises`.
 */
export interface AuthFileSystem {
  /** Renames `oldPath` to `newPath`, replacing it. */
  rename(oldPath: string, newPath: string): Promise<void>;
}

/** Options of {@linkcode writeAuthFile}. */
export interface WriteAuthFileOptions {
  /**
   * Leftover temp files of crashed writers older than this are removed, in
   * milliseconds (default 60000).
   */
  staleTempMs?: number;
  /** File operations to use instead of `node:fs/promises` (for tests). */
  fs?: AuthFileSystem;
}

/** Options of {@linkcode recoverInterruptedWrite}. */
export interface RecoverOptions {
  /** File operations to use instead of `node:fs/promises` (for tests). */
  fs?: AuthFileSystem;
}

/** How {@linkcode writeAuthFile} wrote: by a rename, or into the file in place. */
export type WriteOutcome = "renamed" | "in_place";

/** Options of {@linkcode mergeRefreshedTokens}. */
export interface MergeOptions {
  /** Account id to put in `tokens.account_id` when the file has none. */
  accountId?: string;
  /** Time of the refresh, milliseconds since the epoch (default: now). */
  now?: number;
}

const DEFAULT_STALE_TEMP_MS = 60_000;
const OWNER_READ_WRITE = 0o600;

/** Rename failures after which the file is rewritten in place instead. */
const IN_PLACE_CODES: ReadonlySet<string> = new Set([
  "EBUSY",
  "EXDEV",
  "EPERM",
  "EACCES",
]);

const NODE_FS: AuthFileSystem = { rename };

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
    if (systemErrorCode(error) === "ENOENT") return resolve(authFile);
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

/** The temp files of writers of `name` in `dir`, as paths. */
async function tempFiles(dir: string, name: string): Promise<string[]> {
  const prefix = `.${name}.`;
  return (await readdir(dir))
    .filter((entry) => entry.startsWith(prefix) && entry.endsWith(".tmp"))
    .map((entry) => join(dir, entry));
}

async function removeStaleTemps(
  dir: string,
  name: string,
  olderThanMs: number,
): Promise<void> {
  try {
    for (const path of await tempFiles(dir, name)) {
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

/** The credentials a complete auth document holds, or undefined. */
async function completeCredentials(
  text: string,
  authFile: string,
): Promise<{ accountId: string; refreshToken?: string } | undefined> {
  try {
    return await credentialsFromDocument(JSON.parse(text), authFile);
  } catch {
    return undefined;
  }
}

/**
 * Finishes a write-back a killed writer left half done: a complete temp file
 * (`.auth.json.<random>.tmp`, written and about to be renamed when the writer
 * died) that is newer than auth.json, holds the same account and a different
 * refresh token is renamed over auth.json, so that the token the writer
 * obtained (and the token endpoint already rotated to) is not lost. With
 * several, the newest wins. Call it only while holding the refresh lock,
 * under which no live writer has a temp file in flight.
 *
 * Nothing happens when auth.json is missing (a logout is not undone), does
 * not parse (the Codex CLI may be writing it) or is newer than every temp
 * file (it was written since, by the CLI or a login).
 *
 * Where the rename cannot replace auth.json (see {@linkcode writeAuthFile}),
 * the temp file's content is written into auth.json in place.
 *
 * Resolves with whether a temp file was adopted; never throws.
 *
 * @example
 * ```ts
 * import { recoverInterruptedWrite } from "./write.ts";
 * if (await recoverInterruptedWrite("/home/me/.codex/auth.json")) {
 *   console.log("finished a write-back a crashed process left");
 * }
 * ```
 */
export async function recoverInterruptedWrite(
  authFile: string,
  options: RecoverOptions = {},
): Promise<boolean> {
  try {
    const target = await resolveTarget(authFile);
    const targetInfo = await stat(target);
    const current = await completeCredentials(
      await readFile(target, "utf8"),
      authFile,
    );
    if (!current) return false;
    let newest: { path: string; mtimeMs: number } | undefined;
    for (const path of await tempFiles(dirname(target), basename(target))) {
      const info = await stat(path).catch(() => undefined);
      if (!info?.isFile() || info.mtimeMs <= targetInfo.mtimeMs) continue;
      if (newest && info.mtimeMs <= newest.mtimeMs) continue;
      const text = await readFile(path, "utf8").catch(() => "");
      const left = await completeCredentials(text, authFile);
      if (
        left?.refreshToken === undefined ||
        left.accountId !== current.accountId ||
        left.refreshToken === current.refreshToken
      ) {
        continue;
      }
      newest = { path, mtimeMs: info.mtimeMs };
    }
    if (!newest) return false;
    // The writer may have died before its flush.
    const handle = await open(newest.path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await (options.fs ?? NODE_FS).rename(newest.path, target);
    } catch (error) {
      if (!IN_PLACE_CODES.has(systemErrorCode(error) ?? "")) throw error;
      await writeInPlace(
        target,
        await readFile(newest.path, "utf8"),
        targetInfo.mode & OWNER_READ_WRITE,
      );
      await unlink(newest.path).catch(() => {});
    }
    await syncDirectory(dirname(target));
    return true;
  } catch {
    return false;
  }
}

/** Gives the temp file behind `handle` the owner and group of `original`. */
async function keepOwner(
  handle: FileHandle,
  original: { uid: number; gid: number },
): Promise<void> {
  const created = await handle.stat();
  if (created.uid === original.uid && created.gid === original.gid) return;
  // Root (or a member of the file's group) may hand the file back; anyone
  // else gets EPERM, and the file is then rewritten in place, which keeps
  // its owner.
  await handle.chown(original.uid, original.gid);
}

/**
 * The path of a new temp file next to `target`: `.<name>.<random hex>.tmp`,
 * the pattern that crash recovery and the clean-up of stale temp files look
 * for.
 *
 * @example
 * ```ts
 * import { tempPathFor } from "./write.ts";
 * console.log(tempPathFor("/home/me/.codex/auth.json")); // "/home/me/.codex/.auth.json.<16 hex>.tmp"
 * ```
 */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomHex(8)}.tmp`);
}

/**
 * Creates the file `path` (it must not exist) with exactly `mode` whatever
 * the umask, writes `text`, lets `prepare` act on the open file (e.g. give
 * it an owner), and flushes it to disk. On failure the file is removed.
 *
 * @example
 * ```ts ignore
 * import { tempPathFor, writeNewFile } from "./write.ts";
 * await writeNewFile(tempPathFor("/home/me/.codex/auth.json"), "{}", 0o600);
 * ```
 */
export async function writeNewFile(
  path: string,
  text: string,
  mode: number,
  prepare?: (handle: FileHandle) => Promise<void>,
): Promise<void> {
  const handle = await open(path, "wx", mode);
  try {
    try {
      await handle.writeFile(text);
      // The umask may have narrowed the mode further; set it exactly.
      await handle.chmod(mode);
      if (prepare) await prepare(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(path).catch(() => {});
    throw error;
  }
}

/** Writes `text` to a new temp file next to `target` and renames it over. */
async function replaceByRename(
  target: string,
  text: string,
  mode: number,
  original: { uid: number; gid: number } | undefined,
  fs: AuthFileSystem,
): Promise<void> {
  const tempPath = tempPathFor(target);
  await writeNewFile(
    tempPath,
    text,
    mode,
    original ? (handle) => keepOwner(handle, original) : undefined,
  );
  try {
    await fs.rename(tempPath, target);
  } catch (error) {
    await unlink(tempPath).catch(() => {});
    throw error;
  }
}

/**
 * Rewrites the existing file `target` in place: narrowed to `mode` first,
 * then written from its start, cut to the new length and flushed. Owner,
 * group and inode stay. A reader may catch it half-written (as with the
 * Codex CLI's own writes), which `readCredentials` reads again.
 */
async function writeInPlace(
  target: string,
  text: string,
  mode: number,
): Promise<void> {
  const handle = await open(target, "r+");
  try {
    if (((await handle.stat()).mode & 0o777) !== mode) {
      // Not the owner: the mode stays what it was, never wider.
      await handle.chmod(mode).catch(() => {});
    }
    const bytes = new TextEncoder().encode(text);
    await handle.writeFile(bytes);
    await handle.truncate(bytes.length);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes `document` to `authFile`: temp file `.auth.json.<random>.tmp` in
 * the same folder with mode 0600 (or the original file's mode if stricter)
 * and the original file's owner and group, flushed, renamed over the file
 * behind `authFile` (symlinks are kept), then the folder is flushed. The temp
 * file is removed on failure.
 *
 * When the temp file cannot be created or renamed over the file (`EBUSY`,
 * `EXDEV`, `EPERM`, `EACCES`: a single-file bind mount, a mount across file
 * systems, a folder the process may not write) and the file exists, it is
 * rewritten in place instead: same inode, owner and group, mode 0600 or
 * stricter. Resolves with how it wrote.
 *
 * Throws `CredentialsError` (`auth_file_unwritable`).
 *
 * @example
 * ```ts
 * import { writeAuthFile } from "./write.ts";
 * const how = await writeAuthFile("/home/me/.codex/auth.json", { tokens: {} });
 * console.log(how); // "renamed", or "in_place" in a single-file bind mount
 * ```
 */
export async function writeAuthFile(
  authFile: string,
  document: Record<string, unknown>,
  options: WriteAuthFileOptions = {},
): Promise<WriteOutcome> {
  try {
    const target = await resolveTarget(authFile);
    const text = JSON.stringify(document, null, 2);
    let original: Stats | undefined;
    try {
      original = await stat(target);
    } catch (error) {
      if (systemErrorCode(error) !== "ENOENT") throw error;
    }
    const mode = original ? original.mode & OWNER_READ_WRITE : OWNER_READ_WRITE;
    try {
      await replaceByRename(
        target,
        text,
        mode,
        original,
        options.fs ?? NODE_FS,
      );
    } catch (error) {
      if (
        !original?.isFile() || !IN_PLACE_CODES.has(systemErrorCode(error) ?? "")
      ) {
        throw error;
      }
      await writeInPlace(target, text, mode);
      return "in_place";
    }
    const dir = dirname(target);
    await syncDirectory(dir);
    await removeStaleTemps(
      dir,
      basename(target),
      options.staleTempMs ?? DEFAULT_STALE_TEMP_MS,
    );
    return "renamed";
  } catch (error) {
    throw new CredentialsError(
      "auth_file_unwritable",
      `Cannot write Codex credentials to ${authFile}: expected a writable file and folder, found ${
        systemErrorCode(error) ?? "an error"
      }`,
      { cause: error },
    );
  }
}
