// Issue 19, what a hostile buyer (or one bad moment upstream) could do to the
// seller's logins: get them marked unusable with text it makes the backend
// echo or with an edge block of the seller's machine (defect 14), and leave
// the seller without a refresh after one backend-side invalidation of a
// token that worked (defect 15).

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import { callProvider } from "./fakes/seller_node.ts";
import {
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const ACCOUNTS = ["acct_hostile_a", "acct_hostile_b"];

let backend: FakeCodexBackend;
let dir: TempDir;
let files: string[];

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await tempDir("hostile-logins-");
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

/** A provider over both logins. */
function pool(): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_AUTH_FILE: files.join(","),
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
}

/** The `chatgpt-account-id` of every `POST /codex/responses`, in order. */
function accountsCalled(from: FakeCodexBackend = backend): string[] {
  return from.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  ).map((request) => request.headers["chatgpt-account-id"]);
}

function ask(p: OpenAIResponsesProvider) {
  return callProvider(p, { body: { model: "gpt-5.4", input: "Hi" } });
}

function codeOf(text: string): unknown {
  return JSON.parse(text).error?.code;
}

describe("hostile buyers and the seller's logins", () => {
  it("defect 14: a backend 400 that merely echoes 'model is not supported', or a Cloudflare 403, marks no login", async () => {
    const p = pool();

    // A parameter named after the backend's statement: the backend echoes
    // it in its own refusal, which is not the statement itself.
    backend.enqueue({
      kind: "status",
      status: 400,
      body: {
        detail:
          "Unsupported parameter: The 'gpt-5.4' model is not supported when using Codex with a ChatGPT account.",
      },
    });
    const echoed = await ask(p);
    assert.equal(echoed.status, 400, echoed.text);
    assert.equal(codeOf(echoed.text), "upstream_bad_request");
    const [echoAccount] = accountsCalled();
    assert.equal(accountsCalled().length, 1, "no other login was tried");
    for (let i = 0; i < 3; i++) {
      assert.equal((await ask(p)).status, 200);
    }
    assert.ok(
      accountsCalled().slice(1).includes(echoAccount),
      `the login the echo came from still serves gpt-5.4: ${accountsCalled()}`,
    );

    // The backend's edge refuses this machine (every login shares it): the
    // buyer is told so, and no login is passed over once the edge lets
    // traffic through again.
    backend.reset();
    const challenge = {
      kind: "status" as const,
      status: 403,
      body:
        "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>challenge</body></html>",
      headers: { "cf-mitigated": "challenge" },
    };
    backend.enqueue(challenge, challenge);
    for (let i = 0; i < 2; i++) {
      const blocked = await ask(p);
      assert.equal(blocked.status, 503, blocked.text);
      assert.equal(codeOf(blocked.text), "upstream_blocked", blocked.text);
      assert.doesNotMatch(blocked.text, /<html|Just a moment/i);
    }
    assert.equal(
      accountsCalled().length,
      2,
      "one call per request, no failover",
    );
    assert.deepEqual((await p.logins()).map((login) => login.state), [
      "ok",
      "ok",
    ]);
    const through = await ask(p);
    assert.equal(through.status, 200, through.text);
  });

  it("defect 15: a refreshed token that served answers and then gets a 401 is refreshed once more, with no cooldown", async () => {
    // A backend that refuses the tokens it is told to (a backend-side
    // invalidation), and nothing else.
    const seen = new Set<string>();
    const revoked = new Set<string>();
    const strict = await startFakeCodexBackend({
      acceptToken: (token) => {
        seen.add(token);
        return !revoked.has(token);
      },
    });
    const endpoint = await startFakeTokenEndpoint({
      refreshTokens: ["rt_d15_0"],
    });
    const own = await tempDir("hostile-401-");
    const warnings: string[] = [];
    try {
      const authFile = own.file("auth.json");
      await writeAuth(authFile, {
        exp: epochIn(3600),
        refreshToken: "rt_d15_0",
      });
      const p = createProvider({
        OPENAI_RESPONSES_AUTH_FILE: authFile,
        OPENAI_RESPONSES_BASE_URL: strict.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, {
        random: () => 0,
        onLog: () => {},
        onWarning: (message) => warnings.push(message),
      });
      const revokeAllSeen = () => seen.forEach((token) => revoked.add(token));

      assert.equal((await ask(p)).status, 200, "the file's token serves");
      // Invalidated: one forced refresh, and the new token serves.
      revokeAllSeen();
      const refreshed = await ask(p);
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.equal(endpoint.calls, 1);
      // That token, which has served an answer, is invalidated in turn,
      // within minutes of its refresh: it gets its forced refresh too.
      revokeAllSeen();
      const again = await ask(p);
      assert.equal(again.status, 200, again.text);
      assert.equal(endpoint.calls, 2, "one more refresh");
      assert.equal(seen.size, 3, "three tokens: the file's and two refreshed");
      assert.deepEqual(warnings, [], "no cooldown started");
    } finally {
      await strict.close();
      await endpoint.close();
      await own.cleanup();
    }
  });
});
