import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, utimes, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import process from "node:process";
import { TokenRefreshError } from "../src/errors.ts";
import { acquireLock, lockIdentity, readLockOwner } from "../src/auth/lock.ts";
import { type TempDir, tempDir } from "./fixtures/auth_helpers.ts";

let dir: TempDir;
let serial = 0;
before(async () => {
  dir = await tempDir("auth-lock-");
});
after(async () => {
  await dir.cleanup();
});

function lockPath(): string {
  return dir.file(`auth_${++serial}.json.lock`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const result = spawnSync(process.execPath, ["--version"]);
  assert.equal(typeof result.pid, "number");
  return result.pid!;
}

/** Writes a lock as another process of this host, boot and PID namespace would. */
async function writeForeignLock(
  path: string,
  owner: { pid: number; createdAt: number; pidns?: string },
): Promise<void> {
  const self = await lockIdentity();
  await writeFile(
    path,
    JSON.stringify({
      host: hostname(),
      bootId: self.bootId,
      pidns: self.pidNamespace,
      ...owner,
      id: "foreign-lock",
    }),
  );
}

/** Sets the lock file's modification time (its owner's last touch) `ms` ago. */
async function touchedAgo(path: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  await utimes(path, then, then);
}

describe("acquireLock", () => {
  it("writes pid, host, time and a random id into the lock file", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    try {
      const content = JSON.parse(await readFile(path, "utf8"));
      assert.equal(content.pid, process.pid);
      assert.equal(content.host, hostname());
      assert.equal(content.id, lock.id);
      assert.ok(Math.abs(content.createdAt - Date.now()) < 5000);
    } finally {
      await lock.release();
    }
    assert.equal(existsSync(path), false);
  });

  it("keeps a second taker waiting until the first releases", async () => {
    const path = lockPath();
    const first = await acquireLock(path);
    let secondHeld = false;
    const second = acquireLock(path).then((lock) => {
      secondHeld = true;
      return lock;
    });
    await sleep(80);
    assert.equal(secondHeld, false);
    await first.release();
    const lock = await second;
    assert.equal(secondHeld, true);
    await lock.release();
  });

  it("fails with a transient error when the wait exceeds its bound", async () => {
    const path = lockPath();
    const held = await acquireLock(path);
    try {
      const started = Date.now();
      await assert.rejects(
        acquireLock(path, { waitMs: 150 }),
        (error) =>
          error instanceof TokenRefreshError &&
          /expected to take the refresh lock/.test(error.message),
      );
      assert.ok(Date.now() - started < 2000);
    } finally {
      await held.release();
    }
  });

  it("breaks the lock of a dead process at once", async () => {
    const path = lockPath();
    await writeForeignLock(path, { pid: deadPid(), createdAt: Date.now() });
    const started = Date.now();
    const lock = await acquireLock(path, { waitMs: 2000 });
    assert.ok(Date.now() - started < 1000);
    assert.equal((await readLockOwner(path))?.id, lock.id);
    await lock.release();
  });

  it("breaks a lock older than the stale bound even if its owner lives", async () => {
    const path = lockPath();
    await writeForeignLock(path, { pid: 1, createdAt: Date.now() - 60_000 });
    await touchedAgo(path, 60_000);
    const lock = await acquireLock(path, { staleMs: 30_000, waitMs: 2000 });
    assert.equal((await readLockOwner(path))?.id, lock.id);
    await lock.release();
  });

  it("respects a fresh lock of a live process", async () => {
    const path = lockPath();
    await writeForeignLock(path, { pid: 1, createdAt: Date.now() });
    await assert.rejects(acquireLock(path, { waitMs: 150 }), TokenRefreshError);
    assert.equal((await readLockOwner(path))?.id, "foreign-lock");
  });

  it("breaks an empty lock file left by a crash, after a short grace", async () => {
    const path = lockPath();
    await writeFile(path, "");
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const lock = await acquireLock(path, { waitMs: 2000 });
    assert.equal((await readLockOwner(path))?.id, lock.id);
    await lock.release();
  });

  it("waits for a freshly created empty lock file instead of breaking it", async () => {
    const path = lockPath();
    await writeFile(path, "");
    await assert.rejects(acquireLock(path, { waitMs: 150 }), TokenRefreshError);
    assert.equal(existsSync(path), true);
  });

  it("releases only a lock that is still its own", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    await writeForeignLock(path, { pid: 1, createdAt: Date.now() });
    assert.equal(await lock.release(), false);
    assert.equal((await readLockOwner(path))?.id, "foreign-lock");
  });

  it("gives a stale lock to exactly one of many takers at a time", async () => {
    const path = lockPath();
    await writeForeignLock(path, { pid: deadPid(), createdAt: Date.now() });
    let holders = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, async () => {
        const lock = await acquireLock(path, { waitMs: 10_000 });
        holders++;
        most = Math.max(most, holders);
        await sleep(10);
        holders--;
        assert.equal(await lock.release(), true);
      }),
    );
    assert.equal(most, 1);
    assert.equal(existsSync(path), false);
  });

  it("records its boot id and PID namespace where the platform has them", async () => {
    const path = lockPath();
    const lock = await acquireLock(path);
    try {
      const content = JSON.parse(await readFile(path, "utf8"));
      const self = await lockIdentity();
      assert.equal(content.bootId, self.bootId);
      assert.equal(content.pidns, self.pidNamespace);
      if (process.platform === "linux") {
        assert.match(content.pidns, /^pid:\[\d+\]$/);
        assert.match(content.bootId, /^[0-9a-f-]{36}$/);
      }
    } finally {
      await lock.release();
    }
  });

  it("does not break the lock of a holder in another PID namespace before the stale bound", async () => {
    const path = lockPath();
    // Same host name, a pid that is dead here: in another namespace it may
    // well be alive.
    await writeForeignLock(path, {
      pid: deadPid(),
      createdAt: Date.now(),
      pidns: "pid:[4026530001]",
    });
    await assert.rejects(
      acquireLock(path, { staleMs: 5000, waitMs: 300 }),
      TokenRefreshError,
    );
    assert.equal((await readLockOwner(path))?.id, "foreign-lock");
    // Its holder stopped touching it longer ago than the stale bound.
    await touchedAgo(path, 6000);
    const lock = await acquireLock(path, { staleMs: 5000, waitMs: 2000 });
    assert.equal((await readLockOwner(path))?.id, lock.id);
    await lock.release();
  });

  it("keeps its lock touched while it holds it, so it is not broken as stale", async () => {
    const path = lockPath();
    const held = await acquireLock(path, { staleMs: 400 });
    try {
      await assert.rejects(
        acquireLock(path, { staleMs: 400, waitMs: 1200 }),
        TokenRefreshError,
      );
      assert.equal((await readLockOwner(path))?.id, held.id);
      const owner = await readLockOwner(path);
      assert.ok(Date.now() - owner!.mtimeMs < 400, "touched lately");
    } finally {
      assert.equal(await held.release(), true);
    }
  });

  it("stops touching the lock once released", async () => {
    const path = lockPath();
    const lock = await acquireLock(path, { staleMs: 150 });
    await lock.release();
    await writeForeignLock(path, { pid: 1, createdAt: Date.now() });
    await touchedAgo(path, 60_000);
    await sleep(200);
    const owner = await readLockOwner(path);
    assert.ok(Date.now() - owner!.mtimeMs > 50_000, "not touched");
  });
});
