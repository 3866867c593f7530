// Account errors that end a login (issue 21): token_invalidated,
// token_revoked (after one refresh), 402 deactivated_workspace, 403
// account_deactivated and other non-Cloudflare 403s, usage_not_included take
// the login out of rotation in a named state; the pool serves from the
// others without a failed byte; a single login answers 503 with a stable
// code without asking the backend again; the seller gets one log line per
// change naming the login and what to do; /health, /metrics and the login
// statuses show the state; a new auth.json brings the login back. A
// Cloudflare challenge marks no login.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import type {
  FakeAccountError,
  FakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import { createServerHandler } from "../src/serve/handler.ts";
import { callProvider } from "./fakes/seller_node.ts";
import {
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const WORK = "acct_state_work";
const HOME = "acct_state_home";

let backend: FakeCodexBackend;
let dir: TempDir;
let round = 0;

/** A fresh `<home>/accounts/` with the logins `work` (and `home`). */
async function accountsHome(names: string[]): Promise<string> {
  const home = dir.file(`home${round++}`);
  for (const name of names) {
    const folder = `${home}/accounts/${name}`;
    await mkdir(folder, { recursive: true, mode: 0o700 });
    const accountId = name === "work" ? WORK : HOME;
    await writeAuth(`${folder}/auth.json`, {
      accountId,
      exp: epochIn(3600),
      refreshToken: `rt_${accountId}`,
    });
  }
  return home;
}

interface Seller {
  provider: OpenAIResponsesProvider;
  lines: string[];
  home: string;
}

async function seller(
  names: string[],
  tokenUrl = "http://127.0.0.1:9/oauth/token",
): Promise<Seller> {
  const home = await accountsHome(names);
  const lines: string[] = [];
  const provider = createProvider({
    OPENAI_RESPONSES_HOME: home,
    OPENAI_RESPONSES_AUTH_FILE: "",
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: tokenUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, {
    random: () => 0,
    onLog: (line) => lines.push(line),
    onWarning: () => {},
  });
  return { provider, lines, home };
}

function ask(provider: OpenAIResponsesProvider, stream = false) {
  return callProvider(provider, {
    body: { model: "gpt-5.4", input: "Hi", stream },
  });
}

function calls(accountId: string): number {
  return backend.requests.filter((request) =>
    request.path.endsWith("/codex/responses") &&
    request.headers["chatgpt-account-id"] === accountId
  ).length;
}

function stateLines(lines: string[]): string[] {
  return lines.filter((line) => /^login \w+: /.test(line));
}

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await tempDir("login-states-");
});
after(async () => {
  await backend.close();
  await dir.cleanup();
});
beforeEach(() => backend.reset());

/** Each account error, the state it gives and the single login's 503 code. */
const CASES: Array<[FakeAccountError, string, string]> = [
  ["deactivated_workspace", "deactivated", "upstream_workspace_deactivated"],
  ["account_deactivated", "deactivated", "upstream_account_deactivated"],
  ["phone_verification_required", "blocked", "upstream_forbidden"],
  ["usage_not_included", "no_codex_access", "usage_not_included"],
];

