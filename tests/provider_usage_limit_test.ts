// The usage-limit gate over a real auth.json: a limit belongs to the account
// it was reached on, and a seller who switches logins is not kept blocked.

import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTokenSource } from "../src/auth/token_source.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeBehaviour,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import {
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const ACCOUNT_A = "acct_limited";
const ACCOUNT_B = "acct_switched";

let backend: FakeCodexBackend;
let dir: TempDir;
let authFile: string;
let provider: OpenAIResponsesProvider;

function responsePosts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function login(accountId: string): Promise<unknown> {
  return writeAuth(authFile, { accountId, exp: epochIn(3600) });
}

function ask(stream = false) {
  return callProvider(provider, {
    body: { model: "gpt-5.4", input: "hi", stream },
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await tempDir("usage-limit-");
});
after(async () => {
  await backend.close();
  await dir.cleanup();
});
beforeEach(async () => {
  backend.reset();
  authFile = dir.file(`auth-${crypto.randomUUID()}.json`);
  await login(ACCOUNT_A);
  provider = createProvider({
    OPENAI_RESPONSES_AUTH_FILE: authFile,
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, {
    // Looks at the file on every call, so that a rewrite is seen at once.
    tokenSource: createTokenSource(authFile, {
      tokenUrl: "http://127.0.0.1:9/oauth/token",
      statIntervalMs: 0,
    }),
    random: () => 0,
  });
});
afterEach(() => {
  backend.reset();
});

const LIMITS: [string, FakeBehaviour][] = [
  ["a 429", { kind: "usage_limit", resetsInSeconds: 600 }],
  [
    "an error event in a 200 stream",
    { kind: "usage_limit_in_stream", as: "error", resetsInSeconds: 600 },
  ],
  [
    "response.failed in a 200 stream",
    { kind: "usage_limit_in_stream", as: "failed" },
  ],
];

describe("usage limit and the seller's login", () => {
  for (const [name, behaviour] of LIMITS) {
    it(`clears a usage limit reported by ${name} when auth.json switches to another account`, async () => {
      backend.enqueue(behaviour);
      await ask(true);
      const blocked = await ask();
      assert.equal(blocked.status, 429);
      assert.equal(JSON.parse(blocked.text).error.code, "usage_limit_reached");
      assert.equal(responsePosts().length, 1, "blocked without the backend");

      await login(ACCOUNT_B);
      const switched = await ask();
      assert.equal(switched.status, 200, switched.text);
      assert.equal(responsePosts().length, 2);
      assert.equal(
        responsePosts()[1].headers["chatgpt-account-id"],
        ACCOUNT_B,
      );
      assert.equal(provider.usageLimitedUntil(), undefined);
    });
  }

  it("keeps the usage limit when auth.json is rewritten for the same account", async () => {
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 600 });
    await ask();
    // A refresh by the Codex CLI: new tokens, same account.
    await writeAuth(authFile, {
      accountId: ACCOUNT_A,
      accessToken: makeAccessToken({
        accountId: ACCOUNT_A,
        exp: epochIn(7200),
        extra: { n: "refreshed" },
      }),
    });
    const blocked = await ask();
    assert.equal(blocked.status, 429);
    assert.equal(JSON.parse(blocked.text).error.code, "usage_limit_reached");
    assert.equal(responsePosts().length, 1);
  });

  it("reports the capacity free again on a later poll once auth.json holds another account", async () => {
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 600 });
    await ask();
    assert.deepEqual(provider.getCapacity(), { current: 5, max: 5 });
    await login(ACCOUNT_B);
    const deadline = Date.now() + 2000;
    while (provider.getCapacity().current !== 0 && Date.now() < deadline) {
      await delay(10);
    }
    assert.deepEqual(provider.getCapacity(), { current: 0, max: 5 });
    assert.equal(responsePosts().length, 1, "no request was needed");
  });
});
