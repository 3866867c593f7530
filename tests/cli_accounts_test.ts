// Which logins `check` and `accounts` look at (OPENAI_RESPONSES_AUTH_FILE,
// else the accounts, else the Codex CLI's login), each rule chosen in a test
// and named in the output; `accounts` lists each login's state and plan;
// `check` over several logins; `check --usage` against the simulated
// backend's usage endpoint, and its fallback to the rate-limit headers. No
// token, full account id or full email in any output line.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { runCliProcess } from "./fixtures/cli_process.ts";
import {
  assertNoSecrets,
  cliEnv,
  makeHomes,
  saveAccount,
  type TestAccount,
  type TestHomes,
  writeAuthFile,
} from "./fixtures/cli_accounts.ts";

const PERSONAL: TestAccount = {
  accountId: "acct_personal_00001111",
  email: "personal@example.com",
  plan: "plus",
  refreshToken: "rt_accounts_personal",
};
const WORK: TestAccount = {
  accountId: "acct_work_0000002222",
  email: "worker@example.com",
  plan: "pro",
  refreshToken: "rt_accounts_work",
  exp: Math.floor(Date.now() / 1000) - 600,
};
const CODEX: TestAccount = {
  accountId: "acct_codex_000003333",
  email: "codex@example.com",
  plan: "team",
  refreshToken: "rt_accounts_codex",
};
const FILE: TestAccount = {
  accountId: "acct_file_0000004444",
  email: "file@example.com",
  plan: "business",
  refreshToken: "rt_accounts_file",
};
const IDENTITIES = [PERSONAL, WORK, CODEX, FILE].flatMap((account) => [
  account.accountId,
  account.email,
]);

let endpoint: FakeTokenEndpoint;
const secrets: string[] = [];

function run(
  homes: TestHomes,
  args: string[],
  extra: Record<string, string> = {},
) {
  return runCliProcess(
    args,
    cliEnv(homes, { OPENAI_RESPONSES_TOKEN_URL: endpoint.url, ...extra }),
  );
}

before(async () => {
  endpoint = await startFakeTokenEndpoint({
    accountId: WORK.accountId,
    email: WORK.email,
    plan: WORK.plan,
  });
});

after(async () => {
  await endpoint.close();
});

