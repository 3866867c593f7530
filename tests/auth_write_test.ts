import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { CredentialsError } from "../src/errors.ts";
import {
  formatLastRefresh,
  mergeRefreshedTokens,
  recoverInterruptedWrite,
  writeAuthFile,
} from "../src/auth/write.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import { type TempDir, tempDir, writeAuth } from "./fixtures/auth_helpers.ts";

let dir: TempDir;
let serial = 0;
before(async () => {
  dir = await tempDir("auth-write-");
});
after(async () => {
  await dir.cleanup();
});

async function sub(): Promise<string> {
  const path = dir.file(`case_${++serial}`);
  await mkdir(path);
  return path;
}

describe("formatLastRefresh", () => {
  it("writes RFC 3339 UTC with microseconds like the Codex CLI", () => {
    assert.equal(
      formatLastRefresh(Date.UTC(2026, 0, 2, 3, 4, 5, 123)),
      "2026-01-02T03:04:05.123000Z",
    );
    assert.match(
      formatLastRefresh(Date.now()),
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/,
    );
  });

  it("keeps sub-millisecond precision when the clock has it", () => {
    assert.equal(
      formatLastRefresh(Date.UTC(2026, 0, 2, 3, 4, 5, 123) + 0.456),
      "2026-01-02T03:04:05.123456Z",
    );
  });
});

describe("mergeRefreshedTokens", () => {
  const document = {
    auth_mode: "chatgpt",
    OPENAI_API_KEY: null,
    tokens: {
      id_token: "id_old",
      access_token: "access_old",
      refresh_token: "rt_old",
      account_id: "acct_1",
      token_extra: "kept",
    },
    last_refresh: "2020-01-01T00:00:00.000000Z",
    future_top_level: [1, 2],
  };

  it("replaces the returned tokens and keeps every other field", () => {
    const next = mergeRefreshedTokens(document, {
      accessToken: "access_new",
      refreshToken: "rt_new",
      idToken: "id_new",
    }, { now: Date.UTC(2026, 0, 1) });
    assert.deepEqual(next, {
      ...document,
      tokens: {
        id_token: "id_new",
        access_token: "access_new",
        refresh_token: "rt_new",
        account_id: "acct_1",
        token_extra: "kept",
      },
      last_refresh: "2026-01-01T00:00:00.000000Z",
    });
  });

  it("keeps the old value of a token the endpoint did not return", () => {
    const next = mergeRefreshedTokens(document, { accessToken: "access_new" });
    const tokens = next.tokens as Record<string, unknown>;
    assert.equal(tokens.refresh_token, "rt_old");
    assert.equal(tokens.id_token, "id_old");
    assert.equal(tokens.access_token, "access_new");
  });

  it("fills a missing account id", () => {
    const next = mergeRefreshedTokens(
      { tokens: { access_token: "a", account_id: null } },
      {},
      { accountId: "acct_claim" },
    );
    assert.equal(
      (next.tokens as Record<string, unknown>).account_id,
      "acct_claim",
    );
  });

  it("does not change its input", () => {
    const copy = structuredClone(document);
    mergeRefreshedTokens(document, { accessToken: "x", refreshToken: "y" });
    assert.deepEqual(document, copy);
  });
});