describe("account errors that end a login: one login", () => {
  for (const [error, state, code] of CASES) {
    it(`${error}: state ${state}, 503 ${code}, then no upstream call`, async () => {
      const { provider, lines } = await seller(["work"]);
      backend.endAccount(WORK, error);
      const first = await ask(provider);
      assert.equal(first.status, 503, first.text);
      assert.equal(JSON.parse(first.text).error.code, code);
      const called = calls(WORK);
      const second = await ask(provider, true);
      assert.equal(second.status, 503, second.text);
      assert.equal(JSON.parse(second.text).error.code, code);
      assert.equal(calls(WORK), called, "no upstream call while out");
      assert.equal((await provider.logins())[0].state, state);
      const said = stateLines(lines);
      assert.equal(said.length, 1, said.join("\n"));
      assert.match(said[0], new RegExp(`^login work: ${state}: `));
      assert.match(said[0], /provider-openai-responses login --name work/);
      assert.doesNotMatch(said[0], /@|rt_|eyJ/);
    });
  }

  for (const error of ["token_invalidated", "token_revoked"] as const) {
    it(`${error}: one refresh, then needs_login and 503 upstream_auth_failed`, async () => {
      const endpoint = await startFakeTokenEndpoint({
        accountId: WORK,
        refreshTokens: [`rt_${WORK}`],
      });
      try {
        const { provider, lines } = await seller(["work"], endpoint.url);
        backend.endAccount(WORK, error);
        const first = await ask(provider);
        assert.equal(first.status, 503, first.text);
        assert.equal(JSON.parse(first.text).error.code, "upstream_auth_failed");
        assert.equal(calls(WORK), 2, "a 401, one refresh, a 401 again");
        const second = await ask(provider);
        assert.equal(
          JSON.parse(second.text).error.code,
          "upstream_auth_failed",
        );
        assert.equal(calls(WORK), 2, "no upstream call while out");
        assert.equal((await provider.logins())[0].state, "needs_login");
        const said = stateLines(lines);
        assert.equal(said.length, 1, said.join("\n"));
        assert.match(
          said[0],
          /^login work: needs_login: .*run "provider-openai-responses login --name work --force"/,
        );
      } finally {
        await endpoint.close();
      }
    });
  }

  it("a bare 401 that outlives its refresh answers 503 but leaves the login in rotation (as the real node's run expects)", async () => {
    let refusing = true;
    const strict = await startFakeCodexBackend({
      acceptToken: () => !refusing,
    });
    const endpoint = await startFakeTokenEndpoint({
      accountId: WORK,
      refreshTokens: [`rt_${WORK}`],
    });
    try {
      const home = await accountsHome(["work"]);
      const provider = createProvider({
        OPENAI_RESPONSES_HOME: home,
        OPENAI_RESPONSES_AUTH_FILE: "",
        OPENAI_RESPONSES_BASE_URL: strict.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
      const refused = await ask(provider);
      assert.equal(refused.status, 503, refused.text);
      assert.equal(JSON.parse(refused.text).error.code, "upstream_auth_failed");
      assert.notEqual((await provider.logins())[0].state, "needs_login");
      refusing = false;
      const served = await ask(provider);
      assert.equal(served.status, 200, served.text);
    } finally {
      await strict.close();
      await endpoint.close();
    }
  });

  it("usage_not_included inside a 200 stream ends the login too", async () => {
    const { provider, lines } = await seller(["work"]);
    backend.enqueue({ kind: "failed", code: "usage_not_included" });
    const first = await ask(provider);
    assert.equal(first.status, 503, first.text);
    assert.equal(JSON.parse(first.text).error.code, "usage_not_included");
    assert.equal((await provider.logins())[0].state, "no_codex_access");
    const second = await ask(provider);
    assert.equal(JSON.parse(second.text).error.code, "usage_not_included");
    assert.equal(calls(WORK), 1, "no upstream call while out");
    assert.equal(stateLines(lines).length, 1, stateLines(lines).join("\n"));
  });

  it("requests failing at once on one login give one line", async () => {
    const { provider, lines } = await seller(["work"]);
    backend.endAccount(WORK, "account_deactivated");
    const results = await Promise.all([1, 2, 3, 4].map(() => ask(provider)));
    for (const result of results) assert.equal(result.status, 503);
    assert.ok(calls(WORK) >= 2, "several were in flight at once");
    assert.equal(stateLines(lines).length, 1, stateLines(lines).join("\n"));
  });

  it("a Cloudflare challenge is upstream_blocked and marks no login", async () => {
    const { provider, lines } = await seller(["work"]);
    backend.endAccount(WORK, "cloudflare");
    const first = await ask(provider);
    assert.equal(JSON.parse(first.text).error.code, "upstream_blocked");
    assert.equal((await provider.logins())[0].state, "ok");
    await ask(provider);
    assert.equal(calls(WORK), 2, "the login stays in rotation");
    assert.deepEqual(stateLines(lines), []);
  });

  it("a new auth.json brings the login back, with one line", async () => {
    const { provider, lines, home } = await seller(["work"]);
    backend.endAccount(WORK, "account_deactivated");
    assert.equal((await ask(provider)).status, 503);
    backend.endAccount(WORK, undefined);
    // The seller logs in again: other tokens in the file.
    await writeAuth(`${home}/accounts/work/auth.json`, {
      accountId: WORK,
      exp: epochIn(3600),
      refreshToken: "rt_new_login",
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // The host's capacity poll notices the new login.
    provider.getCapacity();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await provider.logins())[0].state, "ok");
    const back = await ask(provider);
    assert.equal(back.status, 200, back.text);
    assert.equal((await provider.logins())[0].state, "ok");
    const said = stateLines(lines);
    assert.equal(said.length, 2, said.join("\n"));
    assert.match(said[1], /^login work: back in rotation/);
  });

  it("a request notices a new login without a capacity poll", async () => {
    const { provider, home } = await seller(["work"]);
    backend.endAccount(WORK, "account_deactivated");
    assert.equal((await ask(provider)).status, 503);
    backend.endAccount(WORK, undefined);
    await writeAuth(`${home}/accounts/work/auth.json`, {
      accountId: WORK,
      exp: epochIn(3600),
      refreshToken: "rt_new_login_2",
    });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const back = await ask(provider);
    assert.equal(back.status, 200, back.text);
  });

  it("the same auth.json keeps the login out", async () => {
    const { provider } = await seller(["work"]);
    backend.endAccount(WORK, "deactivated_workspace");
    assert.equal((await ask(provider)).status, 503);
    backend.endAccount(WORK, undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.equal((await ask(provider)).status, 503);
    assert.equal(calls(WORK), 1);
  });
});

describe("account errors that end a login: a pool", () => {
  it("serves from the other login without a failed byte, and shows the state", async () => {
    const { provider, lines } = await seller(["home", "work"]);
    backend.endAccount(WORK, "account_deactivated");
    for (let i = 0; i < 4; i++) {
      const result = await ask(provider, i % 2 === 0);
      assert.equal(result.status, 200, result.text);
      assert.doesNotMatch(result.text, /response\.failed|"error":\{/);
    }
    assert.ok(calls(WORK) <= 1, "the deactivated login is tried once at most");
    assert.equal(calls(HOME) >= 3, true);
    const states = Object.fromEntries(
      (await provider.logins()).map((login) => [login.name, login.state]),
    );
    assert.deepEqual(states, { home: "ok", work: "deactivated" });
    const said = stateLines(lines);
    assert.ok(said.length <= 1, said.join("\n"));

    // /metrics: the gauge names the state.
    assert.match(
      provider.metrics(),
      /openai_responses_login_up\{login="work",state="deactivated"\} 0/,
    );
    // /health: each login's state.
    const handler = createServerHandler(provider);
    const health = await (await handler(
      new Request("http://127.0.0.1/health"),
    )).json();
    const work = health.logins.find((login: { name: string }) =>
      login.name === "work"
    );
    assert.equal(work.state, "deactivated");
    assert.match(work.usageUnavailable, /^deactivated: /);
    assert.equal(health.status, "ok", "another login serves");
  });

  it("answers the shared code when every login is out for the same reason", async () => {
    const { provider } = await seller(["home", "work"]);
    backend.endAccount(WORK, "usage_not_included");
    backend.endAccount(HOME, "usage_not_included");
    const first = await ask(provider);
    assert.equal(first.status, 503, first.text);
    assert.equal(JSON.parse(first.text).error.code, "usage_not_included");
    const before = backend.requests.length;
    const second = await ask(provider);
    assert.equal(JSON.parse(second.text).error.code, "usage_not_included");
    assert.equal(backend.requests.length, before);
    const health = await (await createServerHandler(provider)(
      new Request("http://127.0.0.1/health"),
    )).json();
    assert.equal(health.status, "unavailable");
    const capacity = provider.getCapacity();
    assert.equal(
      capacity.current,
      capacity.max,
      "a pool with none left is full",
    );
    assert.deepEqual(
      health.logins.map((login: { state: string }) => login.state),
      ["no_codex_access", "no_codex_access"],
    );
  });
});
