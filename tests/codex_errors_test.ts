import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  accountStateOf,
  classifyUpstreamError,
  errorBody,
  failureError,
  MAX_PASSED_TEXT,
  parseRetryAfter,
  scrubSecrets,
  sseErrorEvent,
  usageLimitError,
  usageLimitResetsAt,
} from "../src/codex/errors.ts";
import { RelayError } from "../src/errors.ts";

const NOW = Date.UTC(2026, 4, 5, 0, 0, 0);
const JWT =
  "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWxsZXIifQ.c2lnbmF0dXJlc2lnbmF0dXJl";

function classify(
  status: number,
  body: unknown = "",
  headers: Record<string, string> = {},
  model?: string,
) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  return classifyUpstreamError(status, new Headers(headers), text, {
    now: NOW,
    model,
  });
}

/** The backend's statement that the account's plan lacks `model`. */
function notSupported(model: string): string {
  return `The '${model}' model is not supported when using Codex with a ChatGPT account.`;
}

function assertNoSecrets(text: string): void {
  assert.doesNotMatch(text, /eyJ/);
  assert.doesNotMatch(text, /Bearer\s+(?!\[redacted\])/i);
}

describe("classifyUpstreamError usage limits", () => {
  const resetsAt = NOW / 1000 + 3600;
  const usageBody = {
    error: {
      type: "usage_limit_reached",
      message: "The usage limit has been reached",
      plan_type: "plus",
      resets_at: resetsAt,
      eligible_promo: null,
      resets_in_seconds: 3600,
    },
  };

  it("maps a 429 usage limit to 429 usage_limit_reached with the reset time", () => {
    const verdict = classify(429, usageBody);
    assert.equal(verdict.error.status, 429);
    assert.equal(verdict.error.code, "usage_limit_reached");
    assert.equal(verdict.retryable, false);
    assert.deepEqual(verdict.usageLimit, { resetsAt: resetsAt * 1000 });
    assert.match(verdict.error.message, /2026-05-05T01:00:00\.000Z/);
    assert.equal(verdict.error.headers["retry-after"], "3600");
    assert.equal(verdict.error.details.resets_at, resetsAt);
    assert.equal(verdict.unauthorized, false);
  });

  it("does not pass the seller's plan type to the buyer", () => {
    const verdict = classify(429, usageBody);
    assert.doesNotMatch(JSON.stringify(verdict.error.toJSON()), /plus/);
  });

  it("treats the same usage-limit body under 404 as a usage limit", () => {
    const verdict = classify(404, usageBody);
    assert.equal(verdict.error.status, 429);
    assert.equal(verdict.error.code, "usage_limit_reached");
    assert.deepEqual(verdict.usageLimit, { resetsAt: resetsAt * 1000 });
  });

  it("uses resets_in_seconds when resets_at is absent", () => {
    const verdict = classify(429, {
      error: { type: "usage_limit_reached", resets_in_seconds: 120 },
    });
    assert.deepEqual(verdict.usageLimit, { resetsAt: NOW + 120_000 });
    assert.equal(verdict.error.headers["retry-after"], "120");
  });

  it("falls back to retry-after, then to the default, without a reset time", () => {
    const withHeader = classify(
      429,
      { error: { code: "usage_limit_reached" } },
      { "retry-after": "30" },
    );
    assert.deepEqual(withHeader.usageLimit, { resetsAt: NOW + 30_000 });
    const bare = classify(429, { error: { type: "usage_limit_reached" } });
    // A minute: a guess must not block the seller for long.
    assert.deepEqual(bare.usageLimit, { resetsAt: NOW + 60_000 });
  });

  it("gives a retry-after of at least one second for a reset in the past", () => {
    const verdict = classify(429, {
      error: { type: "usage_limit_reached", resets_at: NOW / 1000 - 10 },
    });
    assert.equal(verdict.error.headers["retry-after"], "1");
  });

  it("reads a reset time beyond 7 days, or beyond the range of Date, as 7 days from now", () => {
    const week = 7 * 24 * 3600 * 1000;
    for (
      const error of [
        { resets_at: 1e300 },
        { resets_at: NOW / 1000 + 30 * 24 * 3600 },
        { resets_in_seconds: 1e300 },
        { resets_at: -1e300 },
      ]
    ) {
      const verdict = classify(429, {
        error: { type: "usage_limit_reached", ...error },
      });
      const expected = error.resets_at === -1e300 ? NOW : NOW + week;
      assert.deepEqual(verdict.usageLimit, { resetsAt: expected });
      assert.match(verdict.error.message, /resets at \d{4}-\d\d-\d\dT/);
    }
    assert.equal(
      usageLimitResetsAt({ resetsAt: Number.NaN }, { now: NOW }),
      NOW + 60_000,
    );
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": "99999999999999999999" })),
      week,
    );
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after-ms": "99999999999999" })),
      week,
    );
    // And a time given directly that Date cannot show does not throw.
    assert.match(
      usageLimitError(1e303, { now: NOW }).message,
      /an unknown time/,
    );
  });

  it("maps usage_not_included to 503 usage_not_included, not retryable", () => {
    const verdict = classify(429, {
      error: { type: "usage_not_included", message: "Upgrade" },
    });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "usage_not_included");
    assert.equal(verdict.retryable, false);
    assert.equal(verdict.usageLimit, undefined);
  });
});

