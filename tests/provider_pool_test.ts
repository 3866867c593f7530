// Several logins behind one provider (OPENAI_RESPONSES_AUTH_FILE with three
// files): a usage-limited login is skipped, a conversation stays on its
// login, a limit moves it elsewhere before any byte, every login limited
// gives 429 with the earliest reset, and processes sharing a pool refresh
// each login once.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import type { FakeCodexBackend } from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { Login, NOT_INCLUDED_MEMORY } from "../src/provider/pool.ts";
import type { TokenSource } from "../src/auth/types.ts";
import { RelayError } from "../src/errors.ts";
import {
  type Child,
  epochIn,
  spawnFixture,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const ACCOUNTS = ["acct_pool_a", "acct_pool_b", "acct_pool_c"];

let backend: FakeCodexBackend;
let dir: TempDir;
let files: string[];

function pool(config: Record<string, string> = {}): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_AUTH_FILE: files.join(","),
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    ANTSEED_MAX_CONCURRENCY: "20",
    ...config,
  }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
}

function accountsCalled(): string[] {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  ).map((request) => request.headers["chatgpt-account-id"]);
}

function ask(
  p: OpenAIResponsesProvider,
  body: Record<string, unknown> = {},
) {
  return callProvider(p, { body: { model: "gpt-5.4", input: "Hi", ...body } });
}

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await tempDir("pool-");
  files = [];
  for (const [index, accountId] of ACCOUNTS.entries()) {
    const file = dir.file(`auth${index}.json`);
    await writeAuth(file, {
      accountId,
      exp: epochIn(3600),
      refreshToken: `rt_${accountId}`,
    });
    files.push(file);
  }
});
after(async () => {
  await backend.close();
  await dir.cleanup();
});
beforeEach(() => backend.reset());

describe("a pool of three logins", () => {
  it("names its logins and the rule that chose them", async () => {
    const p = pool();
    await p.init();
    assert.deepEqual(await p.loginRule(), {
      rule: "auth_file",
      names: ["file1", "file2", "file3"],
    });
    assert.deepEqual((await p.logins()).map((login) => login.state), [
      "ok",
      "ok",
      "ok",
    ]);
  });

  it("serves 60 requests with one login limited from the start, calling it at most once", async () => {
    backend.limitAccount(ACCOUNTS[0]);
    const p = pool();
    for (let i = 0; i < 60; i++) {
      const result = await ask(p);
      assert.equal(result.status, 200, `request ${i + 1}: ${result.text}`);
    }
    const called = accountsCalled();
    assert.ok(
      called.filter((account) => account === ACCOUNTS[0]).length <= 1,
      called.join(" "),
    );
    assert.equal(called.filter((a) => a !== ACCOUNTS[0]).length, 60);
    assert.equal(
      (await p.logins()).find((login) => login.name === "file1")?.state,
      "usage_limited",
    );
    assert.equal(p.getCapacity().current, 0, "the others can still serve");
  });

  it("keeps 20 requests of one conversation on one login", async () => {
    const p = pool();
    for (let i = 0; i < 20; i++) {
      // Others in between spread the load.
      await ask(p, { prompt_cache_key: `other-${i}` });
      const result = await ask(p, { prompt_cache_key: "conversation-1" });
      assert.equal(result.status, 200, result.text);
    }
    const called = accountsCalled();
    const mine = called.filter((_, index) => index % 2 === 1);
    assert.equal(new Set(mine).size, 1, mine.join(" "));
    assert.ok(new Set(called).size > 1, "the other requests spread");
  });

  it("moves a conversation whose login reached its limit, with no failed callback reaching the buyer", async () => {
    const p = pool();
    await ask(p, { prompt_cache_key: "conversation-2", stream: true });
    const home = accountsCalled()[0];
    backend.limitAccount(home);
    const result = await ask(p, {
      prompt_cache_key: "conversation-2",
      stream: true,
    });
    assert.equal(result.status, 200);
    assert.equal(result.startCalls, 1);
    assert.deepEqual(result.violations, []);
    assert.doesNotMatch(result.text, /usage_limit|response\.failed/);
    const called = accountsCalled();
    assert.equal(called[1], home, "tried on its login first");
    assert.notEqual(called[2], home, "then served elsewhere");
    // Later turns stay where they moved.
    await ask(p, { prompt_cache_key: "conversation-2" });
    assert.equal(accountsCalled()[3], called[2]);
  });

  it("answers 429 with the earliest reset when every login is limited, reports itself full, and serves again after the first reset", async () => {
    backend.limitAccount(ACCOUNTS[0], { resetsInSeconds: 7200 });
    backend.limitAccount(ACCOUNTS[1], { resetsInSeconds: 2 });
    backend.limitAccount(ACCOUNTS[2], { resetsInSeconds: 3600 });
    const p = pool();
    const first = await ask(p);
    assert.equal(first.status, 429, first.text);
    assert.equal(JSON.parse(first.text).error.code, "usage_limit_reached");
    const retryAfter = Number(first.headers["retry-after"]);
    assert.ok(retryAfter >= 1 && retryAfter <= 2, `retry-after ${retryAfter}`);
    assert.equal(accountsCalled().length, 3, "each login tried once");
    assert.equal(p.getCapacity().current, p.getCapacity().max);
    const again = await ask(p);
    assert.equal(again.status, 429);
    assert.equal(accountsCalled().length, 3, "no backend call while limited");
    await new Promise((resolve) => setTimeout(resolve, 2300));
    const served = await ask(p);
    assert.equal(served.status, 200, served.text);
    assert.equal(accountsCalled().at(-1), ACCOUNTS[1]);
    assert.equal(p.getCapacity().current, 0);
  });

  it("marks a login limited by a usage limit inside a 200 stream, and sends the next request elsewhere", async () => {
    const p = pool();
    backend.enqueue({ kind: "usage_limit_in_stream", as: "error" });
    const limited = await ask(p, { stream: true });
    assert.equal(limited.status, 200);
    assert.match(limited.text, /usage_limit_reached/);
    const [first] = accountsCalled();
    const next = await ask(p);
    assert.equal(next.status, 200, next.text);
    assert.notEqual(accountsCalled()[1], first);
  });
});

