/**
 * Which Codex CLI version the provider speaks as (the `version` header, the
 * user-agent and the model list's `client_version`): the highest valid of
 * the built-in default and the `latest_version` of each seller's Codex home
 * (`$CODEX_HOME/version.json`, which the Codex CLI's update check rewrites
 * about every 20 hours), unless `OPENAI_RESPONSES_CLIENT_VERSION` is set:
 * then that, even when lower. Chosen once, when the logins are known.
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ResolvedLogins } from "../auth/accounts.ts";
import { DEFAULT_CLIENT_VERSION } from "../config.ts";
import { systemErrorCode } from "../errors.ts";
import { isRecord } from "../json.ts";

/** Where the chosen version came from. */
export type ClientVersionSource = "key" | "version_file" | "default";

/** The version the provider speaks as, and why. */
export interface ClientVersionChoice {
  /** The version, `x.y.z`. */
  version: string;
  /**
   * `key` (OPENAI_RESPONSES_CLIENT_VERSION), `version_file` (a Codex home's
   * `version.json`) or `default` (the built-in one).
   */
  source: ClientVersionSource;
  /** The `version.json` it came from, when `source` is `version_file`. */
  file?: string;
  /** The built-in default. */
  fallback: string;
  /** The `version.json` files read, and what each said. */
  read: VersionFileReading[];
}

/** What one `version.json` said. */
export interface VersionFileReading {
  /** Its path. */
  file: string;
  /** Its valid `latest_version`. */
  version: string;
}

/** What {@linkcode chooseClientVersion} chooses from. */
export interface ClientVersionCandidates {
  /** OPENAI_RESPONSES_CLIENT_VERSION, when set: it wins outright. */
  pinned?: string;
  /** The built-in default. */
  fallback: string;
  /** The valid versions of the Codex homes' `version.json`. */
  read?: VersionFileReading[];
}

/** The file of a Codex home the CLI's update check writes. */
export const VERSION_FILE_NAME = "version.json";

/** A larger `version.json` is not the Codex CLI's (it holds one short line). */
const VERSION_FILE_MAX_BYTES = 64 * 1024;

