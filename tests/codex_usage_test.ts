// The usage endpoint: readUsage against the simulated backend's
// GET <base>/wham/usage (per account, scripted), the URL rule, the headers,
// and every way the call can fail without a token in the message.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { parseUsage, readUsage, usageUrl } from "../src/codex/usage.ts";
import { upstreamIdentity } from "../src/codex/request.ts";
import { RelayError } from "../src/errors.ts";

const ACCOUNT = "acct_usage_0000001";
const OTHER = "acct_usage_0000002";

let backend: FakeCodexBackend;

function tokenFor(accountId: string, plan = "pro") {
  return { accessToken: makeAccessToken({ accountId, plan }), accountId };
}

async function failure(promise: Promise<unknown>): Promise<RelayError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RelayError, `a RelayError, found ${error}`);
    return error;
  }
  assert.fail("expected readUsage to fail");
}

before(async () => {
  backend = await startFakeCodexBackend();
});

after(async () => {
  await backend.close();
});

describe("usageUrl", () => {
  it("is <base>/wham/usage for a base with /backend-api, else <base>/api/codex/usage", () => {
    assert.equal(
      usageUrl("https://chatgpt.com/backend-api"),
      "https://chatgpt.com/backend-api/wham/usage",
    );
    assert.equal(
      usageUrl("https://chatgpt.com/backend-api/"),
      "https://chatgpt.com/backend-api/wham/usage",
    );
    assert.equal(
      usageUrl("http://127.0.0.1:8080/codex"),
      "http://127.0.0.1:8080/codex/api/codex/usage",
    );
  });
});

