// `check` as a child process on a missing, corrupt, API-key-only and valid
// auth file, with --refresh against a fake token endpoint and --probe
// against the simulated backend; plus the top-level usage errors.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import {
  type FakeTokenEndpoint,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { makeAccessToken, makeAuthJson } from "../src/testing/jwt.ts";
import { type CliResult, runCliProcess } from "./fixtures/cli_process.ts";

const ACCOUNT = "acct_check_0000001234";

let folder: string;
let endpoint: FakeTokenEndpoint;
let serial = 0;

function nextFile(): string {
  serial++;
  return join(folder, `auth-${serial}.json`);
}

async function writeAuth(
  options: Parameters<typeof makeAuthJson>[0] = {},
): Promise<{ file: string; document: Record<string, unknown> }> {
  const file = nextFile();
  const document = makeAuthJson({
    accountId: ACCOUNT,
    email: "seller@example.com",
    plan: "pro",
    ...options,
  });
  await writeFile(file, JSON.stringify(document, null, 2), { mode: 0o600 });
  return { file, document };
}

function check(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return runCliProcess(["check", ...args], {
    OPENAI_RESPONSES_AUTH_FILE: file,
    OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
    // Never the real backend, even by mistake.
    OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:9/backend-api",
    ...env,
  });
}

function assertNoSecrets(
  result: CliResult,
  document?: Record<string, unknown>,
) {
  const all = result.stdout + result.stderr;
  assert.ok(!/\n\s+at /.test(all), `stack trace in output: ${all}`);
  const tokens = (document?.tokens ?? {}) as Record<string, string>;
  for (const name of ["access_token", "refresh_token", "id_token"]) {
    if (tokens[name]) assert.ok(!all.includes(tokens[name]), `${name} leaked`);
  }
  assert.ok(!all.includes(ACCOUNT), "full account id leaked");
  assert.ok(!all.includes("seller@example.com"), "full email leaked");
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), "cli-check-test-"));
  endpoint = await startFakeTokenEndpoint({
    accountId: ACCOUNT,
    email: "seller@example.com",
    plan: "pro",
  });
});

after(async () => {
  await endpoint.close();
  await rm(folder, { recursive: true, force: true });
});

describe("check on a broken login", () => {
  it("exits 1 and says how to log in when the auth file is missing", async () => {
    const result = await check(join(folder, "missing.json"));
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot read Codex credentials at .*missing\.json: file not found\. Run "codex login"/,
    );
    assertNoSecrets(result);
  });

  it("exits 1 when the auth file is not JSON", async () => {
    const file = nextFile();
    await writeFile(file, "{ not json", { mode: 0o600 });
    // An old file: no waiting for a writer that might still be busy.
    await utimes(
      file,
      new Date(Date.now() - 60_000),
      new Date(Date.now() - 60_000),
    );
    const result = await check(file);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: Cannot use Codex credentials at .*: expected JSON/,
    );
    assertNoSecrets(result);
  });

  it("exits 1 on an API-key-only login without printing the key", async () => {
    const file = nextFile();
    await writeFile(
      file,
      JSON.stringify({
        auth_mode: "apikey",
        OPENAI_API_KEY: "sk-test-SECRETKEY",
      }),
      { mode: 0o600 },
    );
    const result = await check(file);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: .*found an API-key-only login/);
    assert.ok(!(result.stdout + result.stderr).includes("sk-test-SECRETKEY"));
    assertNoSecrets(result);
  });

  it("exits 1 with the login-required message when --refresh is refused", async () => {
    const { file, document } = await writeAuth({ refreshToken: "rt_unknown" });
    const result = await check(file, ["--refresh"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: .*codex login/);
    assertNoSecrets(result, document);
  });
});

describe("check on a valid login", () => {
  it("prints the masked account, plan, masked email, expiry and next step", async () => {
    const { file, document } = await writeAuth();
    const result = await check(file);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /auth file: +.*auth-\d+\.json/);
    assert.match(result.stdout, /account: +acct…1234/);
    assert.match(result.stdout, /plan: +pro/);
    assert.match(result.stdout, /email: +s\*\*\*@example\.com/);
    assert.match(
      result.stdout,
      /access token: +expires \d{4}-\d\d-\d\dT[\d:.]+Z \(in (59 min|1 h)\)/,
    );
    assert.match(result.stdout, /last refresh: +\d{4}-\d\d-\d\dT[\d:.]+Z/);
    assert.match(
      result.stdout,
      /next: +token valid for (59 min|1 h); refreshes automatically 5 min before expiry/,
    );
    assertNoSecrets(result, document);
  });

  it("reports an expired token without refreshing it", async () => {
    const { file } = await writeAuth({
      exp: Math.floor(Date.now() / 1000) - 120,
    });
    const calls = endpoint.calls;
    const result = await check(file);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /next: +expired: will refresh on the next request/,
    );
    assert.equal(endpoint.calls, calls);
  });

  it("forces one refresh with --refresh and prints the new expiry", async () => {
    endpoint.addRefreshToken("rt_check_refresh");
    const { file, document } = await writeAuth({
      refreshToken: "rt_check_refresh",
      exp: Math.floor(Date.now() / 1000) + 1800,
    });
    const successes = endpoint.successes;
    const result = await check(file, ["--refresh"]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(endpoint.successes, successes + 1);
    assert.match(
      result.stdout,
      /refreshed: +new access token expires \d{4}-.*Z \(in (59 min|1 h)\)/,
    );
    const written = JSON.parse(await readFile(file, "utf8"));
    assert.notEqual(written.tokens.refresh_token, "rt_check_refresh");
    assertNoSecrets(result, document);
    assertNoSecrets(result, written);
  });
});

describe("check --probe", () => {
  let backend: FakeCodexBackend;
  before(async () => {
    backend = await startFakeCodexBackend();
  });
  after(async () => {
    await backend.close();
  });

  it("sends one tiny request and prints the rate-limit snapshot", async () => {
    const { file, document } = await writeAuth({
      accessToken: makeAccessToken({ accountId: ACCOUNT, plan: "pro" }),
    });
    const result = await check(file, ["--probe"], {
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /probe: +gpt-5\.5 answered 200 in \d+ ms/);
    assert.match(result.stdout, /rate limit: +primary: [\d.]+% used/);
    const probe = backend.requests.find((r) => r.method === "POST");
    assert.equal((probe?.body as { input?: unknown }).input, "ping");
    assertNoSecrets(result, document);
  });
});

describe("usage errors", () => {
  it("exits 2 on an unknown command", async () => {
    const result = await runCliProcess(["sell"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: Unknown command "sell": expected one of serve, check, demo/,
    );
  });

  it("exits 2 on an unknown flag", async () => {
    const result = await runCliProcess(["check", "--frobnicate"]);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^error: Unknown flag "--frobnicate" for "check"/,
    );
  });

  it("prints help for a command with --help and exits 0", async () => {
    const result = await runCliProcess(["check", "--help"]);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: provider-openai-responses check/);
    assert.match(result.stdout, /--refresh/);
  });
});
