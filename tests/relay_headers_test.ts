// Header allow-lists both ways, end to end against the simulated backend:
// nothing of the buyer reaches the backend, and nothing of the backend's
// headers (cookies, `cf-*`, `x-codex-*`, timings) reaches the buyer, in a
// stream or in an error answer.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createProvider } from "../src/provider/provider.ts";
import {
  type FakeBehaviour,
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";

const ACCOUNT = "acct_test";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const SERVICE = "gpt-5.4";

/** What the provider sends (spec/CODEX_BACKEND.md). */
const UPSTREAM_HEADERS = [
  "accept",
  "authorization",
  "chatgpt-account-id",
  "content-type",
  "originator",
  "session-id",
  "thread-id",
  "user-agent",
  "version",
  "x-client-request-id",
  "x-codex-beta-features",
  "x-codex-routing-hint",
  "x-codex-turn-metadata",
  "x-codex-window-id",
];
/** What the HTTP client adds by itself (Deno's fetch, Node's undici). */
const TRANSPORT_HEADERS = new Set([
  "accept-encoding",
  "accept-language",
  "connection",
  "content-length",
  "host",
  "sec-fetch-mode",
]);

let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => {
  backend.reset();
});

function provider() {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: SERVICE,
  }, { tokenSource: fixedTokens(ACCOUNT, TOKEN), random: () => 0 });
}

describe("headers the backend gets", () => {
  it("are the allow-listed ones and the HTTP client's own, whatever the buyer sends", async () => {
    const buyerHeaders = {
      authorization: "Bearer buyer-secret",
      cookie: "session=buyer",
      "x-forwarded-for": "10.0.0.9",
      "openai-organization": "org-buyer",
      "x-buyer-header": "buyer",
    };
    const result = await callProvider(provider(), {
      headers: buyerHeaders,
      body: { model: SERVICE, input: "hi" },
    });
    assert.equal(result.status, 200);
    const [post] = backend.requests.filter((request) =>
      request.path.endsWith("/codex/responses")
    );
    const names = Object.keys(post.headers)
      .filter((name) => !TRANSPORT_HEADERS.has(name))
      .sort();
    assert.deepEqual(names, UPSTREAM_HEADERS);
    const values = JSON.stringify(post.headers);
    for (const value of Object.values(buyerHeaders)) {
      assert.ok(!values.includes(value), `${value} reached the backend`);
    }
    assert.ok(!values.includes("peer-buyer-1"), "the buyer's peer id");
  });
});

describe("headers the buyer gets", () => {
  const errors: [string, FakeBehaviour, number][] = [
    ["400", { kind: "status", status: 400, body: { detail: "no" } }, 400],
    [
      "429 with x-codex-* rate limits",
      { kind: "status", status: 429, headers: { "retry-after": "30" } },
      429,
    ],
    ["403", { kind: "status", status: 403, body: { detail: "no" } }, 503],
    ["usage limit", { kind: "usage_limit", resetsInSeconds: 60 }, 429],
  ];
  for (const [name, behaviour, status] of errors) {
    it(`are content-type and retry-after only, in an error answer (${name})`, async () => {
      backend.enqueue(behaviour);
      const result = await callProvider(provider(), {
        body: { model: SERVICE, input: "hi" },
      });
      assert.equal(result.status, status);
      for (const header of Object.keys(result.headers)) {
        assert.ok(
          header === "content-type" || header === "retry-after",
          `${header} reached the buyer`,
        );
      }
    });
  }
});
