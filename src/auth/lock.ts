/**
 * A cross-process lock file, so that the processes of this module that share
 * one Codex login spend its refresh token at most once (the Codex CLI takes
 * no lock).
 *
 * The lock is a file created with `O_EXCL` (flag `wx`) holding the owner's
 * pid, host, boot id and PID namespace (where the platform has them),
 * creation time and a random id. Its owner touches it (its modification
 * time) every third of the stale bound while it holds it. A lock is stale
 * and is broken when its owner is dead (`kill(pid, 0)` fails with `ESRCH`),
 * judged only when the owner is in the reader's PID namespace on the same
 * host and boot, or when it was not touched for longer than the stale bound
 * (an owner elsewhere: another container sharing the host name, another
 * machine on a shared folder). Breaking happens under a second, short-lived
 * guard file and only after checking that the lock is still the stale one,
 * so two waiters that both judge a lock stale never delete the new lock that
 * one of them has just taken. A lock is released only if it is still ours.
 *
 * @module
 */

import {
  open,
  readFile,
  readlink,
  stat,
  unlink,
  utimes,
} from "node:fs/promises";
import { hostname } from "node:os";
import { kill, pid } from "node:process";
import { clearInterval, setInterval } from "node:timers";
import {
  CredentialsError,
  systemErrorCode,
  TokenRefreshError,
} from "../errors.ts";
import { delay } from "../async.ts";

/** Default time without a touch after which a lock is stale whoever holds it, in milliseconds. */
export const DEFAULT_LOCK_STALE_MS = 30_000;

/** Default bound of the wait for a lock, in milliseconds. */
export const DEFAULT_LOCK_WAIT_MS = 40_000;

/** An empty or unreadable lock file older than this is a crashed owner's. */
const UNREADABLE_LOCK_GRACE_MS = 1000;

/** A break guard older than this was left by a crashed breaker. */
const GUARD_STALE_MS = 5000;

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /**
   * Time without a touch after which a lock is stale even if its owner
   * lives, in milliseconds (default 30000). A holder touches its lock every
   * third of this.
   */
  staleMs?: number;
  /** How long to wait for the lock before failing, in milliseconds (default 40000). */
  waitMs?: number;
  /** First pause between attempts, in milliseconds (default 5); it grows to 100. */
  pollMs?: number;
}

/** A lock this process holds. */
export interface HeldLock {
  /** Path of the lock file. */
  readonly path: string;
  /** Random id written into the lock file. */
  readonly id: string;
  /**
   * Stops touching the lock and removes the lock file if it is still ours.
   * Resolves with whether it was. Never throws.
   */
  release(): Promise<boolean>;
}

/** Where a process runs, as far as the liveness of its pid can be judged. */
export interface LockIdentity {
  /** Host name. */
  host: string;
  /** Boot id (`/proc/sys/kernel/random/boot_id`), where the platform has one. */
  bootId?: string;
  /** PID namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`), where the platform has one. */
  pidNamespace?: string;
}

/** What a lock file says about its owner. */
export interface LockOwner {
  /** Random id of the lock, when the file is readable. */
  id?: string;
  /** Process id of the owner. */
  pid?: number;
  /** Host name of the owner. */
  host?: string;
  /** Boot id of the owner's machine, when it recorded one. */
  bootId?: string;
  /** PID namespace of the owner, when it recorded one. */
  pidNamespace?: string;
  /** Creation time, milliseconds since the epoch. */
  createdAt?: number;
  /** Inode of the lock file. */
  ino: number;
  /** Modification time of the lock file (its owner's last touch), milliseconds since the epoch. */
  mtimeMs: number;
}

let identity: Promise<LockIdentity> | undefined;

function readOptional(
  read: () => Promise<string>,
): Promise<string | undefined> {
  return read().then((text) => text.trim() || undefined, () => undefined);
}

/**
 * The identity this process records in its locks and compares with theirs:
 * host name, and on Linux the boot id and the PID namespace. Read once.
 *
 * @example
 * ```ts
 * import { lockIdentity } from "./lock.ts";
 * console.log((await lockIdentity()).pidNamespace); // "pid:[4026531836]" on Linux
 * ```
 */
