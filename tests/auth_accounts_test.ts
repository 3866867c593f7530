// The provider's own login store (<home>/accounts/<name>/auth.json) and the
// order in which the provider picks its logins.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmod,
  mkdir,
  readdir,
  readFile,
  stat,
  writeFile,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import process from "node:process";
import {
  accountAuthFile,
  accountDocument,
  defaultHome,
  listAccounts,
  parseAuthFileList,
  removeAccount,
  resolveLogins,
  saveNewAccount,
  validateAccountName,
} from "../src/auth/accounts.ts";
import { credentialsFromDocument } from "../src/auth/auth_file.ts";
import type { LoginTokens } from "../src/auth/oauth.ts";
import { AccountError } from "../src/errors.ts";
import { makeAccessToken, makeIdToken, makeJwt } from "../src/testing/jwt.ts";
import {
  assertNoSecrets,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const EMAIL = "owner@example.com";
let serial = 0;

function tokensOf(accountId: string): LoginTokens {
  serial++;
  return {
    idToken: makeIdToken({ accountId, email: EMAIL, extra: { n: serial } }),
    accessToken: makeAccessToken({ accountId, extra: { n: serial } }),
    refreshToken: `rt_accounts_${serial}`,
  };
}

function secretsOf(tokens: LoginTokens): string[] {
  return [tokens.idToken, tokens.accessToken, tokens.refreshToken, EMAIL];
}

let dir: TempDir;
let homes = 0;
before(async () => {
  dir = await tempDir("auth-accounts-");
});
after(async () => {
  await dir.cleanup();
});

function newHome(): string {
  homes++;
  return join(dir.path, `home${homes}`, ".antseed", "openai-responses");
}

function accountError(code: string) {
  return (error: unknown) => {
    assert.ok(error instanceof AccountError, `an AccountError, found ${error}`);
    assert.equal(error.code, code);
    return true;
  };
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe("account names", () => {
  it("accepts lowercase letters, digits, dot, underscore and hyphen, up to 64", () => {
    for (const name of ["a", "0", "work-2", "a.b_c", "x".repeat(64)]) {
      assert.equal(validateAccountName(name), name);
    }
  });

  it("refuses anything else with invalid_account_name, without repeating the name", () => {
    for (
      const name of [
        "",
        "Work",
        "-a",
        ".a",
        "..",
        "a/b",
        "../escape",
        "a b",
        "x".repeat(65),
        EMAIL,
      ]
    ) {
      assert.throws(() => validateAccountName(name), (error: unknown) => {
        accountError("invalid_account_name")(error);
        if (name.length > 2) {
          assert.ok(
            !(error as Error).message.includes(name),
            `the name is not repeated: ${(error as Error).message}`,
          );
        }
        return true;
      }, JSON.stringify(name));
    }
  });

  it("says which character is not allowed", () => {
    assert.throws(
      () => validateAccountName(EMAIL),
      /found the character "@"/,
    );
  });

  it("places an account at <home>/accounts/<name>/auth.json under ~/.antseed/openai-responses", () => {
    assert.equal(
      defaultHome("/home/me"),
      join("/home/me", ".antseed", "openai-responses"),
    );
    assert.equal(
      accountAuthFile("/h", "work"),
      join("/h", "accounts", "work", "auth.json"),
    );
    assert.throws(
      () => accountAuthFile("/h", "../x"),
      accountError("invalid_account_name"),
    );
  });
});

describe("saving an account", () => {
  it("writes the Codex CLI's format with folders 0700 and file 0600", async () => {
    const home = newHome();
    const tokens = tokensOf("acct_save");
    const saved = await saveNewAccount(home, "work", tokens, {
      now: Date.UTC(2026, 0, 2, 3, 4, 5, 123),
    });
    assert.deepEqual(saved, {
      name: "work",
      authFile: accountAuthFile(home, "work"),
      accountId: "acct_save",
      replaced: false,
      duplicates: [],
    });
    const text = await readFile(saved.authFile, "utf8");
    assert.equal(
      text,
      JSON.stringify(
        {
          auth_mode: "chatgpt",
          OPENAI_API_KEY: null,
          tokens: {
            id_token: tokens.idToken,
            access_token: tokens.accessToken,
            refresh_token: tokens.refreshToken,
            account_id: "acct_save",
          },
          last_refresh: "2026-01-02T03:04:05.123000Z",
        },
        null,
        2,
      ),
    );
    assert.equal(await mode(saved.authFile), 0o600);
    assert.equal(await mode(join(home, "accounts", "work")), 0o700);
    assert.equal(await mode(join(home, "accounts")), 0o700);
    assert.equal(await mode(home), 0o700);
    assert.equal(
      (await credentialsFromDocument(JSON.parse(text), saved.authFile))
        .accountId,
      "acct_save",
    );
  });

  it("sets the modes exactly whatever the umask", async () => {
    const home = newHome();
    const previous = process.umask(0o277);
    try {
      await saveNewAccount(home, "narrow", tokensOf("acct_umask"));
    } finally {
      process.umask(previous);
    }
    assert.equal(await mode(accountAuthFile(home, "narrow")), 0o600);
    assert.equal(await mode(join(home, "accounts", "narrow")), 0o700);
    assert.equal(await mode(join(home, "accounts")), 0o700);
  });

  it("narrows an existing accounts folder that is too wide", async () => {
    const home = newHome();
    await mkdir(join(home, "accounts", "wide"), { recursive: true });
    await chmod(join(home, "accounts"), 0o755);
    await chmod(join(home, "accounts", "wide"), 0o777);
    await saveNewAccount(home, "wide", tokensOf("acct_wide"));
    assert.equal(await mode(join(home, "accounts")), 0o700);
    assert.equal(await mode(join(home, "accounts", "wide")), 0o700);
  });

  it("leaves no temp file behind", async () => {
    const home = newHome();
    await saveNewAccount(home, "clean", tokensOf("acct_clean"));
    assert.deepEqual(await readdir(join(home, "accounts", "clean")), [
      "auth.json",
    ]);
  });

  it("refuses an existing name without force and keeps the old login", async () => {
    const home = newHome();
    const first = tokensOf("acct_exists");
    await saveNewAccount(home, "work", first);
    const before = await readFile(accountAuthFile(home, "work"), "utf8");
    const second = tokensOf("acct_other");
    await assert.rejects(
      saveNewAccount(home, "work", second),
      (error: unknown) => {
        accountError("account_exists")(error);
        assertNoSecrets(error, [...secretsOf(first), ...secretsOf(second)]);
        return true;
      },
    );
    assert.equal(await readFile(accountAuthFile(home, "work"), "utf8"), before);
    assert.deepEqual(await readdir(join(home, "accounts", "work")), [
      "auth.json",
    ]);
  });

  it("lets one of two simultaneous saves of a name win and refuses the other", async () => {
    const home = newHome();
    const a = tokensOf("acct_race_a");
    const b = tokensOf("acct_race_b");
    const results = await Promise.allSettled([
      saveNewAccount(home, "race", a),
      saveNewAccount(home, "race", b),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    accountError("account_exists")((lost[0] as PromiseRejectedResult).reason);
    const winner = (won[0] as PromiseFulfilledResult<{ accountId: string }>)
      .value.accountId;
    const stored = JSON.parse(
      await readFile(accountAuthFile(home, "race"), "utf8"),
    );
    assert.equal(stored.tokens.account_id, winner);
    assert.deepEqual(await readdir(join(home, "accounts", "race")), [
      "auth.json",
    ]);
  });

  it("replaces an existing name with force and says so", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_force"));
    const renewed = tokensOf("acct_force");
    const saved = await saveNewAccount(home, "work", renewed, { force: true });
    assert.equal(saved.replaced, true);
    assert.deepEqual(saved.duplicates, []);
    const stored = JSON.parse(
      await readFile(accountAuthFile(home, "work"), "utf8"),
    );
    assert.equal(stored.tokens.refresh_token, renewed.refreshToken);
    assert.equal(await mode(accountAuthFile(home, "work")), 0o600);
  });

  it("refuses a second account for the same ChatGPT account and names the first", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_dup"));
    const again = tokensOf("acct_dup");
    await assert.rejects(
      saveNewAccount(home, "work2", again, { force: true }),
      (error: unknown) => {
        accountError("account_duplicate")(error);
        assert.equal((error as AccountError).existing, "work");
        assert.match((error as Error).message, /already logged in as "work"/);
        assertNoSecrets(error, secretsOf(again));
        return true;
      },
    );
    assert.deepEqual(await listAccounts(home), ["work"]);
    await assert.rejects(stat(join(home, "accounts", "work2")));
  });

  it("saves a duplicate with allowDuplicate and reports the other account", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_dup2"));
    const saved = await saveNewAccount(home, "twin", tokensOf("acct_dup2"), {
      allowDuplicate: true,
    });
    assert.deepEqual(saved.duplicates, ["work"]);
    assert.deepEqual(await listAccounts(home), ["twin", "work"]);
  });

  it("does not count the account being renewed as a duplicate", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_renew"));
    const saved = await saveNewAccount(home, "work", tokensOf("acct_renew"), {
      force: true,
    });
    assert.deepEqual(saved.duplicates, []);
  });

  it("refuses tokens that name no ChatGPT account", async () => {
    const home = newHome();
    const tokens = {
      idToken: makeJwt({ email: EMAIL }),
      accessToken: makeJwt({ exp: 2_000_000_000 }),
      refreshToken: "rt_no_account",
    };
    await assert.rejects(
      saveNewAccount(home, "none", tokens),
      (error: unknown) => {
        accountError("account_id_missing")(error);
        assertNoSecrets(error, secretsOf(tokens));
        return true;
      },
    );
    await assert.rejects(stat(home));
  });

  it("takes account_id from the id token", async () => {
    const document = await accountDocument({
      idToken: makeIdToken({ accountId: "acct_from_id" }),
      accessToken: makeJwt({ exp: 2_000_000_000 }),
      refreshToken: "rt",
    });
    assert.equal(
      (document.tokens as Record<string, unknown>).account_id,
      "acct_from_id",
    );
  });
});