const VERSION_PATTERN =
  /^(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** A release version as the key accepts it: `x.y.z`, up to 4 digits each. */
const RELEASE_PATTERN = /^\d{1,4}\.\d{1,4}\.\d{1,4}$/;

interface ParsedVersion {
  numbers: [number, number, number];
  prerelease: string[];
}

function parse(text: string): ParsedVersion | undefined {
  const match = VERSION_PATTERN.exec(text.trim());
  if (!match) return undefined;
  return {
    numbers: [Number(match[1]), Number(match[2]), Number(match[3])],
    prerelease: match[4] === undefined ? [] : match[4].split("."),
  };
}

function compareIdentifiers(a: string, b: string): number {
  const aNumeric = /^\d+$/.test(a);
  const bNumeric = /^\d+$/.test(b);
  if (aNumeric && bNumeric) return Number(a) - Number(b);
  // Numeric identifiers sort before alphanumeric ones (semver 11.4.3).
  if (aNumeric !== bNumeric) return aNumeric ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Orders two versions `x.y.z[-pre][+build]` by semver precedence: numbers
 * first, then a pre-release below its release (`0.172.0-alpha.1` <
 * `0.172.0`), then the pre-release identifiers; build metadata is ignored.
 * Surrounding whitespace is ignored; a text that is no version sorts below
 * every version.
 *
 * @example
 * ```ts
 * import { compareVersions } from "./client_version.ts";
 * console.log(compareVersions("0.180.0", "0.171.0") > 0); // true
 * console.log(compareVersions("0.172.0-alpha.1", "0.172.0") < 0); // true
 * ```
 *
 * @param a a version
 * @param b another version
 * @returns a negative number when `a` is lower, 0 when equal, positive when higher
 */
export function compareVersions(a: string, b: string): number {
  const left = parse(a);
  const right = parse(b);
  if (!left || !right) return (left ? 1 : 0) - (right ? 1 : 0);
  for (let index = 0; index < 3; index++) {
    const difference = left.numbers[index] - right.numbers[index];
    if (difference !== 0) return Math.sign(difference);
  }
  const leftRelease = left.prerelease.length === 0;
  const rightRelease = right.prerelease.length === 0;
  if (leftRelease || rightRelease) {
    // A release sorts above its pre-releases (semver 11.3).
    return Number(leftRelease) - Number(rightRelease);
  }
  const common = Math.min(left.prerelease.length, right.prerelease.length);
  for (let index = 0; index < common; index++) {
    const order = compareIdentifiers(
      left.prerelease[index],
      right.prerelease[index],
    );
    if (order !== 0) return Math.sign(order);
  }
  return Math.sign(left.prerelease.length - right.prerelease.length);
}

/**
 * The highest valid version: `pinned` when set (the seller's key wins
 * outright, even when lower), else the highest of `fallback` and the
 * versions read from the Codex homes (the earlier one on a tie).
 *
 * @example
 * ```ts
 * import { chooseClientVersion } from "./client_version.ts";
 * const choice = chooseClientVersion({
 *   fallback: "0.171.0",
 *   read: [{ file: "/home/me/.codex/version.json", version: "0.180.0" }],
 * });
 * console.log(choice.version, choice.source); // "0.180.0" "version_file"
 * ```
 *
 * @param candidates the key, the default and what the Codex homes said
 * @returns the version and why
 */
export function chooseClientVersion(
  candidates: ClientVersionCandidates,
): ClientVersionChoice {
  const read = candidates.read ?? [];
  const base = { fallback: candidates.fallback, read };
  if (candidates.pinned !== undefined) {
    return { ...base, version: candidates.pinned, source: "key" };
  }
  let best: ClientVersionChoice = {
    ...base,
    version: candidates.fallback,
    source: "default",
  };
  for (const reading of read) {
    if (compareVersions(reading.version, best.version) > 0) {
      best = {
        ...base,
        version: reading.version,
        source: "version_file",
        file: reading.file,
      };
    }
  }
  return best;
}

/**
 * The choice in words, as `check` prints it, e.g.
 * `0.180.0 (from /home/me/.codex/version.json; default 0.171.0)`.
 *
 * @example
 * ```ts
 * import { describeClientVersion } from "./client_version.ts";
 * console.log(describeClientVersion({
 *   version: "0.150.0",
 *   source: "key",
 *   fallback: "0.171.0",
 *   read: [],
 * }));
 * // "0.150.0 (from OPENAI_RESPONSES_CLIENT_VERSION; default 0.171.0)"
 * ```
 *
 * @param choice the choice
 * @returns one line
 */
export function describeClientVersion(choice: ClientVersionChoice): string {
  switch (choice.source) {
    case "key":
      return `${choice.version} (from OPENAI_RESPONSES_CLIENT_VERSION; default ${choice.fallback})`;
    case "version_file":
      return `${choice.version} (from ${choice.file}; default ${choice.fallback})`;
    case "default": {
      if (choice.read.length === 0) {
        return `${choice.version} (the default; no Codex home's ${VERSION_FILE_NAME} names a version)`;
      }
      const said = choice.read.map((reading) =>
        `${reading.file} says ${reading.version}`
      );
      return `${choice.version} (the default; ${said.join(", ")})`;
    }
  }
}

/**
 * The Codex homes the logins come from, without repeats: the folder of the
 * Codex CLI's login, and of each file OPENAI_RESPONSES_AUTH_FILE names (a
 * folder without `version.json` adds nothing); none for the provider's own
 * accounts.
 *
 * @example
 * ```ts
 * import { codexHomesOf } from "./client_version.ts";
 * console.log(codexHomesOf({
 *   rule: "codex_home",
 *   logins: [{ name: "codex", authFile: "/home/me/.codex/auth.json" }],
 * })); // ["/home/me/.codex"]
 * ```
 *
 * @param found the logins and the rule that chose them
 * @returns the folders whose `version.json` counts
 */
export function codexHomesOf(found: ResolvedLogins): string[] {
  if (found.rule === "accounts") return [];
  return [...new Set(found.logins.map((login) => dirname(login.authFile)))];
}

/** Options of {@linkcode readVersionFile}. */
export interface ReadVersionFileOptions {
  /** The seller's home, shown as `~` in the warning. */
  homeDir?: string;
}

/** What one Codex home's `version.json` said. */
export interface VersionFileResult {
  /** Its valid `latest_version`, when it has one. */
  version?: string;
  /** Why it is ignored, when it exists but is unusable (no secret; the home as `~`). */
  warning?: string;
}

function shown(path: string, homeDir: string | undefined): string {
  const home = homeDir?.replace(/[\\/]+$/, "");
  if (home === undefined || home.length < 2) return path;
  return path.startsWith(home) &&
      (path.length === home.length || "/\\".includes(path[home.length]))
    ? `~${path.slice(home.length)}`
    : path;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "none";
  if (typeof value === "string" && /^[0-9A-Za-z.+-]{1,40}$/.test(value)) {
    return JSON.stringify(value);
  }
  if (typeof value === "string") return `a text of ${value.length} characters`;
  return value === null ? "null" : `a ${typeof value}`;
}

/**
 * Reads the `latest_version` of `<codexHome>/version.json`: a release
 * `x.y.z`. No file (the seller never ran the CLI's interface) is no
 * version and no warning; a file that cannot be read, is not JSON, or whose
 * `latest_version` is not a release version (a pre-release included) is no
 * version and one warning saying why.
 *
 * @example
 * ```ts ignore
 * const { version, warning } = await readVersionFile("/home/me/.codex");
 * ```
 *
 * @param codexHome the Codex home folder
 * @param options the seller's home, for the warning
 * @returns the version, or why there is none
 */
export async function readVersionFile(
  codexHome: string,
  options: ReadVersionFileOptions = {},
): Promise<VersionFileResult> {
  const file = join(codexHome, VERSION_FILE_NAME);
  const where = shown(file, options.homeDir);
  const ignored = (why: string): VersionFileResult => ({
    warning:
      `Ignoring ${where}: expected the Codex CLI's {"latest_version":"x.y.z",...}, found ${why}`,
  });
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > VERSION_FILE_MAX_BYTES) {
      return ignored(`a file of ${size} bytes`);
    }
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = systemErrorCode(error);
    if (code === "ENOENT" || code === "ENOTDIR") return {};
    return ignored(`a file that cannot be read (${code ?? "error"})`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return ignored("text that is not JSON");
  }
  if (!isRecord(body)) return ignored("JSON that is not an object");
  const latest = body.latest_version;
  const version = typeof latest === "string" ? latest.trim() : undefined;
  if (version === undefined || !RELEASE_PATTERN.test(version)) {
    return ignored(`latest_version ${describeValue(latest)}`);
  }
  return { version };
}

/** What {@linkcode selectClientVersion} needs of the settings. */
export interface ClientVersionSettings {
  /** OPENAI_RESPONSES_CLIENT_VERSION, or the default when unset. */
  readonly clientVersion: string;
  /** Whether OPENAI_RESPONSES_CLIENT_VERSION is set. */
  readonly clientVersionPinned: boolean;
}

/** Options of {@linkcode selectClientVersion}. */
export interface SelectClientVersionOptions {
  /** The seller's home, shown as `~` in warnings. */
  homeDir?: string;
  /** Receives one warning per unusable `version.json`. */
  onWarning?: (message: string) => void;
}

/**
 * Chooses the version for logins found in `codexHomes` (the folders of the
 * logins that come from a Codex home): reads their `version.json` unless
 * OPENAI_RESPONSES_CLIENT_VERSION is set, then {@linkcode chooseClientVersion}.
 *
 * @example
 * ```ts ignore
 * const choice = await selectClientVersion(settings, ["/home/me/.codex"]);
 * ```
 *
 * @param settings the configured version and whether the key set it
 * @param codexHomes the Codex home folders of the logins
 * @param options the seller's home and where warnings go
 * @returns the version and why
 */
export async function selectClientVersion(
  settings: ClientVersionSettings,
  codexHomes: readonly string[],
  options: SelectClientVersionOptions = {},
): Promise<ClientVersionChoice> {
  if (settings.clientVersionPinned) {
    return chooseClientVersion({
      pinned: settings.clientVersion,
      fallback: DEFAULT_CLIENT_VERSION,
    });
  }
  const results = await Promise.all(
    codexHomes.map((home) =>
      readVersionFile(home, { homeDir: options.homeDir })
    ),
  );
  const read: VersionFileReading[] = [];
  results.forEach((result, index) => {
    if (result.warning !== undefined) options.onWarning?.(result.warning);
    if (result.version !== undefined) {
      read.push({
        file: join(codexHomes[index], VERSION_FILE_NAME),
        version: result.version,
      });
    }
  });
  return chooseClientVersion({ fallback: DEFAULT_CLIENT_VERSION, read });
}