export function lockIdentity(): Promise<LockIdentity> {
  identity ??= Promise.all([
    readOptional(() => readFile("/proc/sys/kernel/random/boot_id", "utf8")),
    readOptional(() => readlink("/proc/self/ns/pid")),
  ]).then(([bootId, pidNamespace]) => {
    const self: LockIdentity = { host: hostname() };
    if (bootId !== undefined) self.bootId = bootId;
    if (pidNamespace !== undefined) self.pidNamespace = pidNamespace;
    return self;
  });
  return identity;
}

function randomId(): string {
  return crypto.randomUUID();
}

/**
 * Reads a lock file. Resolves with `undefined` when there is no lock.
 *
 * @example
 * ```ts
 * import { readLockOwner } from "./lock.ts";
 * const owner = await readLockOwner("/home/me/.codex/auth.json.lock");
 * console.log(owner?.pid);
 * ```
 */
export async function readLockOwner(
  lockPath: string,
): Promise<LockOwner | undefined> {
  let text: string;
  let ino: number;
  let mtimeMs: number;
  try {
    const info = await stat(lockPath);
    ino = info.ino;
    mtimeMs = info.mtimeMs;
    text = await readFile(lockPath, "utf8");
  } catch (error) {
    if (systemErrorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  const owner: LockOwner = { ino, mtimeMs };
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed.id === "string") owner.id = parsed.id;
    if (typeof parsed.pid === "number") owner.pid = parsed.pid;
    if (typeof parsed.host === "string") owner.host = parsed.host;
    if (typeof parsed.bootId === "string") owner.bootId = parsed.bootId;
    if (typeof parsed.pidns === "string") owner.pidNamespace = parsed.pidns;
    if (typeof parsed.createdAt === "number") {
      owner.createdAt = parsed.createdAt;
    }
  } catch {
    // Empty or partial: the owner crashed right after creating it, or is
    // writing it at this moment. Judged by its modification time.
  }
  return owner;
}

function processIsDead(processId: number): boolean {
  try {
    kill(processId, 0);
    return false;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return systemErrorCode(error) === "ESRCH";
  }
}

/** Whether a pid recorded by `owner` means the same process for `self`. */
function samePidSpace(owner: LockOwner, self: LockIdentity): boolean {
  return owner.host === self.host && owner.bootId === self.bootId &&
    owner.pidNamespace === self.pidNamespace;
}

/**
 * Whether a lock is stale: its owner is dead (judged by its pid only when it
 * recorded the host, boot id and PID namespace of `self`), it was not
 * touched for longer than `staleMs`, or it is unreadable and older than a
 * short grace.
 *
 * @example
 * ```ts
 * import { isLockStale, lockIdentity, readLockOwner } from "./lock.ts";
 * const owner = await readLockOwner("auth.json.lock");
 * const self = await lockIdentity();
 * console.log(owner !== undefined && isLockStale(owner, 30_000, Date.now(), self));
 * ```
 */
export function isLockStale(
  owner: LockOwner,
  staleMs: number,
  now: number,
  self: LockIdentity = { host: hostname() },
): boolean {
  if (owner.id === undefined) {
    return now - owner.mtimeMs > UNREADABLE_LOCK_GRACE_MS;
  }
  if (
    owner.pid !== undefined && owner.pid !== pid &&
    samePidSpace(owner, self) && processIsDead(owner.pid)
  ) {
    return true;
  }
  return now - owner.mtimeMs > staleMs;
}

function sameLock(a: LockOwner, b: LockOwner): boolean {
  return a.id !== undefined ? a.id === b.id : b.id === undefined &&
    a.ino === b.ino && a.mtimeMs === b.mtimeMs;
}

