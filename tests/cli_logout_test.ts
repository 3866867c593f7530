// `logout` as a child process against the simulated issuer: the refresh
// token is revoked (the issuer saw it) and the folder removed; with the
// issuer down the folder still goes and the output says the revoke failed;
// --all; the choice of account without flags; nothing printed holds a token.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type FakeIssuer,
  startFakeIssuer,
} from "../src/testing/fake_issuer.ts";
import { runCliProcess } from "./fixtures/cli_process.ts";
import {
  assertNoSecrets,
  cliEnv,
  exists,
  makeHomes,
  saveAccount,
  type TestHomes,
} from "./fixtures/cli_accounts.ts";

let homes: TestHomes;
let issuer: FakeIssuer;
let serial = 0;

function env(): Record<string, string> {
  return cliEnv(homes, { OPENAI_RESPONSES_AUTH_ISSUER: issuer.url });
}

function folder(name: string): string {
  return join(homes.home, "accounts", name);
}

/** Saves account `name` with a refresh token of its own; returns its secrets. */
async function account(name: string): Promise<string[]> {
  serial++;
  return await saveAccount(homes.home, name, {
    accountId: `acct_logout_${String(serial).padStart(8, "0")}`,
    email: `${name}@example.com`,
    plan: "plus",
    refreshToken: `rt_logout_${name}_${serial}`,
  });
}

function logout(args: string[] = []) {
  return runCliProcess(["logout", ...args], env());
}

before(async () => {
  homes = await makeHomes("cli-logout-test-");
  issuer = await startFakeIssuer();
});

after(async () => {
  await issuer.close();
  await homes.remove();
});

describe("logout", () => {
  it("revokes the refresh token at the issuer, then removes the folder", async () => {
    const secrets = await account("work");
    const refreshToken = secrets[2];
    const result = await logout(["--name", "work"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(issuer.revokedTokens.slice(-1), [refreshToken]);
    assert.equal(await exists(folder("work")), false);
    assert.match(
      result.stdout,
      /^Logged out of "work": the issuer revoked its refresh token; removed .*accounts\/work$/m,
    );
    assertNoSecrets(result, secrets, ["work@example.com"]);
  });

  it("still removes the folder when the issuer is down, and says the revoke failed", async () => {
    const secrets = await account("offline");
    const revoked = issuer.revokedTokens.length;
    issuer.setRevokeDown(true);
    try {
      const result = await logout(["--name", "offline"]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await exists(folder("offline")), false);
      assert.equal(issuer.revokedTokens.length, revoked);
      assert.match(
        result.stdout,
        /^Logged out of "offline": removed .*accounts\/offline, but the revoke failed \(network_error\): the issuer may accept its refresh token until it expires$/m,
      );
      assertNoSecrets(result, secrets, ["offline@example.com"]);
    } finally {
      issuer.setRevokeDown(false);
    }
  });

  it("logs out of every account with --all", async () => {
    const first = await account("alpha");
    const second = await account("beta");
    const result = await logout(["--all"]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(issuer.revokedTokens.includes(first[2]));
    assert.ok(issuer.revokedTokens.includes(second[2]));
    assert.equal(await exists(folder("alpha")), false);
    assert.equal(await exists(folder("beta")), false);
    assert.match(result.stdout, /^Logged out of "alpha": /m);
    assert.match(result.stdout, /^Logged out of "beta": /m);
    assert.match(
      result.stdout,
      /^No account is left: the provider now serves from the Codex CLI's login, .*codex-home\/auth\.json$/m,
    );
    assertNoSecrets(result, [...first, ...second]);
  });

  it("logs out of the only account without flags", async () => {
    const secrets = await account("single");
    const result = await logout();
    assert.equal(result.code, 0, result.stderr);
    assert.ok(issuer.revokedTokens.includes(secrets[2]));
    assert.equal(await exists(folder("single")), false);
  });

  it("asks which account when there are several and no flag, and removes nothing", async () => {
    await account("one");
    await account("two");
    const result = await logout();
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: Which account\? Expected --name <name> or --all, found 2 accounts: one, two$/m,
    );
    assert.equal(await exists(folder("one")), true);
    assert.equal(await exists(folder("two")), true);
  });

  it("names the accounts there are when --name matches none", async () => {
    const result = await logout(["--name", "nobody"]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot log out of "nobody": expected an account of that name in .*accounts, found only one, two$/m,
    );
  });

  it("refuses --name with --all", async () => {
    const result = await logout(["--name", "one", "--all"]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /expected --name <name> or --all, found both/);
    assert.equal(await exists(folder("one")), true);
  });
});