describe("processes sharing a pool", () => {
  it("refreshes each expired login exactly once across 8 processes", async () => {
    const shared = await tempDir("pool-multi-");
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_multi_a", "rt_multi_b"],
      delayMs: 100,
    });
    const children: Child[] = [];
    try {
      const logins = [shared.file("a.json"), shared.file("b.json")];
      await writeAuth(logins[0], {
        accountId: "acct_multi_a",
        exp: epochIn(-60),
        refreshToken: "rt_multi_a",
      });
      await writeAuth(logins[1], {
        accountId: "acct_multi_b",
        exp: epochIn(-60),
        refreshToken: "rt_multi_b",
      });
      for (let i = 0; i < 8; i++) {
        children.push(
          spawnFixture("pool_init_child", [logins.join(","), endpoint.url]),
        );
      }
      await Promise.all(
        children.map((child) =>
          child.waitForLine((line) => line === "ready", 30_000)
        ),
      );
      for (const child of children) child.process.stdin!.write("go\n");
      const answers = await Promise.all(
        children.map(async (child) =>
          JSON.parse(
            await child.waitForLine((line) => line.startsWith("{"), 30_000),
          )
        ),
      );
      for (const answer of answers) {
        assert.deepEqual(answer, { ok: true, states: ["ok", "ok"] });
      }
      const sent = endpoint.requests.map((request) =>
        request.fields.refresh_token
      ).sort();
      assert.deepEqual(sent, ["rt_multi_a", "rt_multi_b"]);
    } finally {
      for (const child of children) {
        if (
          child.process.exitCode === null && child.process.signalCode === null
        ) {
          child.process.kill("SIGKILL");
        }
      }
      await Promise.all(children.map((child) => child.exited));
      await endpoint.close();
      await shared.cleanup();
    }
  });
});

