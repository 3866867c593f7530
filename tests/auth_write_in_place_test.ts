// Write-back when auth.json cannot be replaced by a rename (a single-file
// bind mount answers EBUSY), a write-back that fails outright, and the owner
// of a file rewritten by root. In every case the refresh token this process
// has spent is never sent again.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chown,
  mkdir,
  readdir,
  readFile,
  stat,
  utimes,
} from "node:fs/promises";
import process from "node:process";
import { createTokenSource } from "../src/auth/token_source.ts";
import { recoverInterruptedWrite, writeAuthFile } from "../src/auth/write.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { scriptCommand } from "./_runtime.ts";
import {
  assertNoSecrets,
  epochIn,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const EXPIRED = { exp: epochIn(-60), refreshToken: "rt_initial" };

function fsError(code: string): Error {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** A filesystem whose `rename` always fails with `code`. */
function failingRename(code: string) {
  let calls = 0;
  return {
    fs: {
      rename(): Promise<void> {
        calls++;
        return Promise.reject(fsError(code));
      },
    },
    calls: () => calls,
  };
}

/** The refresh tokens sent to the endpoint, in order. */
function sentRefreshTokens(endpoint: FakeTokenEndpoint): string[] {
  return endpoint.requests.map((request) => request.fields.refresh_token);
}

async function fileTokens(path: string): Promise<Record<string, string>> {
  return JSON.parse(await readFile(path, "utf8")).tokens;
}

const isRoot = process.getuid?.() === 0;

function bindMountSkip(): string | false {
  if (!isRoot) return "needs root to bind-mount a file";
  const probe = spawnSync("unshare", [
    "-m",
    "--propagation",
    "private",
    "true",
  ]);
  if (probe.error || probe.status !== 0) {
    return "needs unshare with mount namespaces";
  }
  return false;
}

describe("write-back when the rename fails with EBUSY", () => {
  it("writes the file in place and sends the rotated refresh token on the next refresh", async () => {
    const dir = await tempDir("auth-inplace-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_initial"],
    });
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, EXPIRED);
      const injected = failingRename("EBUSY");
      const warnings: string[] = [];
      const source = createTokenSource(authFile, {
        tokenUrl: endpoint.url,
        reusedGraceMs: 200,
        statIntervalMs: 0,
        fs: injected.fs,
        onWarning: (message) => warnings.push(message),
      });
      const first = await source.getToken();
      const rotated = endpoint.latestRefreshToken!;
      assert.equal((await fileTokens(authFile)).refresh_token, rotated);
      await source.forceRefresh();
      const second = await source.getToken();
      assert.ok(injected.calls() >= 2, "every write-back tried the rename");
      assert.deepEqual(sentRefreshTokens(endpoint), ["rt_initial", rotated]);
      assert.deepEqual(endpoint.requests.map((r) => r.status), [200, 200]);
      assert.notEqual(second.accessToken, first.accessToken);
      assert.equal(second.accessToken, endpoint.latestAccessToken);
      const tokens = await fileTokens(authFile);
      assert.equal(tokens.refresh_token, endpoint.latestRefreshToken);
      assert.equal(tokens.access_token, endpoint.latestAccessToken);
      assert.equal((await stat(authFile)).mode & 0o777, 0o600);
      assert.deepEqual(await readdir(dir.path), ["auth.json"], "no temp file");
      // Said once, without a path or a token.
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /in place/);
      assert.ok(!warnings[0].includes(dir.path));
      assert.ok(!warnings[0].includes("auth.json"));
      assertNoSecrets(new Error(warnings[0]), [
        "rt_initial",
        rotated,
        first.accessToken,
        second.accessToken,
        endpoint.latestRefreshToken!,
      ]);
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });

  for (const code of ["EXDEV", "EPERM", "EACCES"]) {
    it(`writeAuthFile writes in place when the rename fails with ${code}`, async () => {
      const dir = await tempDir("auth-inplace-");
      try {
        const authFile = dir.file("auth.json");
        await writeAuth(authFile, EXPIRED);
        const before = (await stat(authFile)).ino;
        const outcome = await writeAuthFile(authFile, { tokens: { n: 2 } }, {
          fs: failingRename(code).fs,
        });
        assert.equal(outcome, "in_place");
        assert.deepEqual(JSON.parse(await readFile(authFile, "utf8")), {
          tokens: { n: 2 },
        });
        assert.equal((await stat(authFile)).ino, before, "the same file");
        assert.equal((await stat(authFile)).mode & 0o777, 0o600);
        assert.deepEqual(await readdir(dir.path), ["auth.json"]);
      } finally {
        await dir.cleanup();
      }
    });
  }

  it("writeAuthFile does not write in place for other rename failures", async () => {
    const dir = await tempDir("auth-inplace-");
    try {
      const authFile = dir.file("auth.json");
      const document = await writeAuth(authFile, EXPIRED);
      await assert.rejects(
        writeAuthFile(authFile, { tokens: {} }, {
          fs: failingRename("EIO").fs,
        }),
        { code: "auth_file_unwritable" },
      );
      assert.deepEqual(JSON.parse(await readFile(authFile, "utf8")), document);
      assert.deepEqual(await readdir(dir.path), ["auth.json"]);
    } finally {
      await dir.cleanup();
    }
  });
});

