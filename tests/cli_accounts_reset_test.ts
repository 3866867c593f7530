// Banked rate-limit resets on the command line and in /health, against the
// simulated backend: `accounts --usage` shows each login's resets and their
// expiry; `accounts reset --name <login>` spends one only after a "y" at the
// terminal or with --yes (never with standard input piped or closed), with
// one redeem_request_id per run that a retry reuses, and prints each
// outcome; nothing else ever spends one (listings, check, /health, a
// usage-limited request).

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import type { CliIo } from "../src/cli/io.ts";
import { runCli } from "../src/cli/main.ts";
import { createProvider } from "../src/provider/provider.ts";
import { createServerHandler } from "../src/serve/handler.ts";
import { runCliProcess } from "./fixtures/cli_process.ts";
import {
  assertNoSecrets,
  cliEnv,
  makeHomes,
  saveAccount,
  type TestAccount,
  type TestHomes,
} from "./fixtures/cli_accounts.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { findUp, IS_DENO } from "./_runtime.ts";

const PERSONAL: TestAccount = {
  accountId: "acct_personal_00001111",
  email: "personal@example.com",
  plan: "plus",
  refreshToken: "rt_resets_personal",
};
const WORK: TestAccount = {
  accountId: "acct_work_0000002222",
  email: "worker@example.com",
  plan: "pro",
  refreshToken: "rt_resets_work",
};
const IDENTITIES = [PERSONAL, WORK].flatMap((account) => [
  account.accountId,
  account.email,
]);
const DAY = 24 * 3600 * 1000;
const UUID =
  /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/;

let backend: FakeCodexBackend;
let homes: TestHomes;
const secrets: string[] = [];

before(async () => {
  backend = await startFakeCodexBackend();
  homes = await makeHomes("cli-resets-test-");
  secrets.push(...await saveAccount(homes.home, "personal", PERSONAL));
  secrets.push(...await saveAccount(homes.home, "work", WORK));
});

after(async () => {
  await backend.close();
  await homes.remove();
});

beforeEach(() => {
  backend.reset();
});

function env(): Record<string, string> {
  return cliEnv(homes, {
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
  });
}

function run(args: string[]) {
  return runCliProcess(args, env());
}

/** Runs the command line in this process, with a terminal that answers `answer`. */
async function runAsking(args: string[], answer: string | undefined) {
  let stdout = "";
  let stderr = "";
  const questions: string[] = [];
  const io: CliIo = {
    env: env(),
    stdout: (text) => void (stdout += text),
    stderr: (text) => void (stderr += text),
    listen: () => {
      throw new Error("Expected no server, found a call to listen");
    },
    onShutdownSignal: () => () => {},
    homeDir: homes.root,
    ask: (question) => {
      questions.push(question);
      return Promise.resolve(answer);
    },
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr, questions };
}

/** The personal login is limited and holds two resets; work holds none. */
function limitedWithTwo(): void {
  backend.limitAccount(PERSONAL.accountId);
  backend.setAccountResetCredits({
    credits: [
      { id: "credit_later", expiresAt: Date.now() + 20 * DAY },
      { id: "credit_soon", expiresAt: Date.now() + 3 * DAY },
    ],
  }, PERSONAL.accountId);
}

function consumeCalls() {
  return backend.requests.filter((request) =>
    request.path.endsWith("/rate-limit-reset-credits/consume")
  );
}