describe("classifyUpstreamError seller-side failures", () => {
  it("maps 401 to 503 upstream_auth_failed and flags it unauthorized", () => {
    const verdict = classify(401, {
      error: {
        message: "Provided authentication token is expired.",
        code: "token_expired",
      },
    });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_auth_failed");
    assert.equal(verdict.unauthorized, true);
    assert.equal(verdict.retryable, false);
    assert.match(verdict.error.message, /token_expired/);
  });

  it("maps 401 with a FastAPI detail to the same error", () => {
    const verdict = classify(401, { detail: "Unauthorized" });
    assert.equal(verdict.error.code, "upstream_auth_failed");
    assert.equal(verdict.unauthorized, true);
  });

  it("maps 402 deactivated_workspace to 503 upstream_workspace_deactivated", () => {
    const verdict = classify(402, {
      detail: { code: "deactivated_workspace" },
    });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_workspace_deactivated");
    assert.equal(verdict.retryable, false);
  });

  it("maps another 402 to 503 upstream_payment_required", () => {
    const verdict = classify(402, "");
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_payment_required");
  });

  it("maps a 403 JSON error to 503 upstream_forbidden naming the code", () => {
    const verdict = classify(403, {
      detail: { code: "phone_verification_required" },
    });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_forbidden");
    assert.match(verdict.error.message, /phone_verification_required/);
    assert.equal(verdict.retryable, false);
  });

  it("maps a Cloudflare HTML 403 to 503 upstream_blocked, not the account's fault, without passing HTML", () => {
    const html =
      "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>cf challenge</body></html>";
    const verdict = classify(403, html, { "content-type": "text/html" });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_blocked");
    assert.equal(verdict.retryable, false);
    assert.match(verdict.error.message, /edge.*this seller machine's traffic/);
    assert.match(verdict.error.message, /not the seller's account/);
    assert.doesNotMatch(verdict.error.message, /<|Just a moment/);
  });

  it("maps an HTML 403 without a content-type to upstream_blocked", () => {
    const verdict = classify(
      403,
      "<html><body>Attention Required!</body></html>",
    );
    assert.equal(verdict.error.code, "upstream_blocked");
  });

  it("maps any answer with cf-mitigated: challenge to upstream_blocked, and asks for no refresh", () => {
    for (const status of [401, 403, 429, 503]) {
      const verdict = classify(status, { detail: "Unauthorized" }, {
        "cf-mitigated": "challenge",
      });
      assert.equal(verdict.error.code, "upstream_blocked", `status ${status}`);
      assert.equal(verdict.error.status, 503);
      assert.equal(verdict.unauthorized, false, `status ${status}`);
      assert.equal(verdict.retryable, false, `status ${status}`);
    }
  });

  it("keeps the backend's own JSON 403 out of upstream_blocked", () => {
    const verdict = classify(403, {
      error: { code: "account_deactivated", message: "Deactivated" },
    });
    assert.equal(verdict.error.code, "upstream_account_deactivated");
  });
});

describe("classifyUpstreamError bad requests", () => {
  it("passes a FastAPI string detail on as 400 upstream_bad_request", () => {
    const verdict = classify(400, { detail: "Instructions are required" });
    assert.equal(verdict.error.status, 400);
    assert.equal(verdict.error.code, "upstream_bad_request");
    assert.match(verdict.error.message, /Instructions are required$/);
    assert.equal(verdict.retryable, false);
  });

  it("describes a FastAPI validation array detail by location and message", () => {
    const verdict = classify(422, {
      detail: [
        { loc: ["body", "input"], msg: "field required", type: "missing" },
        { loc: ["body", "model"], msg: "str type expected" },
      ],
    });
    assert.equal(verdict.error.status, 400);
    assert.match(
      verdict.error.message,
      /body\.input: field required; body\.model: str type expected/,
    );
  });

  it("stringifies an object detail", () => {
    const verdict = classify(400, { detail: { reason: "odd", n: 1 } });
    assert.match(verdict.error.message, /\{"reason":"odd","n":1\}/);
  });

  it("truncates a long detail", () => {
    const verdict = classify(400, { detail: "x".repeat(5000) });
    assert.ok(verdict.error.message.length < MAX_PASSED_TEXT + 100);
    assert.match(verdict.error.message, /…$/);
  });

  it("keeps the upstream code of an OpenAI-shaped 400 error", () => {
    const verdict = classify(400, {
      error: {
        message: "Your input exceeds the context window",
        code: "context_length_exceeded",
      },
    });
    assert.equal(verdict.error.code, "context_length_exceeded");
    assert.match(verdict.error.message, /context window/);
  });

  it("recognises the backend's statement that the requested model is not supported as model_not_supported", () => {
    const verdict = classify(
      400,
      { detail: notSupported("gpt-9") },
      {},
      "gpt-9",
    );
    assert.equal(verdict.error.status, 400);
    assert.equal(verdict.error.code, "model_not_supported");
    assert.match(verdict.error.message, /gpt-9/);
  });

  it("recognises the statement without its final period, or as an error message", () => {
    const text = notSupported("gpt-9");
    assert.equal(
      classify(400, { detail: text.slice(0, -1) }, {}, "gpt-9").error.code,
      "model_not_supported",
    );
    assert.equal(
      classify(400, { error: { message: text } }, {}, "gpt-9").error.code,
      "model_not_supported",
    );
  });

  it("does not take a 400 that merely contains the statement (an echo of the buyer's input) for model_not_supported", () => {
    const statement = notSupported("gpt-5.4");
    for (
      const body of [
        { detail: `Unsupported parameter: ${statement}` },
        { detail: `${statement} ${statement}` },
        { detail: "Invalid value: 'the model is not supported'" },
        {
          error: {
            message: `Invalid 'input[0].id': '${statement}'.`,
            type: "invalid_request_error",
          },
        },
      ]
    ) {
      const verdict = classify(400, body, {}, "gpt-5.4");
      assert.equal(
        verdict.error.code,
        "upstream_bad_request",
        JSON.stringify(body),
      );
      assert.equal(verdict.error.status, 400);
    }
  });

  it("does not take the statement about another model, or without knowing the model requested, for model_not_supported", () => {
    const about54 = { detail: notSupported("gpt-5.4") };
    assert.equal(
      classify(400, about54, {}, "gpt-5.5").error.code,
      "upstream_bad_request",
    );
    assert.equal(classify(400, about54).error.code, "upstream_bad_request");
  });

  it("does not pass on a model_not_supported code without the statement", () => {
    const verdict = classify(
      400,
      {
        error: { code: "model_not_supported", message: "Nope" },
      },
      {},
      "gpt-5.4",
    );
    assert.equal(verdict.error.code, "upstream_bad_request");
    assert.match(verdict.error.message, /Nope/);
  });

  it("passes a short plain-text 400 body on", () => {
    const verdict = classify(400, "Bad things");
    assert.match(verdict.error.message, /Bad things/);
  });

  it("maps a 404 item not found to 404 item_not_found with the detail", () => {
    const verdict = classify(404, {
      detail:
        "Item with id 'rs_123' not found. Items are not persisted when `store` is set to false.",
    });
    assert.equal(verdict.error.status, 404);
    assert.equal(verdict.error.code, "item_not_found");
    assert.match(verdict.error.message, /rs_123/);
  });

  it("maps any other 404 to 502 upstream_not_found", () => {
    const verdict = classify(404, { detail: "Not Found" });
    assert.equal(verdict.error.status, 502);
    assert.equal(verdict.error.code, "upstream_not_found");
  });

  it("maps 413 to 413 request_too_large", () => {
    const verdict = classify(413, "");
    assert.equal(verdict.error.status, 413);
    assert.equal(verdict.error.code, "request_too_large");
  });
});

describe("classifyUpstreamError rate limits and server errors", () => {
  it("maps a plain 429 to a retryable 429 rate_limited with retry-after", () => {
    const verdict = classify(429, { detail: "Too many requests" }, {
      "retry-after": "7",
    });
    assert.equal(verdict.error.status, 429);
    assert.equal(verdict.error.code, "rate_limited");
    assert.equal(verdict.retryable, true);
    assert.equal(verdict.retryAfterMs, 7000);
    assert.equal(verdict.error.headers["retry-after"], "7");
    assert.equal(verdict.usageLimit, undefined);
  });

  it("maps a plain 429 without retry-after to rate_limited without the header", () => {
    const verdict = classify(429, "");
    assert.equal(verdict.retryable, true);
    assert.equal(verdict.retryAfterMs, undefined);
    assert.equal("retry-after" in verdict.error.headers, false);
  });

  it("does not retry a 429 insufficient_quota", () => {
    const verdict = classify(429, {
      error: { code: "insufficient_quota", message: "Quota exceeded" },
    });
    assert.equal(verdict.error.status, 429);
    assert.equal(verdict.error.code, "insufficient_quota");
    assert.equal(verdict.retryable, false);
  });

  it("maps 503 server_is_overloaded to a retryable 503 server_is_overloaded", () => {
    const verdict = classify(503, { error: { code: "server_is_overloaded" } });
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "server_is_overloaded");
    assert.equal(verdict.retryable, true);
  });

  it("maps 500 and 502 to a retryable 502 upstream_error", () => {
    for (const status of [500, 502]) {
      const verdict = classify(status, "oops");
      assert.equal(verdict.error.status, 502, `${status}`);
      assert.equal(verdict.error.code, "upstream_error");
      assert.equal(verdict.retryable, true);
    }
  });

  it("maps 503 to a retryable 503 upstream_unavailable", () => {
    const verdict = classify(503, "");
    assert.equal(verdict.error.status, 503);
    assert.equal(verdict.error.code, "upstream_unavailable");
    assert.equal(verdict.retryable, true);
  });

  it("maps 504 to a retryable 502 upstream_timeout", () => {
    const verdict = classify(504, "<html>gateway timeout</html>");
    assert.equal(verdict.error.status, 502);
    assert.equal(verdict.error.code, "upstream_timeout");
    assert.equal(verdict.retryable, true);
  });

  it("does not retry other statuses", () => {
    for (const status of [501, 505, 409, 302]) {
      const verdict = classify(status, "");
      assert.equal(verdict.retryable, false, `${status}`);
      assert.equal(verdict.error.status, 502, `${status}`);
    }
  });

  it("reports the retry-after of a 503", () => {
    const verdict = classify(503, "", { "retry-after-ms": "1500" });
    assert.equal(verdict.retryAfterMs, 1500);
  });

  it("never throws on an unreadable body", () => {
    for (const body of ["", "{", "null", "[1,2]", '{"error":5}', '"x"']) {
      const verdict = classify(400, body);
      assert.ok(verdict.error instanceof RelayError, body);
    }
  });
});

describe("classifyUpstreamError secrets", () => {
  it("scrubs bearer tokens and JWTs out of passed-on text", () => {
    const verdict = classify(400, {
      detail:
        `Header was Bearer ${JWT} and token ${JWT} with key sk-abcdefghijklmnop`,
    });
    assertNoSecrets(verdict.error.message);
    assert.doesNotMatch(verdict.error.message, /sk-abcdefghijklmnop/);
    assert.match(verdict.error.message, /\[redacted\]/);
  });

  it("scrubs an opaque bearer token, one that is not a JWT", () => {
    const verdict = classify(400, {
      detail: "Header was Bearer opaque_token.12345, check it",
    });
    assert.doesNotMatch(verdict.error.message, /opaque_token/);
    assert.match(verdict.error.message, /Bearer \[redacted\], check it/);
  });

  it("does not expose a JWT cut by truncation", () => {
    const verdict = classify(400, {
      detail: `${"x".repeat(MAX_PASSED_TEXT - 20)} ${JWT}`,
    });
    assertNoSecrets(verdict.error.message);
  });

  it("scrubs secrets from a stream failure message", () => {
    const error = failureError("server_error", `token ${JWT}`);
    assertNoSecrets(error.message);
  });

  it("leaves ordinary text alone", () => {
    assert.equal(
      scrubSecrets("Instructions are required"),
      "Instructions are required",
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads retry-after seconds", () => {
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": "3" }), NOW),
      3000,
    );
  });

  it("reads fractional retry-after seconds", () => {
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": "1.5" }), NOW),
      1500,
    );
  });

  it("prefers retry-after-ms", () => {
    const headers = new Headers({
      "retry-after-ms": "250",
      "retry-after": "3",
    });
    assert.equal(parseRetryAfter(headers, NOW), 250);
  });

  it("reads an HTTP date", () => {
    const date = new Date(NOW + 10_000).toUTCString();
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": date }), NOW),
      10_000,
    );
  });

  it("gives 0 for an HTTP date in the past", () => {
    const date = new Date(NOW - 10_000).toUTCString();
    assert.equal(parseRetryAfter(new Headers({ "retry-after": date }), NOW), 0);
  });

  it("gives undefined when absent or unreadable", () => {
    assert.equal(parseRetryAfter(new Headers(), NOW), undefined);
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": "soon" }), NOW),
      undefined,
    );
    assert.equal(
      parseRetryAfter(new Headers({ "retry-after": "-5" }), NOW),
      undefined,
    );
  });
});