describe("writeAuthFile", () => {
  it("replaces the file with the new document", async () => {
    const path = `${await sub()}/auth.json`;
    await writeFile(path, "{}", { mode: 0o600 });
    await writeAuthFile(path, { tokens: { refresh_token: "rt_2" }, x: 1 });
    assert.deepEqual(JSON.parse(await readFile(path, "utf8")), {
      tokens: { refresh_token: "rt_2" },
      x: 1,
    });
  });

  it("creates the file with mode 0600", async () => {
    const path = `${await sub()}/auth.json`;
    await writeAuthFile(path, { a: 1 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it("narrows a wider mode to 0600", async () => {
    const path = `${await sub()}/auth.json`;
    await writeFile(path, "{}");
    await chmod(path, 0o644);
    await writeAuthFile(path, { a: 1 });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it("keeps a stricter mode", async () => {
    const path = `${await sub()}/auth.json`;
    await writeFile(path, "{}");
    await chmod(path, 0o400);
    await writeAuthFile(path, { a: 1 });
    assert.equal((await stat(path)).mode & 0o777, 0o400);
  });

  it("writes through a symlink and keeps the link", async () => {
    const folder = await sub();
    await mkdir(`${folder}/real`);
    const target = `${folder}/real/auth.json`;
    const link = `${folder}/auth.json`;
    await writeFile(target, "{}", { mode: 0o600 });
    await symlink(target, link);
    await writeAuthFile(link, { via: "link" });
    assert.equal((await lstat(link)).isSymbolicLink(), true);
    assert.equal(await readlink(link), target);
    assert.deepEqual(JSON.parse(await readFile(target, "utf8")), {
      via: "link",
    });
    assert.deepEqual(await readdir(`${folder}/real`), ["auth.json"]);
  });

  it("leaves no temp file behind", async () => {
    const folder = await sub();
    await writeAuthFile(`${folder}/auth.json`, { a: 1 });
    assert.deepEqual(await readdir(folder), ["auth.json"]);
  });

  it("removes its temp file and keeps the target when the rename fails", async () => {
    const folder = await sub();
    // A folder where the file should be: the rename over it fails.
    await mkdir(`${folder}/auth.json`);
    await assert.rejects(
      writeAuthFile(`${folder}/auth.json`, { a: 1 }),
      (error) =>
        error instanceof CredentialsError &&
        error.code === "auth_file_unwritable",
    );
    assert.deepEqual(await readdir(folder), ["auth.json"]);
    assert.equal((await stat(`${folder}/auth.json`)).isDirectory(), true);
  });

  it("removes old temp files of crashed writers", async () => {
    const folder = await sub();
    const leftover = `${folder}/.auth.json.deadbeef.tmp`;
    await writeFile(leftover, "{");
    await writeAuthFile(`${folder}/auth.json`, { a: 1 }, { staleTempMs: 0 });
    assert.deepEqual(await readdir(folder), ["auth.json"]);
  });
});

describe("recoverInterruptedWrite", () => {
  /**
   * A folder with auth.json (refresh token `rt_old`) and, one second newer,
   * the temp file a writer killed before its rename leaves (`rt_new`).
   */
  async function crashed(
    temp: Record<string, unknown> | string = makeAuthJson({
      refreshToken: "rt_new",
    }),
    name = ".auth.json.0123456789abcdef.tmp",
  ) {
    const folder = await sub();
    const authFile = `${folder}/auth.json`;
    await writeAuth(authFile, { refreshToken: "rt_old" }, { extra: 1 });
    const tempPath = `${folder}/${name}`;
    await writeFile(
      tempPath,
      typeof temp === "string" ? temp : JSON.stringify(temp),
      { mode: 0o600 },
    );
    const later = new Date(Date.now() + 1000);
    await utimes(tempPath, later, later);
    return { folder, authFile, tempPath };
  }

  async function refreshTokenOf(authFile: string): Promise<string> {
    return JSON.parse(await readFile(authFile, "utf8")).tokens.refresh_token;
  }

  it("renames a complete, newer temp file with a new refresh token over auth.json", async () => {
    const { folder, authFile } = await crashed();
    assert.equal(await recoverInterruptedWrite(authFile), true);
    assert.equal(await refreshTokenOf(authFile), "rt_new");
    assert.deepEqual(await readdir(folder), ["auth.json"]);
    assert.equal((await stat(authFile)).mode & 0o777, 0o600);
  });

  it("takes the newest of several temp files", async () => {
    const { folder, authFile } = await crashed();
    const newer = `${folder}/.auth.json.fedcba9876543210.tmp`;
    await writeFile(
      newer,
      JSON.stringify(makeAuthJson({ refreshToken: "rt_newest" })),
    );
    const later = new Date(Date.now() + 2000);
    await utimes(newer, later, later);
    assert.equal(await recoverInterruptedWrite(authFile), true);
    assert.equal(await refreshTokenOf(authFile), "rt_newest");
  });

  it("leaves auth.json alone when the temp file is cut off", async () => {
    const text = JSON.stringify(makeAuthJson({ refreshToken: "rt_new" }));
    const { authFile, tempPath } = await crashed(text.slice(0, 80));
    assert.equal(await recoverInterruptedWrite(authFile), false);
    assert.equal(await refreshTokenOf(authFile), "rt_old");
    assert.ok((await stat(tempPath)).isFile(), "the temp file is left");
  });

  it("leaves auth.json alone when it was written after the temp file", async () => {
    const { authFile } = await crashed();
    const latest = new Date(Date.now() + 5000);
    await utimes(authFile, latest, latest);
    assert.equal(await recoverInterruptedWrite(authFile), false);
    assert.equal(await refreshTokenOf(authFile), "rt_old");
  });

  it("leaves auth.json alone when the temp file is another account's or holds no new refresh token", async () => {
    for (
      const temp of [
        makeAuthJson({ refreshToken: "rt_new", accountId: "acct_other" }),
        makeAuthJson({ refreshToken: "rt_old" }),
        { tokens: { access_token: "a" } },
      ]
    ) {
      const { authFile } = await crashed(temp);
      assert.equal(await recoverInterruptedWrite(authFile), false);
      assert.equal(await refreshTokenOf(authFile), "rt_old");
    }
  });

  it("does not bring back a login whose auth.json was deleted", async () => {
    const { folder, authFile } = await crashed();
    await unlink(authFile);
    assert.equal(await recoverInterruptedWrite(authFile), false);
    assert.deepEqual(await readdir(folder), [
      ".auth.json.0123456789abcdef.tmp",
    ]);
  });

  it("ignores files that only look alike", async () => {
    const { folder, authFile } = await crashed(
      makeAuthJson({ refreshToken: "rt_new" }),
      "auth.json.0123.tmp",
    );
    assert.equal(await recoverInterruptedWrite(authFile), false);
    assert.equal(await refreshTokenOf(authFile), "rt_old");
    assert.equal((await readdir(folder)).length, 2);
  });

  it("writes through a symlinked auth.json", async () => {
    const folder = await sub();
    await mkdir(`${folder}/real`);
    const target = `${folder}/real/auth.json`;
    await writeAuth(target, { refreshToken: "rt_old" });
    await symlink(target, `${folder}/auth.json`);
    const tempPath = `${folder}/real/.auth.json.0123456789abcdef.tmp`;
    await writeFile(
      tempPath,
      JSON.stringify(makeAuthJson({ refreshToken: "rt_new" })),
    );
    const later = new Date(Date.now() + 1000);
    await utimes(tempPath, later, later);
    assert.equal(await recoverInterruptedWrite(`${folder}/auth.json`), true);
    assert.equal((await lstat(`${folder}/auth.json`)).isSymbolicLink(), true);
    assert.equal(await refreshTokenOf(target), "rt_new");
  });
});