describe("recovery of an interrupted write-back when the rename fails with EBUSY", () => {
  it("writes the killed writer's temp file into auth.json in place", async () => {
    const dir = await tempDir("auth-inplace-");
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, { refreshToken: "rt_old" });
      const before = (await stat(authFile)).ino;
      const tempPath = dir.file(".auth.json.0123456789abcdef.tmp");
      const left = await writeAuth(tempPath, { refreshToken: "rt_new" });
      const later = new Date(Date.now() + 1000);
      await utimes(tempPath, later, later);
      assert.equal(
        await recoverInterruptedWrite(authFile, {
          fs: failingRename("EBUSY").fs,
        }),
        true,
      );
      assert.deepEqual(JSON.parse(await readFile(authFile, "utf8")), left);
      assert.equal((await stat(authFile)).ino, before, "the same file");
      assert.deepEqual(await readdir(dir.path), ["auth.json"]);
    } finally {
      await dir.cleanup();
    }
  });
});

describe("write-back that fails outright", () => {
  it("never sends the spent refresh token again, and saves the newest tokens once it can", async () => {
    const dir = await tempDir("auth-unsaved-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_initial"],
    });
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, EXPIRED);
      let failWith: string | undefined = "EIO";
      const warnings: string[] = [];
      const source = createTokenSource(authFile, {
        tokenUrl: endpoint.url,
        reusedGraceMs: 200,
        statIntervalMs: 0,
        fs: {
          rename: async (from, to) => {
            if (failWith) throw fsError(failWith);
            const { rename } = await import("node:fs/promises");
            await rename(from, to);
          },
        },
        onWarning: (message) => warnings.push(message),
      });
      const first = await source.getToken();
      const rotated = endpoint.latestRefreshToken!;
      // The file still holds the spent token; it is read again (stat every
      // call) and must not replace the tokens in memory.
      assert.equal((await fileTokens(authFile)).refresh_token, "rt_initial");
      assert.equal((await source.getToken()).accessToken, first.accessToken);
      // A backend 401 reads the file at once: still not adopted.
      assert.equal(
        (await source.handleUnauthorized({
          accessToken: "some_other_token",
          accountId: first.accountId,
        }))?.accessToken,
        first.accessToken,
      );
      await source.forceRefresh();
      assert.deepEqual(sentRefreshTokens(endpoint), ["rt_initial", rotated]);
      assert.deepEqual(endpoint.requests.map((r) => r.status), [200, 200]);
      assert.equal(
        (await source.getToken()).accessToken,
        endpoint.latestAccessToken,
      );
      assert.ok(warnings.some((w) => /could not be saved/.test(w)));
      // Once the file can be written again, the next refresh saves the
      // newest tokens.
      failWith = undefined;
      await source.forceRefresh();
      assert.equal(endpoint.requests.at(-1)!.status, 200);
      const tokens = await fileTokens(authFile);
      assert.equal(tokens.refresh_token, endpoint.latestRefreshToken);
      assert.equal(tokens.access_token, endpoint.latestAccessToken);
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });

  it("adopts a new login written to the file after a failed write-back", async () => {
    const dir = await tempDir("auth-unsaved-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_initial", "rt_new_login"],
    });
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, EXPIRED);
      const source = createTokenSource(authFile, {
        tokenUrl: endpoint.url,
        statIntervalMs: 0,
        fs: failingRename("EIO").fs,
        onWarning: () => {},
      });
      await source.getToken();
      const login = await writeAuth(authFile, {
        exp: epochIn(3600),
        refreshToken: "rt_new_login",
      });
      const token = await source.getToken();
      assert.equal(
        token.accessToken,
        (login.tokens as Record<string, string>).access_token,
      );
      assert.equal(endpoint.calls, 1);
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });
});