describe("failureError", () => {
  const cases: Array<[string, number]> = [
    ["context_length_exceeded", 400],
    ["invalid_prompt", 400],
    ["usage_not_included", 503],
    ["insufficient_quota", 429],
    ["usage_limit_reached", 429],
    ["rate_limit_exceeded", 429],
    ["server_is_overloaded", 503],
    ["something_else", 502],
  ];

  it("maps each stream failure code to its status and keeps the code", () => {
    for (const [code, status] of cases) {
      const error = failureError(code, "msg");
      assert.equal(error.status, status, code);
      assert.equal(error.code, code);
    }
  });

  it("uses upstream_failed and a default message without a code or message", () => {
    const error = failureError(undefined, undefined);
    assert.equal(error.status, 502);
    assert.equal(error.code, "upstream_failed");
    assert.equal(error.message, "The upstream response failed");
  });

  it("does not use a code that is not a plain identifier", () => {
    assert.equal(failureError("<b>bad code</b>", "m").code, "upstream_failed");
  });
});

describe("usageLimitError", () => {
  it("names the reset time and sets retry-after and resets_at", () => {
    const error = usageLimitError(NOW + 90_500, { now: NOW });
    assert.equal(error.status, 429);
    assert.equal(error.code, "usage_limit_reached");
    assert.equal(error.headers["retry-after"], "91");
    assert.equal(error.details.resets_at, Math.floor((NOW + 90_500) / 1000));
    assert.match(error.message, /2026-05-05T00:01:30\.500Z/);
  });
});