describe("a pool: logins that cannot serve", () => {
  it("moves on from a login whose token the backend refuses after its refresh", async () => {
    const strict = await startFakeCodexBackend({
      acceptToken: (_token, accountId) => accountId !== ACCOUNTS[0],
    });
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: [`rt_${ACCOUNTS[0]}`],
      accountId: ACCOUNTS[0],
    });
    try {
      const p = createProvider({
        OPENAI_RESPONSES_AUTH_FILE: files.join(","),
        OPENAI_RESPONSES_BASE_URL: strict.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
      }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
      for (let i = 0; i < 5; i++) {
        const result = await callProvider(p, {
          body: { model: "gpt-5.4", input: "Hi" },
        }, { skipRouting: true });
        assert.equal(result.status, 200, result.text);
      }
      const refused = strict.requests.filter((request) =>
        request.headers["chatgpt-account-id"] === ACCOUNTS[0] &&
        request.path.endsWith("/codex/responses")
      );
      assert.equal(refused.length, 2, "a 401, then one retry after a refresh");
      // A bare 401 (no token_invalidated or token_revoked) pauses the
      // login; it does not end it.
      assert.equal(
        (await p.logins())[0].state,
        "login_failed",
      );
    } finally {
      await strict.close();
      await endpoint.close();
      // The refresh rewrote the first login's file: put it back.
      await writeAuth(files[0], {
        accountId: ACCOUNTS[0],
        exp: epochIn(3600),
        refreshToken: `rt_${ACCOUNTS[0]}`,
      });
    }
  });

  it("skips, for a model, a login whose plan the backend said lacks it", async () => {
    const p = pool();
    backend.enqueue({ kind: "usage_not_included" });
    const first = await ask(p);
    assert.equal(first.status, 200, first.text);
    const [lacking, served] = accountsCalled();
    assert.notEqual(lacking, served);
    for (let i = 0; i < 5; i++) await ask(p);
    assert.equal(
      accountsCalled().filter((account) => account === lacking).length,
      1,
    );
  });

  it("skips, for a model, a login the backend said in its own words lacks it", async () => {
    const p = pool();
    backend.enqueue({
      kind: "status",
      status: 400,
      body: {
        detail:
          "The 'gpt-5.4' model is not supported when using Codex with a ChatGPT account.",
      },
    });
    const first = await ask(p);
    assert.equal(first.status, 200, first.text);
    const [lacking, served] = accountsCalled();
    assert.notEqual(lacking, served);
    for (let i = 0; i < 5; i++) await ask(p);
    assert.equal(
      accountsCalled().filter((account) => account === lacking).length,
      1,
    );
  });

  it("answers a model that every plan lacks as the backend did, not as the seller's failure, and asks no login again", async () => {
    const lines: string[] = [];
    const p = createProvider({
      OPENAI_RESPONSES_AUTH_FILE: files.join(","),
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    }, {
      random: () => 0,
      onLog: (line) => lines.push(line),
      onWarning: (line) => lines.push(line),
    });
    for (let i = 0; i < 3; i++) {
      const result = await callProvider(p, {
        body: { model: "made-up-model", input: "Hi" },
      }, { skipRouting: true });
      assert.equal(result.status, 400, result.text);
      const { error } = JSON.parse(result.text);
      assert.equal(error.code, "model_not_supported");
      assert.match(error.message, /'made-up-model' model/);
    }
    // Each login was asked once, on the first request.
    assert.equal(accountsCalled().length, ACCOUNTS.length);
    assert.deepEqual(
      lines.filter((line) => /upstream_auth_failed|cannot serve/.test(line)),
      [],
    );
    const served = await callProvider(p, {
      body: { model: "gpt-5.4", input: "Hi" },
    }, { skipRouting: true });
    assert.equal(served.status, 200, served.text);
  });

  it("keeps each login under OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY", async () => {
    const p = pool({ OPENAI_RESPONSES_ACCOUNT_MAX_CONCURRENCY: "1" });
    backend.setDefault({ kind: "text", text: "slow", eventDelayMs: 30 });
    try {
      const results = await Promise.all(
        Array.from({ length: 4 }, () => ask(p)),
      );
      const statuses = results.map((result) => result.status).sort();
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal(new Set(accountsCalled()).size, 3);
    } finally {
      backend.setDefault({ kind: "text" });
    }
  });
});

describe("a login's memory of the models its plan lacks", () => {
  it("holds the most recently refused models only: buyers name them", () => {
    const login = new Login("a", {} as TokenSource);
    const refusal = new RelayError(400, "model_not_supported", "Not here");
    login.markNotIncluded("m0", "acct", refusal);
    for (let i = 1; i <= NOT_INCLUDED_MEMORY; i++) {
      // Refused again, m0 is the most recent once more until m1 is passed.
      if (i === 2) login.markNotIncluded("m0", "acct", refusal);
      login.markNotIncluded(`m${i}`, "acct", refusal);
    }
    assert.equal(login.lacks("m1"), false, "the least recently refused goes");
    assert.equal(login.lacks("m0"), true);
    assert.equal(login.lacks(`m${NOT_INCLUDED_MEMORY}`), true);
    assert.equal(login.refusalOf("m0"), refusal);
    // m0 is now the least recently refused: the next new model takes its place.
    login.markNotIncluded("another", "acct", refusal);
    assert.equal(login.lacks("m0"), false);
    assert.equal(login.lacks("m2"), true);
  });
});
