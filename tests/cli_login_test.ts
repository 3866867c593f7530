// `login` as a child process against the simulated issuer: the browser flow
// end to end (the test plays the browser from the printed link), a callback
// with another state, the device flow with two pending polls, an expired
// device code, --force and a second login of the same ChatGPT account. No
// token, code or full email in any output line.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import {
  type FakeIssuer,
  startFakeIssuer,
} from "../src/testing/fake_issuer.ts";
import {
  type CliProcess,
  type CliResult,
  runCliProcess,
  startCli,
} from "./fixtures/cli_process.ts";
import {
  assertNoSecrets,
  cliEnv,
  exists,
  makeHomes,
  type TestHomes,
} from "./fixtures/cli_accounts.ts";

const ACCOUNT = "acct_login_0000001234";
const EMAIL = "seller@example.com";

let homes: TestHomes;
let issuer: FakeIssuer;
/** Authorization codes the issuer redirected the browser with. */
const codes: string[] = [];

function env(extra: Record<string, string> = {}): Record<string, string> {
  return cliEnv(homes, { OPENAI_RESPONSES_AUTH_ISSUER: issuer.url, ...extra });
}

function accountFolder(name: string): string {
  return join(homes.home, "accounts", name);
}

/** Every secret the issuer handed out or received so far, and the account file's. */
async function secrets(name?: string): Promise<string[]> {
  const found = new Set<string>(codes);
  for (const request of issuer.requests) {
    for (
      const key of [
        "code",
        "code_verifier",
        "refresh_token",
        "token",
        "device_auth_id",
      ]
    ) {
      const value = request.fields[key];
      if (value) found.add(value);
    }
  }
  if (issuer.latestRefreshToken) found.add(issuer.latestRefreshToken);
  if (
    name !== undefined && await exists(join(accountFolder(name), "auth.json"))
  ) {
    const document = JSON.parse(
      await readFile(join(accountFolder(name), "auth.json"), "utf8"),
    );
    for (
      const value of Object.values(document.tokens as Record<string, string>)
    ) {
      if (value !== ACCOUNT) found.add(value);
    }
  }
  return [...found];
}

/** Waits for the printed authorize link; registers its callback port at the issuer. */
async function authorizeLink(running: CliProcess): Promise<URL> {
  const match = await running.waitForOutput(
    /^ {2}(http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize\?\S+)$/m,
  );
  const url = new URL(match[1]);
  const redirect = new URL(url.searchParams.get("redirect_uri")!);
  assert.equal(redirect.hostname, "localhost");
  assert.equal(redirect.pathname, "/auth/callback");
  issuer.registerCallbackPort(Number(redirect.port));
  return url;
}