describe("errorBody", () => {
  it("encodes the OpenAI-shaped error JSON", () => {
    const error = new RelayError(429, "usage_limit_reached", "Limit", {
      details: { resets_at: 5 },
    });
    const body = JSON.parse(new TextDecoder().decode(errorBody(error)));
    assert.deepEqual(body, {
      error: {
        message: "Limit",
        type: "rate_limit_error",
        code: "usage_limit_reached",
        resets_at: 5,
      },
    });
  });
});

describe("sseErrorEvent", () => {
  const error = new RelayError(
    502,
    "upstream_stream_incomplete",
    "Closed\nearly",
  );

  function decode(
    bytes: Uint8Array,
  ): { head: string; data: Record<string, unknown> } {
    const text = new TextDecoder().decode(bytes);
    assert.ok(text.endsWith("\n\n"), "ends with a blank line");
    const lines = text.slice(0, -2).split("\n");
    assert.equal(lines.length, 2, "one event line and one data line");
    assert.ok(lines[1].startsWith("data: "));
    return { head: lines[0], data: JSON.parse(lines[1].slice(6)) };
  }

  it("frames a response.failed event with the error", () => {
    const { head, data } = decode(sseErrorEvent(error, { sequenceNumber: 12 }));
    assert.equal(head, "event: response.failed");
    assert.deepEqual(data, {
      type: "response.failed",
      sequence_number: 12,
      response: {
        object: "response",
        status: "failed",
        error: { code: "upstream_stream_incomplete", message: "Closed\nearly" },
      },
    });
  });

  it("includes the response id when given and defaults the sequence number to 0", () => {
    const { data } = decode(sseErrorEvent(error, { responseId: "resp_1" }));
    assert.equal(data.sequence_number, 0);
    assert.equal((data.response as Record<string, unknown>).id, "resp_1");
  });
});

