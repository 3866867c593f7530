/**
 * The stable installation id of a login: the UUID the Codex CLI keeps in
 * `$CODEX_HOME/installation_id` and sends with every request. A login read
 * from a Codex home uses that home's file (created the way the CLI creates
 * it when absent: a lower-case UUID v4, no newline, mode 0644); a login of
 * the provider's own (an account folder, or an auth file not named
 * `auth.json`) gets one the provider creates once beside it, mode 0600.
 *
 * The file is read once per login when the logins are found. It is created
 * atomically (a hard link of a finished temp file, which fails when a file
 * appeared meanwhile: that one is then read), so a Codex CLI or another
 * process starting at the same time never sees half a file and never has
 * its id replaced.
 *
 * @module
 */

import { link, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { systemErrorCode } from "../errors.ts";
import { AUTH_FILE_NAME, type LoginRule } from "./accounts.ts";
import { tempPathFor, writeNewFile } from "./write.ts";

/** Name of the Codex CLI's installation id file in a Codex home. */
export const INSTALLATION_ID_FILE_NAME = "installation_id";

/** Mode the Codex CLI gives its installation id file. */
export const CODEX_INSTALLATION_ID_MODE = 0o644;

/** Mode of an installation id file the provider keeps for a login of its own. */
export const OWN_INSTALLATION_ID_MODE = 0o600;

/** Longest installation id file read; the CLI's holds 36 bytes. */
const MAX_FILE_BYTES = 128;

/** A UUID in its text form, any case, as the CLI's parser accepts it trimmed. */
const UUID_TEXT =
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where a login's installation id is kept, and the mode of a new file. */
export interface InstallationIdPlace {
  /** The file. */
  path: string;
  /** Mode given to it when the provider creates it. */
  mode: number;
}

/**
 * Where the installation id of a login is kept: `installation_id` in the
 * Codex home its `auth.json` is in (rules `codex_home` and `auth_file` with
 * a file named `auth.json`: the CLI's own file, mode 0644); `installation_id`
 * in the account folder (rule `accounts`, mode 0600); beside any other auth
 * file as `<file>.installation_id` (mode 0600), so that two auth files in
 * one folder are two installations.
 *
 * @example
 * ```ts
 * import { installationIdPlace } from "./installation_id.ts";
 * console.log(installationIdPlace("codex_home", "/home/me/.codex/auth.json").path);
 * // "/home/me/.codex/installation_id"
 * console.log(installationIdPlace("auth_file", "/keys/work.json").path);
 * // "/keys/work.json.installation_id"
 * ```
 *
 * @param rule the rule that found the login
 * @param authFile the path of its auth.json
 * @returns the file and its mode
 */
export function installationIdPlace(
  rule: LoginRule,
  authFile: string,
): InstallationIdPlace {
  if (rule === "accounts") {
    return {
      path: join(dirname(authFile), INSTALLATION_ID_FILE_NAME),
      mode: OWN_INSTALLATION_ID_MODE,
    };
  }
  if (basename(authFile) === AUTH_FILE_NAME) {
    return {
      path: join(dirname(authFile), INSTALLATION_ID_FILE_NAME),
      mode: CODEX_INSTALLATION_ID_MODE,
    };
  }
  return {
    path: `${authFile}.${INSTALLATION_ID_FILE_NAME}`,
    mode: OWN_INSTALLATION_ID_MODE,
  };
}

/**
 * The installation id kept at `place`, created when the file is absent.
 * An existing file holding a UUID is only read (its mode untouched); one
 * that holds anything else is replaced with a new id, as the CLI does. The
 * id is returned lower case, as the CLI formats it.
 *
 * Throws the file system's error when the file can be neither read nor
 * created (the caller decides what a login without one does).
 *
 * @example
 * ```ts ignore
 * import { installationIdPlace, readOrCreateInstallationId } from "./installation_id.ts";
 * const id = await readOrCreateInstallationId(
 *   installationIdPlace("codex_home", "/home/me/.codex/auth.json"),
 * );
 * ```
 *
 * @param place where the id is kept
 * @returns the id
 */
export async function readOrCreateInstallationId(
  place: InstallationIdPlace,
): Promise<string> {
  // Two rounds at most: a file that appears while one is created is read.
  for (let round = 0; round < 2; round++) {
    const found = await readId(place.path);
    if (found.id !== undefined) return found.id;
    const id = crypto.randomUUID();
    if (!found.absent) {
      await replaceFile(place, id);
      return id;
    }
    if (await createFile(place, id)) return id;
  }
  const again = await readId(place.path);
  if (again.id !== undefined) return again.id;
  throw new Error(
    `Expected a UUID in ${place.path}, found ${
      again.absent ? "no file" : "another text"
    } after creating it`,
  );
}

/** What an installation id file holds: its id, or none (and whether the file is there). */
interface FoundId {
  /** The id, lower case, when the file holds one. */
  id?: string;
  /** The file is not there. */
  absent: boolean;
}

async function readId(path: string): Promise<FoundId> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (systemErrorCode(error) === "ENOENT") return { absent: true };
    throw error;
  }
  try {
    const buffer = new Uint8Array(MAX_FILE_BYTES + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, 0);
    if (bytesRead > MAX_FILE_BYTES) return { absent: false };
    const text = new TextDecoder().decode(buffer.subarray(0, bytesRead)).trim();
    return UUID_TEXT.test(text)
      ? { id: text.toLowerCase(), absent: false }
      : { absent: false };
  } finally {
    await handle.close();
  }
}

/**
 * Places a new file holding `id` unless one is there: false when one
 * appeared meanwhile (it is left as it is). Where the filesystem has no
 * hard links, a check and a rename do.
 */
async function createFile(
  place: InstallationIdPlace,
  id: string,
): Promise<boolean> {
  const temp = tempPathFor(place.path);
  await writeNewFile(temp, id, place.mode);
  try {
    try {
      await link(temp, place.path);
      return true;
    } catch (error) {
      if (systemErrorCode(error) === "EEXIST") return false;
    }
    if (!(await readId(place.path)).absent) return false;
    await rename(temp, place.path);
    return true;
  } finally {
    await unlink(temp).catch(() => {});
  }
}

/** Replaces a file that holds no id with one that holds `id`, atomically. */
async function replaceFile(
  place: InstallationIdPlace,
  id: string,
): Promise<void> {
  const temp = tempPathFor(place.path);
  await writeNewFile(temp, id, place.mode);
  try {
    await rename(temp, place.path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
}
