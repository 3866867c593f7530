import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  parseRateLimitHeaders,
  parseRateLimitsEvent,
} from "../src/codex/rate_limits.ts";
import { rateLimitsEvent } from "../src/testing/_fake_rate_limits_event.ts";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";

const NOW = Date.UTC(2026, 4, 5, 12, 0, 0);
const NOW_S = NOW / 1000;

function parse(headers: Record<string, string>) {
  return parseRateLimitHeaders(new Headers(headers), NOW);
}

const FULL = {
  "x-codex-primary-used-percent": "7",
  "x-codex-primary-window-minutes": "300",
  "x-codex-primary-reset-at": String(NOW_S + 9000),
  "x-codex-primary-reset-after-seconds": "9000",
  "x-codex-secondary-used-percent": "31.5",
  "x-codex-secondary-window-minutes": "10080",
  "x-codex-secondary-reset-at": String(NOW_S + 345600),
  "x-codex-secondary-reset-after-seconds": "345600",
  "x-codex-plan-type": "plus",
  "x-codex-active-limit": "codex",
  "x-codex-credits-has-credits": "False",
};

describe("parseRateLimitHeaders", () => {
  it("returns undefined without any x-codex header", () => {
    assert.equal(
      parse({ "content-type": "text/event-stream", "retry-after": "3" }),
      undefined,
    );
  });

  it("reads every header of a full set", () => {
    assert.deepEqual(parse(FULL), {
      primary: {
        usedPercent: 7,
        windowMinutes: 300,
        resetsAt: (NOW_S + 9000) * 1000,
      },
      secondary: {
        usedPercent: 31.5,
        windowMinutes: 10080,
        resetsAt: (NOW_S + 345600) * 1000,
      },
      planType: "plus",
      activeLimit: "codex",
      hasCredits: false,
      observedAt: NOW,
    });
  });

  it("uses reset-after-seconds when reset-at is an empty string", () => {
    const snapshot = parse({
      "x-codex-primary-reset-at": "",
      "x-codex-primary-reset-after-seconds": "120",
    });
    assert.equal(snapshot?.primary?.resetsAt, NOW + 120_000);
  });

  it("uses reset-after-seconds when reset-at is absent", () => {
    const snapshot = parse({ "x-codex-secondary-reset-after-seconds": "60" });
    assert.equal(snapshot?.secondary?.resetsAt, NOW + 60_000);
  });

  it("prefers reset-at over reset-after-seconds", () => {
    const snapshot = parse({
      "x-codex-primary-reset-at": String(NOW_S + 10),
      "x-codex-primary-reset-after-seconds": "9999",
    });
    assert.equal(snapshot?.primary?.resetsAt, NOW + 10_000);
  });

  it("reads Python-style booleans for has-credits", () => {
    assert.equal(
      parse({ "x-codex-credits-has-credits": "True" })?.hasCredits,
      true,
    );
    assert.equal(
      parse({ "x-codex-credits-has-credits": "False" })?.hasCredits,
      false,
    );
    assert.equal(
      parse({ "x-codex-credits-has-credits": "true" })?.hasCredits,
      true,
    );
  });

  it("leaves out unreadable values and empty windows", () => {
    const snapshot = parse({
      "x-codex-primary-used-percent": "lots",
      "x-codex-primary-window-minutes": "",
      "x-codex-credits-has-credits": "maybe",
      "x-codex-plan-type": "  ",
    });
    assert.deepEqual(snapshot, { observedAt: NOW });
  });

  it("reports a window with only some values", () => {
    const snapshot = parse({ "x-codex-secondary-used-percent": "100" });
    assert.deepEqual(snapshot, {
      secondary: { usedPercent: 100 },
      observedAt: NOW,
    });
  });

  it("returns a snapshot for an unknown x-codex header alone", () => {
    assert.deepEqual(parse({ "x-codex-something-new": "1" }), {
      observedAt: NOW,
    });
  });

  it("reads the headers of the simulated backend's answers", async () => {
    const backend = await startFakeCodexBackend({ now: () => NOW });
    try {
      const response = await fetch(backend.responsesUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${makeAccessToken({ exp: NOW_S + 3600 })}`,
          "chatgpt-account-id": "acct_test",
          "content-type": "application/json",
        },
        body: JSON.stringify({
          model: "gpt-5.4",
          instructions: "I",
          input: "Hi",
          stream: true,
          store: false,
        }),
      });
      await response.body?.cancel();
      const snapshot = parseRateLimitHeaders(response.headers, NOW);
      assert.equal(snapshot?.planType, "plus");
      assert.equal(snapshot?.hasCredits, false);
      assert.equal(typeof snapshot?.primary?.usedPercent, "number");
      assert.equal(typeof snapshot?.secondary?.resetsAt, "number");
    } finally {
      await backend.close();
    }
  });

  it("reads a reset time beyond 7 days as 7 days from now", () => {
    const snapshot = parse({
      "x-codex-primary-reset-at": "1e300",
      "x-codex-secondary-reset-after-seconds": "99999999999",
    });
    const week = 7 * 24 * 3600 * 1000;
    assert.equal(snapshot?.primary?.resetsAt, NOW + week);
    assert.equal(snapshot?.secondary?.resetsAt, NOW + week);
  });
});

describe("parseRateLimitsEvent", () => {
  it("reads the codex.rate_limits event as the headers of the same answer", () => {
    const event = rateLimitsEvent(NOW, "pro");
    const snapshot = parseRateLimitsEvent(
      JSON.parse(JSON.stringify(event)),
      NOW,
    );
    assert.equal(snapshot?.planType, "pro");
    assert.equal(snapshot?.observedAt, NOW);
    assert.equal(snapshot?.hasCredits, false);
    const limits = event.rate_limits as Record<
      string,
      Record<string, number>
    >;
    assert.deepEqual(snapshot?.primary, {
      usedPercent: limits.primary.used_percent,
      windowMinutes: limits.primary.window_minutes,
      resetsAt: limits.primary.reset_at * 1000,
    });
    assert.equal(snapshot?.secondary?.windowMinutes, 10080);
  });

  it("takes reset_after_seconds without reset_at, leaves out what it cannot read, clamps resets", () => {
    const snapshot = parseRateLimitsEvent({
      type: "codex.rate_limits",
      plan_type: 3,
      rate_limits: {
        primary: { used_percent: "12", reset_after_seconds: 60 },
        secondary: { reset_at: 1e300 },
      },
      credits: { has_credits: "yes" },
    }, NOW);
    assert.deepEqual(snapshot, {
      observedAt: NOW,
      primary: { resetsAt: NOW + 60_000 },
      secondary: { resetsAt: NOW + 7 * 24 * 3600 * 1000 },
    });
  });

  it("reads nothing from another event", () => {
    assert.equal(
      parseRateLimitsEvent({ type: "response.created" }, NOW),
      undefined,
    );
    assert.equal(parseRateLimitsEvent("codex.rate_limits", NOW), undefined);
  });
});