describe("account errors that end a login (spec bodies)", () => {
  const cases: Array<
    [number, unknown, Record<string, string>, string, string | undefined]
  > = [
    [
      401,
      {
        error: {
          message:
            "Your authentication token has been invalidated. Please try signing in again.",
          type: "invalid_request_error",
          code: "token_invalidated",
          param: null,
        },
      },
      {},
      "upstream_auth_failed",
      "needs_login",
    ],
    [
      401,
      { error: { code: "token_revoked", message: "Revoked" } },
      {},
      "upstream_auth_failed",
      "needs_login",
    ],
    [
      402,
      { detail: { code: "deactivated_workspace" } },
      {},
      "upstream_workspace_deactivated",
      "deactivated",
    ],
    [
      403,
      { error: { code: "account_deactivated", message: "Deactivated" } },
      {},
      "upstream_account_deactivated",
      "deactivated",
    ],
    [
      403,
      { detail: { code: "phone_verification_required" } },
      {},
      "upstream_forbidden",
      "blocked",
    ],
    [
      429,
      {
        error: {
          type: "usage_not_included",
          message: "No Codex",
          plan_type: "free",
          resets_at: null,
          eligible_promo: null,
        },
      },
      {},
      "usage_not_included",
      "no_codex_access",
    ],
    [
      403,
      "<!DOCTYPE html><html><title>Just a moment...</title></html>",
      {},
      "upstream_blocked",
      undefined,
    ],
    [
      403,
      { error: { code: "account_deactivated" } },
      { "cf-mitigated": "challenge" },
      "upstream_blocked",
      undefined,
    ],
  ];

  it("classifies each to a 503 whose code names the login's state", () => {
    for (const [status, body, headers, code, state] of cases) {
      const verdict = classify(status, body, headers);
      assert.equal(verdict.error.status, 503, code);
      assert.equal(verdict.error.code, code);
      assert.equal(verdict.retryable, false, code);
      assert.equal(accountStateOf(verdict.error.code), state, code);
    }
  });

  it("gives no state for transient or buyer-side codes", () => {
    for (
      const code of [
        "upstream_blocked",
        "upstream_auth_unavailable",
        "upstream_payment_required",
        "usage_limit_reached",
        "model_not_supported",
        "toString",
      ]
    ) {
      assert.equal(accountStateOf(code), undefined, code);
    }
  });

  it("gives usage_not_included inside a stream the same 503", () => {
    const error = failureError("usage_not_included", "No Codex");
    assert.equal(error.status, 503);
    assert.equal(accountStateOf(error.code), "no_codex_access");
  });
});