/** Breaks `stale` if it is still the lock in place. Resolves with whether the way is free now. */
async function breakLock(lockPath: string, stale: LockOwner): Promise<boolean> {
  const guardPath = `${lockPath}.break`;
  let guard;
  try {
    guard = await open(guardPath, "wx", 0o600);
  } catch (error) {
    if (systemErrorCode(error) !== "EEXIST") throw error;
    const info = await stat(guardPath).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > GUARD_STALE_MS) {
      await unlink(guardPath).catch(() => {});
    }
    return false;
  }
  try {
    await guard.close();
    const current = await readLockOwner(lockPath);
    if (current === undefined) return true;
    if (!sameLock(stale, current)) return false;
    await unlink(lockPath).catch((error) => {
      if (systemErrorCode(error) !== "ENOENT") throw error;
    });
    return true;
  } finally {
    await unlink(guardPath).catch(() => {});
  }
}

function lockError(lockPath: string, error: unknown): CredentialsError {
  return new CredentialsError(
    "auth_lock_unavailable",
    `Cannot create the refresh lock ${lockPath}: expected a writable folder next to the auth file, found ${
      systemErrorCode(error) ?? "an error"
    }`,
    { cause: error },
  );
}

async function tryCreate(
  lockPath: string,
  id: string,
  self: LockIdentity,
): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockPath, "wx", 0o600);
  } catch (error) {
    if (systemErrorCode(error) === "EEXIST") return false;
    throw lockError(lockPath, error);
  }
  try {
    await handle.writeFile(
      JSON.stringify({
        pid,
        host: self.host,
        bootId: self.bootId,
        pidns: self.pidNamespace,
        createdAt: Date.now(),
        id,
      }),
    );
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(lockPath).catch(() => {});
    throw lockError(lockPath, error);
  }
  await handle.close();
  return true;
}

/**
 * The lock just created, touched every third of `staleMs` until released so
 * that a waiter that cannot judge its pid sees it alive. The timer never
 * keeps the process alive.
 */
function held(lockPath: string, id: string, staleMs: number): HeldLock {
  const touch = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => {});
  }, Math.max(1, Math.floor(staleMs / 3)));
  touch.unref();
  return {
    path: lockPath,
    id,
    release: () => {
      clearInterval(touch);
      return releaseLock(lockPath, id);
    },
  };
}

async function releaseLock(lockPath: string, id: string): Promise<boolean> {
  try {
    const owner = await readLockOwner(lockPath);
    if (owner?.id !== id) return false;
    await unlink(lockPath);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the lock file `lockPath`, waiting with a growing pause (5 ms to
 * 100 ms, with jitter) while another live process holds it, and breaking it
 * when it is stale.
 *
 * Throws `TokenRefreshError` when the wait exceeds `waitMs`, and
 * `CredentialsError` (`auth_lock_unavailable`) when the lock file cannot be
 * created at all (for example a read-only folder).
 *
 * @example
 * ```ts
 * import { acquireLock } from "./lock.ts";
 *
 * const lock = await acquireLock("/home/me/.codex/auth.json.lock");
 * try {
 *   // read, refresh, write back
 * } finally {
 *   await lock.release();
 * }
 * ```
 */
export async function acquireLock(
  lockPath: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  const staleMs = options.staleMs ?? DEFAULT_LOCK_STALE_MS;
  const waitMs = options.waitMs ?? DEFAULT_LOCK_WAIT_MS;
  const deadline = Date.now() + waitMs;
  let pause = options.pollMs ?? 5;
  const id = randomId();
  const self = await lockIdentity();
  for (;;) {
    if (await tryCreate(lockPath, id, self)) return held(lockPath, id, staleMs);
    let owner: LockOwner | undefined;
    try {
      owner = await readLockOwner(lockPath);
    } catch (error) {
      throw lockError(lockPath, error);
    }
    if (owner === undefined) continue;
    if (isLockStale(owner, staleMs, Date.now(), self)) {
      try {
        if (await breakLock(lockPath, owner)) continue;
      } catch (error) {
        throw lockError(lockPath, error);
      }
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new TokenRefreshError(
        `Token refresh failed: expected to take the refresh lock ${lockPath} within ${waitMs} ms, found it still held${
          owner.pid === undefined ? "" : ` by process ${owner.pid}`
        }`,
      );
    }
    await delay(Math.min(left, pause + Math.random() * pause));
    pause = Math.min(pause * 1.5, 100);
  }
}
