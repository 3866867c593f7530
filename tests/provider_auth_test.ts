// The provider with the real token source over a temp auth.json, the fake
// token endpoint and the simulated backend: credentials flow end to end.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createProvider } from "../src/provider/provider.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import { makeAccessToken, makeAuthJson } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { epochIn, type TempDir, tempDir } from "./fixtures/auth_helpers.ts";

const ACCOUNT = "acct_provider";
const revoked = new Set<string>();
let onSeen: ((token: string) => void) | undefined;
let backend: FakeCodexBackend;
let dir: TempDir;

function acceptToken(token: string, accountId: string | null): boolean {
  onSeen?.(token);
  if (revoked.has(token)) return false;
  const payload = JSON.parse(atob(
    token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"),
  ));
  return payload.exp * 1000 > Date.now() &&
    payload["https://api.openai.com/auth"]?.chatgpt_account_id === accountId;
}

before(async () => {
  backend = await startFakeCodexBackend({ acceptToken });
  dir = await tempDir("provider-auth-");
});
after(async () => {
  await backend.close();
  await dir.cleanup();
});

async function setup(name: string, options: { exp: number; rt: string }) {
  const endpoint = await startFakeTokenEndpoint({
    refreshTokens: [options.rt],
    accountId: ACCOUNT,
  });
  const authFile = dir.file(`${name}.json`);
  writeFileSync(
    authFile,
    JSON.stringify(
      makeAuthJson({
        accountId: ACCOUNT,
        exp: options.exp,
        refreshToken: options.rt,
      }),
    ),
    { mode: 0o600 },
  );
  const provider = createProvider({
    OPENAI_RESPONSES_AUTH_FILE: authFile,
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, { random: () => 0 });
  return { endpoint, authFile, provider };
}

describe("provider with Codex credentials", () => {
  it("init() refreshes an expired login and requests use the new token", async () => {
    const { endpoint, provider } = await setup("expired", {
      exp: epochIn(-60),
      rt: "rt_expired_0",
    });
    try {
      await provider.init();
      assert.equal(endpoint.calls, 1);
      const result = await callProvider(provider, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(result.status, 200, result.text);
      const sent = backend.requests.at(-1)!.headers.authorization;
      assert.equal(sent, `Bearer ${endpoint.latestAccessToken}`);
      assert.equal(endpoint.calls, 1);
    } finally {
      await endpoint.close();
    }
  });

  it("retries a 401 with the token another process already wrote, without refreshing", async () => {
    const { endpoint, authFile, provider } = await setup("other-writer", {
      exp: epochIn(3600),
      rt: "rt_other_0",
    });
    try {
      await provider.init();
      const stale = (await provider.tokens.getToken()).accessToken;
      revoked.add(stale);
      const newer = makeAccessToken({
        accountId: ACCOUNT,
        exp: epochIn(7200),
        extra: { n: "newer" },
      });
      // Another process refreshes while this request is in flight.
      onSeen = (token) => {
        if (token !== stale) return;
        onSeen = undefined;
        writeFileSync(
          authFile,
          JSON.stringify(
            makeAuthJson({
              accountId: ACCOUNT,
              accessToken: newer,
              refreshToken: "rt_other_1",
            }),
          ),
        );
      };
      const result = await callProvider(provider, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(result.status, 200, result.text);
      assert.equal(endpoint.calls, 0, "no token-endpoint call");
      assert.equal(
        backend.requests.at(-1)!.headers.authorization,
        `Bearer ${newer}`,
      );
    } finally {
      onSeen = undefined;
      await endpoint.close();
    }
  });

  it("refreshes once after a 401 when the file still holds the failed token", async () => {
    const { endpoint, provider } = await setup("revoked", {
      exp: epochIn(3600),
      rt: "rt_revoked_0",
    });
    try {
      await provider.init();
      revoked.add((await provider.tokens.getToken()).accessToken);
      const result = await callProvider(provider, {
        body: { model: "gpt-5.4", input: "hi" },
      });
      assert.equal(result.status, 200, result.text);
      assert.equal(endpoint.calls, 1);
    } finally {
      await endpoint.close();
    }
  });

  it("answers 503 upstream_auth_failed when the login needs codex login", async () => {
    const { endpoint, provider } = await setup("dead", {
      exp: epochIn(-60),
      rt: "rt_dead_0",
    });
    try {
      endpoint.setFailure({ kind: "permanent", code: "refresh_token_expired" });
      await assert.rejects(provider.init(), /codex login/);
      for (let i = 0; i < 3; i++) {
        const result = await callProvider(provider, {
          body: { model: "gpt-5.4", input: "hi" },
        });
        assert.equal(result.status, 503);
        assert.equal(
          JSON.parse(result.text).error.code,
          "upstream_auth_failed",
        );
        assert.doesNotMatch(result.text, /auth\.json|codex login|\/tmp/);
      }
      assert.equal(endpoint.calls, 1, "no further token-endpoint calls");
      assert.equal(provider.getCapacity().current, 0);
    } finally {
      await endpoint.close();
    }
  });
});