describe("accounts --usage and /health show the banked resets", () => {
  it("accounts --usage: a RESETS column with the count and the next expiry, and nothing spent", async () => {
    limitedWithTwo();
    const result = await run(["accounts", "--usage"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^NAME +STATE .* USAGE +RESETS$/m);
    assert.match(
      result.stdout,
      /^personal +usage-limited until .* +2 \(next expires \d{4}-\d\d-\d\d, in (2 d 23 h|3 d)\)$/m,
    );
    assert.match(result.stdout, /^work +ok .* +0$/m);
    assert.equal(consumeCalls().length, 0);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("/health of a provider: each login's resets and their expiry, and nothing spent", async () => {
    limitedWithTwo();
    const provider = createProvider({
      OPENAI_RESPONSES_HOME: homes.home,
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { onLog: () => {}, onWarning: () => {} });
    const handler = createServerHandler(provider);
    const body = await (await handler(
      new Request("http://127.0.0.1/health"),
    )).json();
    const personal = body.logins.find((login: { name: string }) =>
      login.name === "personal"
    );
    const work = body.logins.find((login: { name: string }) =>
      login.name === "work"
    );
    assert.equal(personal.resets.available, 2);
    assert.equal(personal.resets.expiresAt.length, 2);
    assert.ok(
      Date.parse(personal.resets.expiresAt[0]) <
        Date.parse(personal.resets.expiresAt[1]),
    );
    assert.deepEqual(work.resets, { available: 0, expiresAt: [] });
    assert.equal(consumeCalls().length, 0);
  });
});

describe("accounts reset: confirmation", () => {
  it("refused without --yes when standard input is not a terminal: nothing spent, exit 1", async () => {
    limitedWithTwo();
    const result = await run(["accounts", "reset", "--name", "personal"]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(
      result.stdout,
      /^login personal: 2 banked resets, the next to expire on \d{4}-.*Z \(in (2 d 23 h|3 d)\)$/m,
    );
    assert.match(
      result.stderr,
      /^error: Refusing to spend a reset without confirmation: standard input is not a terminal\. Pass --yes to spend one$/m,
    );
    assert.equal(consumeCalls().length, 0);
  });

  it("asks at the terminal; anything but y spends nothing", async () => {
    limitedWithTwo();
    for (const answer of ["", "n", "no", "maybe", "yy"]) {
      const result = await runAsking(
        ["accounts", "reset", "--name", "personal"],
        answer,
      );
      assert.equal(result.code, 1, answer);
      assert.deepEqual(result.questions, [
        "Spend one banked reset of login personal now? [y/N] ",
      ]);
      assert.match(result.stdout, /^Nothing spent\.$/m);
    }
    const refused = await runAsking(
      ["accounts", "reset", "--name", "personal"],
      undefined,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Pass --yes to spend one/);
    assert.equal(consumeCalls().length, 0);
  });

  it('"y" at the terminal spends the reset that expires first', async () => {
    limitedWithTwo();
    const result = await runAsking(
      ["accounts", "reset", "--name", "personal"],
      "y",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^reset: the usage limits of login personal were reset \(1 window\)$/m,
    );
    const [call] = consumeCalls();
    assert.equal(call.headers["chatgpt-account-id"], PERSONAL.accountId);
    assert.equal(
      (call.body as Record<string, unknown>).credit_id,
      "credit_soon",
    );
  });

  it("--yes spends without asking and prints the redeem_request_id it sent", async () => {
    limitedWithTwo();
    const result = await runAsking(
      ["accounts", "reset", "--name", "personal", "--yes"],
      "n",
    );
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.questions, []);
    const printed = result.stdout.match(/^redeem_request_id: (\S+)$/m)?.[1];
    assert.match(printed ?? "", UUID);
    assert.deepEqual(consumeCalls().map((call) => call.body), [{
      redeem_request_id: printed,
      credit_id: "credit_soon",
    }]);
  });
});

describe("accounts reset: each outcome", () => {
  it("reset, as a child process with --yes: exit 0, and the login is no longer limited", async () => {
    limitedWithTwo();
    const result = await run([
      "accounts",
      "reset",
      "--name",
      "personal",
      "--yes",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^reset: /m);
    const after = await run(["accounts", "--usage"]);
    assert.match(after.stdout, /^personal +ok .* +1 \(next expires/m);
    assertNoSecrets(result, secrets, IDENTITIES);
  });

  it("nothing_to_reset: the login is not limited, no reset spent, exit 0", async () => {
    backend.setAccountResetCredits({ credits: [{ id: "c1" }] }, WORK.accountId);
    const result = await runAsking(
      ["accounts", "reset", "--name", "work", "--yes"],
      undefined,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^nothing_to_reset: login work is not usage-limited; no reset was spent$/m,
    );
  });

  it("no_credit: no banked reset, so nothing is asked or sent, exit 1", async () => {
    backend.limitAccount(WORK.accountId);
    const result = await runAsking(
      ["accounts", "reset", "--name", "work"],
      "y",
    );
    assert.equal(result.code, 1);
    assert.match(result.stdout, /^login work: 0 banked resets$/m);
    assert.match(
      result.stdout,
      /^no_credit: login work has no banked reset to spend$/m,
    );
    assert.deepEqual(result.questions, []);
    assert.equal(consumeCalls().length, 0);
  });

  it("no_credit answered by the backend (spent elsewhere meanwhile), already_redeemed and ineligible: exit 1", async () => {
    const cases = [
      {
        script: { status: 200, body: { code: "no_credit", windows_reset: 0 } },
        line: /^no_credit: login work has no banked reset to spend$/m,
      },
      {
        script: {
          status: 200,
          body: { code: "already_redeemed", windows_reset: 0 },
        },
        line: /^already_redeemed: that reset of login work was already spent$/m,
      },
    ];
    for (const { script, line } of cases) {
      backend.reset();
      backend.limitAccount(WORK.accountId);
      backend.setAccountResetCredits({
        credits: [{ id: "c1" }],
        failures: [script],
      }, WORK.accountId);
      const result = await runAsking(
        ["accounts", "reset", "--name", "work", "--yes"],
        undefined,
      );
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, line);
    }
    backend.reset();
    backend.limitAccount(WORK.accountId);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }],
      ineligible: true,
    }, WORK.accountId);
    const result = await runAsking(
      ["accounts", "reset", "--name", "work", "--yes"],
      undefined,
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      /^ineligible: the plan of login work may not spend banked resets \(rate_limit_reset_ineligible\)$/m,
    );
  });

  it("a lost answer is retried with the run's one redeem_request_id, and one reset is spent", async () => {
    limitedWithTwo();
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }, { id: "c2" }],
      failures: [{ status: 503, afterRedeeming: true }],
    }, PERSONAL.accountId);
    const result = await runAsking(
      ["accounts", "reset", "--name", "personal", "--yes"],
      undefined,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^reset: /m);
    const printed = result.stdout.match(/^redeem_request_id: (\S+)$/m)?.[1];
    const ids = consumeCalls().map((call) =>
      (call.body as Record<string, unknown>).redeem_request_id
    );
    assert.deepEqual(ids, [printed, printed]);
    assert.equal(backend.redemptions.length, 2);
    const left = await runAsking(["accounts", "--usage"], undefined);
    assert.match(left.stdout, /^personal +ok .* +1 \(next expires/m);
  });

  it("two runs use two redeem_request_ids (one per decision)", async () => {
    limitedWithTwo();
    await runAsking(["accounts", "reset", "--name", "personal", "--yes"], "");
    backend.limitAccount(PERSONAL.accountId);
    await runAsking(["accounts", "reset", "--name", "personal", "--yes"], "");
    const ids = consumeCalls().map((call) =>
      (call.body as Record<string, unknown>).redeem_request_id
    );
    assert.equal(ids.length, 2);
    assert.notEqual(ids[0], ids[1]);
  });
});

