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
  writeFile,
} from "node:fs/promises";
import { CredentialsError } from "../src/errors.ts";
import {
  formatLastRefresh,
  mergeRefreshedTokens,
  writeAuthFile,
} from "../src/auth/write.ts";
import { type TempDir, tempDir } from "./fixtures/auth_helpers.ts";

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