describe("write-back by root", () => {
  it(
    "keeps the owner and group of auth.json",
    { skip: isRoot ? false : "needs root to chown a file to uid 1000" },
    async () => {
      const dir = await tempDir("auth-owner-");
      const endpoint = await startFakeTokenEndpoint({
        refreshTokens: ["rt_initial"],
      });
      try {
        const authFile = dir.file("auth.json");
        await writeAuth(authFile, EXPIRED);
        await chown(authFile, 1000, 1000);
        const source = createTokenSource(authFile, { tokenUrl: endpoint.url });
        await source.getToken();
        assert.equal(endpoint.successes, 1);
        const info = await stat(authFile);
        assert.equal(
          (await fileTokens(authFile)).refresh_token,
          endpoint.latestRefreshToken,
        );
        assert.equal(info.uid, 1000);
        assert.equal(info.gid, 1000);
        assert.equal(info.mode & 0o777, 0o600);
      } finally {
        await endpoint.close();
        await dir.cleanup();
      }
    },
  );
});

describe("write-back into a single-file bind mount", () => {
  it(
    "writes in place and never sends the spent refresh token",
    { skip: bindMountSkip(), timeout: 60_000 },
    async () => {
      const dir = await tempDir("auth-bind-");
      const endpoint = await startFakeTokenEndpoint({
        refreshTokens: ["rt_initial"],
      });
      try {
        // The host's file and the container's folder, where auth.json is the
        // mount point of the host's file.
        const hostFile = dir.file("host-auth.json");
        await writeAuth(hostFile, EXPIRED);
        await chown(hostFile, 1000, 1000);
        const inner = dir.file("container");
        await mkdir(inner);
        const innerFile = `${inner}/auth.json`;
        await writeAuth(innerFile, {});
        const child = scriptCommand(
          "./fixtures/auth_bind_mount_child",
          import.meta.url,
        );
        const result = await run("unshare", [
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          'mount --bind "$1" "$2" || exit 97; shift 2; exec "$@"',
          "sh",
          hostFile,
          innerFile,
          child.command,
          ...child.args,
          innerFile,
          endpoint.url,
        ]);
        assert.notEqual(result.code, 97, `mount failed: ${result.stderr}`);
        const outcome = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
        assert.equal(outcome.ok, true, JSON.stringify(outcome));
        assert.equal(result.code, 0, result.stderr);
        // The rename was refused (the mount point), so the file was
        // written in place, and said so once.
        assert.equal(outcome.warnings.length, 1, outcome.warnings.join("\n"));
        assert.match(outcome.warnings[0], /in place/);
        const sent = sentRefreshTokens(endpoint);
        assert.equal(sent.length, 2);
        assert.equal(sent[0], "rt_initial");
        assert.notEqual(sent[1], "rt_initial", "the spent token is not sent");
        assert.deepEqual(endpoint.requests.map((r) => r.status), [200, 200]);
        // Seen from the host: the newest tokens, same owner, mode 0600.
        const tokens = await fileTokens(hostFile);
        assert.equal(tokens.refresh_token, endpoint.latestRefreshToken);
        assert.equal(tokens.access_token, endpoint.latestAccessToken);
        assert.equal(outcome.second, endpoint.latestAccessToken);
        const info = await stat(hostFile);
        assert.equal(info.uid, 1000);
        assert.equal(info.gid, 1000);
        assert.equal(info.mode & 0o777, 0o600);
        assert.deepEqual((await readdir(inner)).sort(), ["auth.json"]);
      } finally {
        await endpoint.close();
        await dir.cleanup();
      }
    },
  );
});

function run(
  command: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => (stdout += chunk));
    child.stderr.on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout, stderr }));
  });
}