describe("accounts reset: usage errors", () => {
  it("--name is required, and must name a login: exit 2", async () => {
    const missing = await runAsking(["accounts", "reset", "--yes"], "y");
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /^error: Missing --name: expected the login whose reset to spend, one of personal, work$/m,
    );
    const unknown = await runAsking(
      ["accounts", "reset", "--name", "nobody", "--yes"],
      "y",
    );
    assert.equal(unknown.code, 2);
    assert.match(
      unknown.stderr,
      /^error: Unknown login "nobody": expected one of personal, work/m,
    );
    const stray = await runAsking(["accounts", "reset", "extra"], "y");
    assert.equal(stray.code, 2);
    assert.equal(consumeCalls().length, 0);
  });

  it("accounts reset --help names the flags and the outcomes", async () => {
    const result = await runAsking(["accounts", "reset", "--help"], "y");
    assert.equal(result.code, 0);
    assert.match(
      result.stdout,
      /^Usage: provider-openai-responses accounts reset \[flags\]$/m,
    );
    assert.match(result.stdout, /--name <login>/);
    assert.match(result.stdout, /--yes/);
    assert.match(result.stdout, /nothing_to_reset/);
  });
});

describe("nothing spends a reset automatically", () => {
  it("check --usage (which counts them), check --probe, accounts --usage, /health and a usage-limited request send no spend", async () => {
    limitedWithTwo();
    backend.limitAccount(WORK.accountId);
    backend.setAccountResetCredits({ credits: [{ id: "w1" }] }, WORK.accountId);
    const checked = await run(["check", "--usage"]);
    const personal = checked.stdout.split(/^\n/m).find((text) =>
      /^login: +personal$/m.test(text)
    );
    assert.match(personal ?? "", /^usage: +banked resets: 2$/m);
    await run(["check", "--probe", "--model", "gpt-5.4"]);
    await run(["accounts", "--usage"]);
    const provider = createProvider({
      OPENAI_RESPONSES_HOME: homes.home,
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { onLog: () => {}, onWarning: () => {} });
    const handler = createServerHandler(provider);
    await (await handler(new Request("http://127.0.0.1/health"))).text();
    const answer = await callProvider(provider, {
      body: { model: "gpt-5.4", input: "Hi" },
    });
    assert.equal(answer.status, 429);
    await (await handler(new Request("http://127.0.0.1/health"))).text();
    assert.ok(
      backend.requests.some((request) =>
        request.path.endsWith("/rate-limit-reset-credits")
      ),
      "Expected the listings to read the banked resets",
    );
    assert.equal(consumeCalls().length, 0);
    assert.equal(backend.redemptions.length, 0);
  });

  it(
    "only accounts reset calls redeemResetCredit, and only reset_credits.ts names the consume path",
    {
      skip: !IS_DENO &&
        "the Node build is bundled; the sources are scanned on Deno",
    },
    async () => {
      const src = join(dirname(findUp("deno.json")), "src");
      const callers: string[] = [];
      const consumers: string[] = [];
      for (const entry of await readdir(src, { recursive: true })) {
        const file = String(entry);
        if (!file.endsWith(".ts") || file.startsWith("testing")) continue;
        const text = await readFile(join(src, file), "utf8");
        if (/redeemResetCredit\s*\(/.test(text)) callers.push(file);
        if (text.includes("/consume")) consumers.push(file);
      }
      assert.deepEqual(callers.sort(), [
        join("cli", "accounts_reset.ts"),
        join("codex", "reset_credits.ts"),
      ]);
      assert.deepEqual(consumers, [join("codex", "reset_credits.ts")]);
    },
  );
});
