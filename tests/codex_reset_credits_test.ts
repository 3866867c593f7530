// Banked rate-limit resets (src/codex/reset_credits.ts) against the
// simulated backend: the list and its expiry, each outcome of a spend, the
// retry of a lost answer with the same redeem_request_id (one credit spent),
// and the failures, none with a token in the message.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import {
  parseResetCredits,
  readResetCredits,
  redeemResetCredit,
  resetCreditsUrl,
} from "../src/codex/reset_credits.ts";
import { parseUsage } from "../src/codex/usage.ts";
import { RelayError } from "../src/errors.ts";

const ACCOUNT = "acct_resets_000011112222";
const DAY = 24 * 3600 * 1000;
const token = {
  accessToken: makeAccessToken({ accountId: ACCOUNT, plan: "pro" }),
  accountId: ACCOUNT,
};

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

function redeem(options: { creditId?: string; id?: string } = {}) {
  return redeemResetCredit(backend.baseUrl, token, {
    redeemRequestId: options.id ?? crypto.randomUUID(),
    creditId: options.creditId,
    retryDelayMs: 1,
  });
}

function consumeCalls() {
  return backend.requests.filter((request) =>
    request.path.endsWith("/rate-limit-reset-credits/consume")
  );
}

describe("reading the banked resets", () => {
  it("resetCreditsUrl follows the usage endpoint's rule", () => {
    assert.equal(
      resetCreditsUrl("https://chatgpt.com/backend-api/"),
      "https://chatgpt.com/backend-api/wham/rate-limit-reset-credits",
    );
    assert.equal(
      resetCreditsUrl("http://127.0.0.1:9"),
      "http://127.0.0.1:9/api/codex/rate-limit-reset-credits",
    );
  });

  it("lists the available credits, soonest to expire first, and spends nothing", async () => {
    const soon = Date.now() + 2 * DAY;
    const later = Date.now() + 9 * DAY;
    backend.setAccountResetCredits({
      credits: [{ id: "later", expiresAt: later }, {
        id: "soon",
        expiresAt: soon,
      }],
    }, ACCOUNT);
    const credits = await readResetCredits(backend.baseUrl, token);
    assert.equal(credits.availableCount, 2);
    assert.deepEqual(credits.credits.map((credit) => credit.id), [
      "soon",
      "later",
    ]);
    assert.equal(credits.credits[0].expiresAt, Math.floor(soon));
    assert.equal(credits.credits[0].resetType, "rate_limit");
    const [call] = backend.requests;
    assert.equal(call.method, "GET");
    assert.equal(call.headers["chatgpt-account-id"], ACCOUNT);
    assert.equal(call.headers["authorization"], `Bearer ${token.accessToken}`);
    assert.equal(backend.redemptions.length, 0);
  });

  it("an account without resets has none, and an expired credit is not listed", async () => {
    assert.deepEqual(await readResetCredits(backend.baseUrl, token), {
      availableCount: 0,
      credits: [],
    });
    backend.setAccountResetCredits({
      credits: [{ id: "gone", expiresAt: Date.now() - 1000 }],
    }, ACCOUNT);
    assert.equal(
      (await readResetCredits(backend.baseUrl, token)).availableCount,
      0,
    );
  });

  it("parseResetCredits keeps only available credits with an id, and the usage endpoint's count", () => {
    const parsed = parseResetCredits({
      available_count: 1,
      credits: [
        { id: "a", status: "available", expires_at: "2030-01-01T00:00:00Z" },
        { id: "b", status: "redeemed" },
        { status: "available" },
        "junk",
      ],
    });
    assert.deepEqual(parsed, {
      availableCount: 1,
      credits: [{ id: "a", expiresAt: Date.UTC(2030, 0, 1) }],
    });
    assert.equal(parseResetCredits({ detail: "x" }), undefined);
    assert.equal(
      parseUsage({
        plan_type: "plus",
        rate_limit_reset_credits: { available_count: 3 },
      }, 0)?.resetCreditsAvailable,
      3,
    );
  });

  it("a failing endpoint is reset_credits_unavailable, with no token in the message", async () => {
    await assert.rejects(
      readResetCredits(`${backend.baseUrl}/nowhere`, token),
      (error: unknown) => {
        assert.ok(error instanceof RelayError);
        assert.equal(error.code, "reset_credits_unavailable");
        assert.match(error.message, /found HTTP 404/);
        assert.doesNotMatch(error.message, /Bearer|eyJ/);
        return true;
      },
    );
  });
});