/** Plays the browser: GETs the link without following, then the Location, after `tamper`. */
async function playBrowser(
  link: URL,
  tamper: (callback: URL) => void = () => {},
): Promise<{ status: number; text: string }> {
  const answer = await fetch(link, { redirect: "manual" });
  await answer.body?.cancel();
  assert.equal(answer.status, 302, "the issuer redirects the browser");
  const callback = new URL(answer.headers.get("location")!);
  const code = callback.searchParams.get("code");
  if (code) codes.push(code);
  tamper(callback);
  callback.hostname = "127.0.0.1";
  const visit = await fetch(callback);
  return { status: visit.status, text: await visit.text() };
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

before(async () => {
  homes = await makeHomes("cli-login-test-");
  issuer = await startFakeIssuer({
    accountId: ACCOUNT,
    email: EMAIL,
    plan: "pro",
  });
});

after(async () => {
  await issuer.close();
  await homes.remove();
});

describe("login with the browser", () => {
  it("prints the link, takes the callback, writes the account in the Codex format with modes 0700/0600", async () => {
    const running = startCli(["login", "--name", "work"], env());
    const link = await authorizeLink(running);
    assert.equal(link.searchParams.get("code_challenge_method"), "S256");
    const visit = await playBrowser(link);
    assert.equal(visit.status, 200);
    assert.match(visit.text, /Signed in/);
    const result = await running.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /No browser was opened here: open the link above/,
    );
    assert.match(
      result.stdout,
      /^Logged in as "work": s\*\*\*@example\.com, plan pro \(account acct…1234\)$/m,
    );
    assert.match(result.stdout, /^Saved in .*accounts\/work\/auth\.json$/m);

    const file = join(accountFolder("work"), "auth.json");
    assert.equal(await modeOf(join(homes.home, "accounts")), 0o700);
    assert.equal(await modeOf(accountFolder("work")), 0o700);
    assert.equal(await modeOf(file), 0o600);
    const document = JSON.parse(await readFile(file, "utf8"));
    assert.deepEqual(Object.keys(document).sort(), [
      "OPENAI_API_KEY",
      "auth_mode",
      "last_refresh",
      "tokens",
    ]);
    assert.equal(document.auth_mode, "chatgpt");
    assert.equal(document.OPENAI_API_KEY, null);
    assert.equal(document.tokens.account_id, ACCOUNT);
    assert.equal(document.tokens.refresh_token, issuer.latestRefreshToken);
    assert.match(document.tokens.id_token, /^ey/);
    assert.match(document.tokens.access_token, /^ey/);
    assert.match(
      document.last_refresh,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/,
    );
    assertNoSecrets(result, await secrets("work"), [ACCOUNT, EMAIL]);
  });

  it("answers a callback with another state 400, writes nothing, and gives up with a clear message", async () => {
    const requests = issuer.requests.length;
    const running = startCli(
      ["login", "--name", "tampered"],
      env({ OPENAI_RESPONSES_LOGIN_TIMEOUT_MS: "1500" }),
    );
    const link = await authorizeLink(running);
    const visit = await playBrowser(link, (callback) => {
      callback.searchParams.set("state", "not-this-login");
    });
    assert.equal(visit.status, 400);
    assert.equal(visit.text, "State mismatch");
    const result = await running.exited;
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Login did not complete within 1500 ms: expected the browser to come back to http:\/\/localhost:\d+\/auth\/callback with this login's state, found only callbacks with another state/,
    );
    assert.equal(await exists(accountFolder("tampered")), false);
    assert.ok(
      !issuer.requests.slice(requests).some((request) =>
        request.path === "/oauth/token"
      ),
      "the code was not exchanged",
    );
    assertNoSecrets(result, await secrets(), [ACCOUNT, EMAIL]);
  });

  it("refuses an existing account at once without --force, and replaces it with --force", async () => {
    const before = await readFile(
      join(accountFolder("work"), "auth.json"),
      "utf8",
    );
    const requests = issuer.requests.length;
    const refused = await runCliProcess(["login", "--name", "work"], env());
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^error: Cannot log in as "work": expected no account of that name, found .*accounts\/work\/auth\.json\. Add --force to replace its login/,
    );
    assert.equal(
      issuer.requests.length,
      requests,
      "nothing asked of the issuer",
    );
    assert.doesNotMatch(refused.stdout, /oauth\/authorize/);

    const running = startCli(["login", "--name", "work", "--force"], env());
    await playBrowser(await authorizeLink(running));
    const result = await running.exited;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\(replaced the previous login of "work"\)/);
    const after = await readFile(
      join(accountFolder("work"), "auth.json"),
      "utf8",
    );
    assert.notEqual(after, before);
    assert.equal(
      JSON.parse(after).tokens.refresh_token,
      issuer.latestRefreshToken,
    );
    assertNoSecrets(result, await secrets("work"), [ACCOUNT, EMAIL]);
  });

  it("is cancelled by SIGTERM while it waits for the browser, and writes nothing", async () => {
    const running = startCli(["login", "--name", "cancelled"], env());
    const link = await authorizeLink(running);
    const callback = new URL(link.searchParams.get("redirect_uri")!);
    // process.kill, not child.kill: Deno's child_process reports any child
    // it was asked to kill as killed by that signal, whatever its exit code.
    process.kill(running.child.pid!, "SIGTERM");
    const result = await running.exited;
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: Login cancelled$/m);
    assert.equal(await exists(accountFolder("cancelled")), false);
    callback.hostname = "127.0.0.1";
    await assert.rejects(fetch(callback), "the callback server is closed");
  });

  it("refuses a bad --name as a usage error", async () => {
    const result = await runCliProcess(["login", "--name", "Work/1"], env());
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: Invalid --name: expected 1 to 64 of a-z, 0-9, "\.", "_" and "-", starting with a letter or digit, found an uppercase letter/,
    );
  });
});