describe("listing and removing accounts", () => {
  it("lists, sorted, only folders with a valid name that hold an auth.json", async () => {
    const home = newHome();
    assert.deepEqual(await listAccounts(home), []);
    await saveNewAccount(home, "zeta", tokensOf("acct_z"));
    await saveNewAccount(home, "alpha", tokensOf("acct_a"));
    await mkdir(join(home, "accounts", "empty"));
    await mkdir(join(home, "accounts", "Upper"));
    await writeFile(join(home, "accounts", "Upper", "auth.json"), "{}");
    await writeFile(join(home, "accounts", "stray.json"), "{}");
    await mkdir(join(home, "accounts", "dir-auth", "auth.json"), {
      recursive: true,
    });
    assert.deepEqual(await listAccounts(home), ["alpha", "zeta"]);
  });

  it("removes an account's whole folder", async () => {
    const home = newHome();
    await saveNewAccount(home, "gone", tokensOf("acct_gone"));
    await writeFile(join(home, "accounts", "gone", "auth.json.lock"), "");
    await removeAccount(home, "gone");
    await assert.rejects(stat(join(home, "accounts", "gone")));
    assert.deepEqual(await listAccounts(home), []);
  });

  it("says account_not_found for an account that does not exist", async () => {
    await assert.rejects(
      removeAccount(newHome(), "nobody"),
      accountError("account_not_found"),
    );
  });

  it("refuses to remove anything outside the accounts folder", async () => {
    const home = newHome();
    await saveNewAccount(home, "keep", tokensOf("acct_keep"));
    await assert.rejects(
      removeAccount(join(home, "accounts", "keep"), ".."),
      accountError("invalid_account_name"),
    );
    assert.deepEqual(await listAccounts(home), ["keep"]);
  });
});