describe("the three rules", () => {
  let homes: TestHomes;
  let fileLogin: string;
  before(async () => {
    homes = await makeHomes("cli-rules-test-");
    secrets.push(
      ...await writeAuthFile(join(homes.codexHome, "auth.json"), CODEX),
    );
    fileLogin = join(homes.root, "elsewhere.json");
    secrets.push(...await writeAuthFile(fileLogin, FILE));
  });
  after(async () => {
    await homes.remove();
  });

  it("codex_home: no OPENAI_RESPONSES_AUTH_FILE and no account, so check reads $CODEX_HOME/auth.json", async () => {
    const result = await run(homes, ["check"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^rule: +codex_home \(OPENAI_RESPONSES_AUTH_FILE is unset and .*provider-home\/accounts holds no account: the Codex CLI's login\)$/m,
    );
    assert.match(result.stdout, /^logins: +codex$/m);
    assert.match(result.stdout, /^auth file: +.*codex-home\/auth\.json$/m);
    assert.match(result.stdout, /^plan: +team$/m);
    assert.match(result.stdout, /^email: +c\*\*\*@example\.com$/m);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("accounts: once an account exists, check reads every account and no longer the Codex CLI's login", async () => {
    secrets.push(...await saveAccount(homes.home, "personal", PERSONAL));
    secrets.push(...await saveAccount(homes.home, "work", WORK));
    const result = await run(homes, ["check"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^rule: +accounts \(OPENAI_RESPONSES_AUTH_FILE is unset: every account in .*provider-home\/accounts\)$/m,
    );
    assert.match(result.stdout, /^logins: +personal, work$/m);
    const sections = result.stdout.split(/^\n/m);
    const personal = sections.find((text) => /^login: +personal$/m.test(text));
    const work = sections.find((text) => /^login: +work$/m.test(text));
    assert.ok(personal && work, result.stdout);
    assert.match(personal, /^email: +p\*\*\*@example\.com$/m);
    assert.match(personal, /^plan: +plus$/m);
    assert.match(
      personal,
      /^access token: +expires \d{4}-.*Z \(in (59 min|1 h)\)$/m,
    );
    assert.match(work, /^email: +w\*\*\*@example\.com$/m);
    assert.match(work, /^plan: +pro$/m);
    assert.match(work, /^next: +expired: will refresh on the next request$/m);
    assert.doesNotMatch(result.stdout, /codex-home/);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("auth_file: OPENAI_RESPONSES_AUTH_FILE wins over the accounts", async () => {
    const result = await run(homes, ["check"], {
      OPENAI_RESPONSES_AUTH_FILE: fileLogin,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^rule: +auth_file \(OPENAI_RESPONSES_AUTH_FILE names 1 file\)$/m,
    );
    assert.match(result.stdout, /^logins: +file1$/m);
    assert.match(result.stdout, /^auth file: +.*elsewhere\.json$/m);
    assert.match(result.stdout, /^plan: +business$/m);
    assert.doesNotMatch(
      result.stdout,
      /personal|provider-home\/accounts\/work/,
    );
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("auth_file with several paths: each is checked as file1, file2", async () => {
    const result = await run(homes, ["check"], {
      OPENAI_RESPONSES_AUTH_FILE: `${fileLogin}, ${
        join(homes.codexHome, "auth.json")
      }`,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /names 2 files\)$/m);
    assert.match(result.stdout, /^logins: +file1, file2$/m);
    assert.match(result.stdout, /^login: +file1$/m);
    assert.match(result.stdout, /^login: +file2$/m);
    assertNoSecrets(result, secrets, IDENTITIES);
  });
});

describe("accounts", () => {
  let homes: TestHomes;
  before(async () => {
    homes = await makeHomes("cli-accounts-test-");
    secrets.push(...await saveAccount(homes.home, "personal", PERSONAL));
    secrets.push(...await saveAccount(homes.home, "work", WORK));
    await mkdir(join(homes.home, "accounts", "broken"), { mode: 0o700 });
    await writeFile(
      join(homes.home, "accounts", "broken", "auth.json"),
      JSON.stringify({ auth_mode: "apikey", OPENAI_API_KEY: "sk-test-SECRET" }),
      { mode: 0o600 },
    );
    secrets.push("sk-test-SECRET");
  });
  after(async () => {
    await homes.remove();
  });

  it("lists every login with its state, plan, masked email and expiry, and why one cannot be used", async () => {
    const result = await run(homes, ["accounts"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^rule: +accounts \(/m);
    assert.match(
      result.stdout,
      /^NAME +STATE +PLAN +EMAIL +ACCOUNT +EXPIRES$/m,
    );
    assert.match(
      result.stdout,
      /^broken +login required +- +- +- +-$/m,
    );
    assert.match(
      result.stdout,
      /^personal +ok +plus +p\*\*\*@example\.com +acct…1111 +in (59 min|1 h)$/m,
    );
    assert.match(
      result.stdout,
      /^work +expired, will refresh +pro +w\*\*\*@example\.com +acct…2222 +(9|10) min ago$/m,
    );
    assert.match(
      result.stdout,
      /^broken: .*found an API-key-only login.*\. Log in again: "provider-openai-responses login --name broken --force"$/m,
    );
    assert.equal(endpoint.calls, 0, "listing refreshes nothing");
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("check over several logins checks each, and exits 1 naming the one that cannot be used", async () => {
    const result = await run(homes, ["check"]);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^logins: +broken, personal, work$/m);
    assert.match(result.stdout, /^error: +.*found an API-key-only login/m);
    assert.match(result.stdout, /^email: +p\*\*\*@example\.com$/m);
    assert.match(result.stdout, /^email: +w\*\*\*@example\.com$/m);
    assert.match(
      result.stderr,
      /^error: Expected every login to be usable, found 1 of 3 that cannot be: broken \(see their error lines above\)$/m,
    );
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("--help says what the states are and the rules", async () => {
    const result = await runCliProcess(["accounts", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: provider-openai-responses accounts/);
    assert.match(result.stdout, /--usage/);
    assert.match(result.stdout, /OPENAI_RESPONSES_AUTH_FILE/);
  });
});

describe("the usage endpoint", () => {
  let homes: TestHomes;
  let backend: FakeCodexBackend;
  before(async () => {
    homes = await makeHomes("cli-usage-test-");
    backend = await startFakeCodexBackend();
    secrets.push(...await saveAccount(homes.home, "personal", PERSONAL));
    secrets.push(
      ...await saveAccount(homes.home, "work", {
        ...WORK,
        exp: Math.floor(Date.now() / 1000) + 3600,
      }),
    );
  });
  after(async () => {
    await backend.close();
    await homes.remove();
  });

  function withBackend(args: string[]) {
    return run(homes, args, { OPENAI_RESPONSES_BASE_URL: backend.baseUrl });
  }

  it("check --usage prints plan, windows and credits of each login", async () => {
    backend.reset();
    backend.setAccountUsage({
      credits: { hasCredits: true, unlimited: false, balance: "12.50" },
    }, PERSONAL.accountId);
    const result = await withBackend(["check", "--usage"]);
    assert.equal(result.code, 0, result.stderr);
    const sections = result.stdout.split(/^\n/m);
    const personal = sections.find((text) => /^login: +personal$/m.test(text))!;
    const work = sections.find((text) => /^login: +work$/m.test(text))!;
    assert.match(personal, /^usage: +plan: plus$/m);
    assert.match(
      personal,
      /^usage: +primary: 7% used of a 5 h window, resets \d{4}-.*Z \(in 2 h (29|30) min\)$/m,
    );
    assert.match(
      personal,
      /^usage: +secondary: 31% used of a 7 d window, resets \d{4}-.*Z \(in (3 d 23 h|4 d)\)$/m,
    );
    assert.match(personal, /^usage: +credits: balance 12\.50$/m);
    assert.match(work, /^usage: +plan: pro$/m);
    assert.match(work, /^usage: +credits: none$/m);
    const asked = backend.requests.filter((request) =>
      request.path === "/backend-api/wham/usage"
    ).map((request) => request.headers["chatgpt-account-id"]).sort();
    assert.deepEqual(asked, [WORK.accountId, PERSONAL.accountId].sort());
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("check --usage says when the endpoint fails, and that no rate-limit headers are known without a probe", async () => {
    backend.reset();
    backend.setAccountUsage({ status: 503 });
    const result = await withBackend(["check", "--usage"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^usage: +unavailable: Expected the account's usage from the backend's usage endpoint, found HTTP 503$/m,
    );
    assert.match(
      result.stdout,
      /^rate limit: +none known: add --probe to read the rate-limit headers of one request$/m,
    );
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("check --usage --probe falls back to the probe's rate-limit headers when the endpoint fails", async () => {
    backend.reset();
    backend.setAccountUsage({ status: 503 });
    const result = await withBackend(["check", "--usage", "--probe"]);
    assert.equal(result.code, 0, result.stderr);
    const sections = result.stdout.split(/^\n/m);
    for (const name of ["personal", "work"]) {
      const section = sections.find((text) =>
        new RegExp(`^login: +${name}$`, "m").test(text)
      )!;
      assert.match(section, /^probe: +gpt-5\.5 answered 200 in \d+ ms/m);
      assert.match(section, /^usage: +unavailable: .*found HTTP 503$/m);
      assert.match(
        section,
        /^usage: +showing the last rate-limit headers instead \(the probe's\)$/m,
      );
      assert.match(section, /^rate limit: +primary: 7% used of a 5 h window/m);
    }
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("accounts --usage shows an ended account's state and what to do", async () => {
    backend.reset();
    backend.endAccount(WORK.accountId, "deactivated_workspace");
    const result = await withBackend(["accounts", "--usage"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^work +deactivated +pro /m);
    assert.match(
      result.stdout,
      /^work: its ChatGPT account or workspace is deactivated \(upstream_workspace_deactivated\): log in with another account \(run "provider-openai-responses login --name work --force"\) or remove the login$/m,
    );
    assert.match(result.stdout, /^personal +ok +plus /m);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("check --probe reports the account state", async () => {
    backend.reset();
    backend.endAccount(WORK.accountId, "usage_not_included");
    const result = await withBackend(["check", "--probe"]);
    const sections = result.stdout.split(/^\n/m);
    const work = sections.find((text) => /^login: +work$/m.test(text))!;
    assert.match(work, /^probe: +gpt-5\.5 answered 503 usage_not_included: /m);
    assert.match(
      work,
      /^account state: +no_codex_access: its ChatGPT plan does not include Codex; upgrade the plan to one with Codex, then run "provider-openai-responses login --name work --force"; or remove the login$/m,
    );
    const personal = sections.find((text) => /^login: +personal$/m.test(text))!;
    assert.doesNotMatch(personal, /^account state:/m);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("accounts --usage shows a usage-limited login until its reset", async () => {
    backend.reset();
    backend.setAccountUsage({
      limitReached: true,
      primary: {
        usedPercent: 100,
        windowSeconds: 18000,
        resetAfterSeconds: 1800,
      },
    }, WORK.accountId);
    const result = await withBackend(["accounts", "--usage"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^work +usage-limited until \d{4}-\d\d-\d\dT[\d:.]+Z +pro +w\*\*\*@example\.com +acct…2222 +in (59 min|1 h) +primary 100%, secondary 31% +0$/m,
    );
    assert.match(
      result.stdout,
      /^personal +ok +plus +.* +primary 7%, secondary 31% +0$/m,
    );
    assertNoSecrets(result, secrets, IDENTITIES);
  });
});