describe("login with a device code", () => {
  it("prints the URL and the code, polls through two pending answers, and saves the account", async () => {
    issuer.setIdentity({
      accountId: "acct_device_00005678",
      email: "device@example.com",
      plan: "plus",
    });
    issuer.setDevice({ pendingPolls: 2, interval: "1", outcome: "approve" });
    const polls = () =>
      issuer.requests.filter((request) =>
        request.path === "/api/accounts/deviceauth/token"
      ).length;
    const before = polls();
    const result = await runCliProcess(
      ["login", "--device", "--name", "headless"],
      env(),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(
      result.stdout.includes(`1. Open ${issuer.url}/codex/device`),
      result.stdout,
    );
    assert.match(result.stdout, /2\. Enter the code [A-Z0-9]{4}-[A-Z0-9]{4}/);
    assert.match(result.stdout, /The code expires in 15 min/);
    assert.match(
      result.stdout,
      /^Logged in as "headless": d\*\*\*@example\.com, plan plus \(account acct…5678\)$/m,
    );
    assert.equal(polls() - before, 3, "two pending polls, then the login");
    const document = JSON.parse(
      await readFile(join(accountFolder("headless"), "auth.json"), "utf8"),
    );
    assert.equal(document.tokens.account_id, "acct_device_00005678");
    assert.equal(
      await modeOf(join(accountFolder("headless"), "auth.json")),
      0o600,
    );
    assertNoSecrets(result, await secrets("headless"), [
      "acct_device_00005678",
      "device@example.com",
    ]);
  });

  it("gives up with a clear message when the code is never entered, and writes nothing", async () => {
    issuer.setDevice({ pendingPolls: 0, interval: "1", outcome: "expire" });
    const requests = issuer.requests.length;
    const result = await runCliProcess(
      ["login", "--device", "--name", "expired"],
      env({ OPENAI_RESPONSES_LOGIN_TIMEOUT_MS: "1500" }),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Device login did not complete within 1500 ms: expected the code to be entered at http:\/\/127\.0\.0\.1:\d+\/codex\/device, found it still pending\. The code has expired: log in again$/m,
    );
    assert.equal(await exists(accountFolder("expired")), false);
    assert.ok(
      !issuer.requests.slice(requests).some((request) =>
        request.path === "/oauth/token"
      ),
      "nothing was exchanged",
    );
    assertNoSecrets(result, await secrets(), [ACCOUNT, EMAIL]);
  });

  it("reports a second login of a ChatGPT account already saved under another name, and saves no copy", async () => {
    issuer.setIdentity({ accountId: ACCOUNT, email: EMAIL, plan: "pro" });
    issuer.setDevice({ pendingPolls: 0, interval: "1", outcome: "approve" });
    const result = await runCliProcess(
      ["login", "--device", "--name", "again"],
      env(),
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot save the account "again": this ChatGPT account is already logged in as "work"\. Log in again as "work" with --force to renew that login, or log out of it first$/m,
    );
    assert.equal(await exists(accountFolder("again")), false);
    assertNoSecrets(result, await secrets(), [ACCOUNT, EMAIL]);
  });
});

describe("login --help", () => {
  it("lists --name, --device and --force", async () => {
    const result: CliResult = await runCliProcess(["login", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: provider-openai-responses login/);
    for (const flag of ["--name <name>", "--device", "--force"]) {
      assert.ok(result.stdout.includes(flag), flag);
    }
  });
});