describe("which logins the provider uses", () => {
  it("uses OPENAI_RESPONSES_AUTH_FILE first, labelled file1, file2", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_rule1"));
    const resolved = await resolveLogins({
      authFile: " /a/auth.json , /b/auth.json,,/a/auth.json",
      home,
      homeDir: "/home/me",
    });
    assert.deepEqual(resolved, {
      rule: "auth_file",
      logins: [
        { name: "file1", authFile: "/a/auth.json" },
        { name: "file2", authFile: "/b/auth.json" },
      ],
    });
  });

  it("uses every account when there is one and no auth file is set", async () => {
    const home = newHome();
    await saveNewAccount(home, "work", tokensOf("acct_rule2a"));
    await saveNewAccount(home, "home", tokensOf("acct_rule2b"));
    const resolved = await resolveLogins({
      authFile: "  ",
      home,
      codexHome: "/codex",
      homeDir: "/home/me",
    });
    assert.deepEqual(resolved, {
      rule: "accounts",
      logins: [
        { name: "home", authFile: accountAuthFile(home, "home") },
        { name: "work", authFile: accountAuthFile(home, "work") },
      ],
    });
  });

  it("finds the accounts under the default home", async () => {
    const homeDir = join(dir.path, "default-home");
    await saveNewAccount(defaultHome(homeDir), "me", tokensOf("acct_default"));
    const resolved = await resolveLogins({ homeDir });
    assert.equal(resolved.rule, "accounts");
    assert.deepEqual(resolved.logins.map((login) => login.name), ["me"]);
  });

  it("falls back to $CODEX_HOME/auth.json, else ~/.codex/auth.json", async () => {
    const homeDir = join(dir.path, "no-accounts");
    await mkdir(join(defaultHome(homeDir), "accounts", "empty"), {
      recursive: true,
    });
    assert.deepEqual(await resolveLogins({ homeDir, codexHome: "/codex" }), {
      rule: "codex_home",
      logins: [{ name: "codex", authFile: join("/codex", "auth.json") }],
    });
    assert.deepEqual(await resolveLogins({ homeDir, codexHome: "" }), {
      rule: "codex_home",
      logins: [{
        name: "codex",
        authFile: join(homeDir, ".codex", "auth.json"),
      }],
    });
  });

  it("never labels a login with an email or a path", async () => {
    const path = join(dir.path, EMAIL, "auth.json");
    await mkdir(join(dir.path, EMAIL), { recursive: true });
    await writeAuth(path, { email: EMAIL });
    const resolved = await resolveLogins({ authFile: path, homeDir: "/h" });
    assert.deepEqual(resolved.logins.map((login) => login.name), ["file1"]);
  });

  it("drops repeats of one file however it is written", () => {
    assert.deepEqual(
      parseAuthFileList(`a/auth.json,${resolve("a/auth.json")}, b.json`),
      ["a/auth.json", "b.json"],
    );
  });
});