describe("readUsage against the simulated backend", () => {
  it("reads plan, both windows and credits, with the login's headers", async () => {
    backend.reset();
    const identity = upstreamIdentity("codex_cli_rs", "0.171.0", {
      os: "Linux",
      osVersion: "6.1.0",
      arch: "x86_64",
    });
    const token = tokenFor(ACCOUNT);
    const before = Date.now();
    const usage = await readUsage(backend.baseUrl, token, { identity });
    assert.equal(usage.plan, "pro");
    assert.equal(usage.allowed, true);
    assert.equal(usage.limitReached, false);
    assert.equal(usage.primary?.usedPercent, 7);
    assert.equal(usage.primary?.windowSeconds, 18000);
    assert.equal(usage.primary?.resetAfterSeconds, 9000);
    assert.ok(
      Math.abs(usage.primary!.resetAt! - (before + 9000_000)) < 2000,
      "primary resets in 9000 s",
    );
    assert.equal(usage.secondary?.usedPercent, 31);
    assert.equal(usage.secondary?.windowSeconds, 604800);
    assert.deepEqual(usage.credits, {
      hasCredits: false,
      unlimited: false,
      balance: "0",
      approxLocalMessages: 0,
      approxCloudMessages: 0,
    });
    assert.deepEqual(usage.additional, []);
    const request = backend.requests.at(-1)!;
    assert.equal(request.method, "GET");
    assert.equal(request.path, "/backend-api/wham/usage");
    assert.equal(request.headers.authorization, `Bearer ${token.accessToken}`);
    assert.equal(request.headers["chatgpt-account-id"], ACCOUNT);
    assert.equal(request.headers.originator, "codex_cli_rs");
    assert.equal(request.headers["user-agent"], identity.userAgent);
  });

  it("answers each account its own script", async () => {
    backend.reset();
    backend.setAccountUsage({
      plan: "plus",
      primary: { usedPercent: 55, windowSeconds: 18000, resetAfterSeconds: 60 },
      secondary: null,
      credits: { hasCredits: true, unlimited: false, balance: "12.50" },
    }, ACCOUNT);
    backend.setAccountUsage({
      credits: { hasCredits: true, unlimited: true, balance: null },
    }, OTHER);
    const first = await readUsage(backend.baseUrl, tokenFor(ACCOUNT));
    assert.equal(first.plan, "plus");
    assert.equal(first.primary?.usedPercent, 55);
    assert.equal(first.secondary, undefined);
    assert.equal(first.credits?.balance, "12.50");
    assert.equal(first.credits?.hasCredits, true);
    const second = await readUsage(backend.baseUrl, tokenFor(OTHER, "team"));
    assert.equal(second.plan, "team");
    assert.equal(second.primary?.usedPercent, 7);
    assert.equal(second.credits?.unlimited, true);
    assert.equal(second.credits?.balance, undefined);
    backend.reset();
  });

  it("says the limit is reached while the account is usage-limited", async () => {
    backend.reset();
    backend.enqueue({ kind: "usage_limit", resetsInSeconds: 1200 });
    const token = tokenFor(ACCOUNT);
    const limited = await fetch(backend.responsesUrl, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token.accessToken}`,
        "chatgpt-account-id": ACCOUNT,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        model: "gpt-5.5",
        instructions: "x",
        input: [],
        stream: true,
        store: false,
      }),
    });
    await limited.body?.cancel();
    assert.equal(limited.status, 429);
    const usage = await readUsage(backend.baseUrl, token);
    assert.equal(usage.limitReached, true);
    assert.equal(usage.allowed, false);
    assert.equal(usage.primary?.usedPercent, 100);
    assert.ok(
      Math.abs(usage.primary!.resetAt! - (Date.now() + 1200_000)) < 3000,
    );
    const other = await readUsage(backend.baseUrl, tokenFor(OTHER));
    assert.equal(other.limitReached, false, "another account is not limited");
    backend.reset();
  });

  it("fails with usage_unavailable and the status when the endpoint fails", async () => {
    backend.reset();
    backend.setAccountUsage({ status: 503 });
    const token = tokenFor(ACCOUNT);
    const error = await failure(readUsage(backend.baseUrl, token));
    assert.equal(error.code, "usage_unavailable");
    assert.equal(error.details.upstream_status, 503);
    assert.match(
      error.message,
      /^Expected the account's usage .* found HTTP 503$/,
    );
    assert.ok(!error.message.includes(token.accessToken));
    backend.reset();
  });

  it("fails with HTTP 401 when the token is refused, without repeating it", async () => {
    const token = {
      accessToken: makeAccessToken({ accountId: OTHER }),
      accountId: ACCOUNT,
    };
    const error = await failure(readUsage(backend.baseUrl, token));
    assert.equal(error.code, "usage_unavailable");
    assert.match(
      error.message,
      /found HTTP 401 \(the login's token was refused\)/,
    );
    assert.ok(!error.message.includes(token.accessToken));
  });
});

describe("readUsage failures without the backend", () => {
  it("gives up after its timeout", async () => {
    const server = createServer(() => {});
    await new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", resolve)
    );
    const port = (server.address() as AddressInfo).port;
    try {
      const error = await failure(
        readUsage(`http://127.0.0.1:${port}/backend-api`, tokenFor(ACCOUNT), {
          timeoutMs: 100,
        }),
      );
      assert.equal(error.code, "usage_unavailable");
      assert.match(error.message, /found no answer within 100 ms$/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("says the backend could not be reached on a network error", async () => {
    const error = await failure(
      readUsage("http://127.0.0.1:9/backend-api", tokenFor(ACCOUNT)),
    );
    assert.match(
      error.message,
      /found no answer \(the backend could not be reached\)$/,
    );
  });

  it("asks <base>/api/codex/usage outside /backend-api and refuses a body that is not JSON", async () => {
    const urls: string[] = [];
    const fakeFetch = (input: string | URL | Request) => {
      urls.push(String(input));
      return Promise.resolve(new Response("<html>", { status: 200 }));
    };
    const error = await failure(
      readUsage("http://127.0.0.1:1/codex", tokenFor(ACCOUNT), {
        fetch: fakeFetch as typeof fetch,
      }),
    );
    assert.deepEqual(urls, ["http://127.0.0.1:1/codex/api/codex/usage"]);
    assert.match(error.message, /found a body that is not JSON$/);
  });

  it("refuses JSON that is not the usage answer", async () => {
    const fakeFetch = () =>
      Promise.resolve(Response.json({ detail: "Not Found" }));
    const error = await failure(
      readUsage("http://127.0.0.1:1/backend-api", tokenFor(ACCOUNT), {
        fetch: fakeFetch as typeof fetch,
      }),
    );
    assert.match(error.message, /found JSON without plan_type or rate_limit$/);
  });
});

describe("parseUsage", () => {
  it("takes reset_at in seconds, else now plus reset_after_seconds, and keeps the balance as written", () => {
    const report = parseUsage({
      plan_type: "pro",
      rate_limit: {
        allowed: true,
        limit_reached: false,
        primary_window: {
          used_percent: 12.5,
          limit_window_seconds: 18000,
          reset_after_seconds: 100,
          reset_at: 1_700_000_000,
        },
        secondary_window: { used_percent: "40", reset_after_seconds: 10 },
      },
      credits: { has_credits: true, unlimited: false, balance: "0.10" },
      additional_rate_limits: [{
        limit_name: "codex_other",
        metered_feature: "codex_cloud",
        rate_limit: { primary_window: { used_percent: 3 } },
      }],
    }, 1_699_999_995_000);
    assert.equal(report?.primary?.resetAt, 1_700_000_000_000);
    assert.equal(report?.primary?.usedPercent, 12.5);
    assert.equal(report?.secondary?.usedPercent, 40);
    assert.equal(report?.secondary?.resetAt, 1_700_000_005_000);
    assert.equal(report?.credits?.balance, "0.10");
    assert.deepEqual(report?.additional, [{
      limitName: "codex_other",
      meteredFeature: "codex_cloud",
      primary: { usedPercent: 3 },
    }]);
  });
});