describe("spending a reset: each outcome", () => {
  it("reset: a limited account with a credit is reset, and the credit is spent", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({ credits: [{ id: "c1" }] }, ACCOUNT);
    const id = crypto.randomUUID();
    const redemption = await redeem({ id, creditId: "c1" });
    assert.deepEqual(redemption, {
      outcome: "reset",
      windowsReset: 1,
      attempts: 1,
    });
    const [call] = consumeCalls();
    assert.equal(call.method, "POST");
    assert.deepEqual(call.body, { redeem_request_id: id, credit_id: "c1" });
    assert.equal(
      (await readResetCredits(backend.baseUrl, token)).availableCount,
      0,
    );
  });

  it("nothing_to_reset: an account that is not limited keeps its credit", async () => {
    backend.setAccountResetCredits({ credits: [{ id: "c1" }] }, ACCOUNT);
    assert.equal((await redeem()).outcome, "nothing_to_reset");
    assert.equal(
      (await readResetCredits(backend.baseUrl, token)).availableCount,
      1,
    );
  });

  it("no_credit: no credit left", async () => {
    backend.limitAccount(ACCOUNT);
    assert.equal((await redeem()).outcome, "no_credit");
  });

  it("already_redeemed: a credit spent before, by another request", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }, { id: "c2" }],
    }, ACCOUNT);
    assert.equal((await redeem({ creditId: "c1" })).outcome, "reset");
    backend.limitAccount(ACCOUNT);
    assert.equal(
      (await redeem({ creditId: "c1" })).outcome,
      "already_redeemed",
    );
  });

  it("ineligible: 403 rate_limit_reset_ineligible is an outcome, not a failure", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }],
      ineligible: true,
    }, ACCOUNT);
    assert.deepEqual(await redeem(), { outcome: "ineligible", attempts: 1 });
  });
});

describe("spending a reset: retries are idempotent", () => {
  it("an answer lost after the spend is retried with the same redeem_request_id, and one credit is spent", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }, { id: "c2" }],
      failures: [{ status: 503, afterRedeeming: true }],
    }, ACCOUNT);
    const id = crypto.randomUUID();
    const redemption = await redeem({ id });
    assert.deepEqual(redemption, {
      outcome: "reset",
      windowsReset: 1,
      attempts: 2,
    });
    const calls = consumeCalls();
    assert.equal(calls.length, 2);
    for (const call of calls) {
      assert.equal(
        (call.body as Record<string, unknown>).redeem_request_id,
        id,
      );
    }
    assert.equal(
      (await readResetCredits(backend.baseUrl, token)).availableCount,
      1,
    );
  });

  it("429 connector_rate_limit is retried with the same id", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }],
      failures: [{ status: 429 }],
    }, ACCOUNT);
    const redemption = await redeem();
    assert.equal(redemption.outcome, "reset");
    assert.equal(redemption.attempts, 2);
    const ids = new Set(
      backend.redemptions.map((entry) => entry.redeemRequestId),
    );
    assert.equal(ids.size, 1);
  });

  it("after the last attempt fails: reset_credits_unavailable naming the status", async () => {
    backend.limitAccount(ACCOUNT);
    backend.setAccountResetCredits({
      credits: [{ id: "c1" }],
      failures: [{ status: 502 }, { status: 502 }, { status: 502 }],
    }, ACCOUNT);
    await assert.rejects(redeem(), (error: unknown) => {
      assert.ok(error instanceof RelayError);
      assert.equal(error.code, "reset_credits_unavailable");
      assert.match(error.message, /found HTTP 502$/);
      return true;
    });
    assert.equal(consumeCalls().length, 3);
  });

  it("a refusal that is not lost on the way (400) is not retried", async () => {
    await assert.rejects(
      redeemResetCredit(backend.baseUrl, token, {
        redeemRequestId: "not-a-uuid",
        retryDelayMs: 1,
      }),
      /found HTTP 400$/,
    );
    assert.equal(consumeCalls().length, 1);
  });

  it("an unknown outcome code is named, not taken for a success", async () => {
    const fetch = () =>
      Promise.resolve(
        new Response('{"code":"maybe","windows_reset":0}', { status: 200 }),
      );
    await assert.rejects(
      redeemResetCredit(backend.baseUrl, token, {
        redeemRequestId: crypto.randomUUID(),
        fetch,
      }),
      /found the unknown outcome "maybe"$/,
    );
  });
});
