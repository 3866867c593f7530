import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { CredentialsError } from "../src/errors.ts";
import {
  credentialsInfo,
  parseLastRefresh,
  readCredentials,
} from "../src/auth/auth_file.ts";
import { readTokenClaims } from "../src/auth/claims.ts";
import { planRefresh } from "../src/auth/policy.ts";
import {
  makeAccessToken,
  makeAuthJson,
  makeIdToken,
  makeJwt,
} from "../src/testing/jwt.ts";
import {
  assertNoSecrets,
  epochIn,
  type TempDir,
  tempDir,
} from "./fixtures/auth_helpers.ts";

let dir: TempDir;
let serial = 0;
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await dir.cleanup();
});

async function fileWith(content: unknown): Promise<string> {
  const path = dir.file(`auth_${++serial}.json`);
  await writeFile(
    path,
    typeof content === "string" ? content : JSON.stringify(content),
  );
  return path;
}

async function credentialsError(
  path: string,
  parseRetryMs = 0,
): Promise<CredentialsError> {
  try {
    await readCredentials(path, { parseRetryMs });
  } catch (error) {
    assert.ok(error instanceof CredentialsError, `got ${error}`);
    assert.doesNotMatch(error.message, /\.$/, "no trailing period");
    return error;
  }
  assert.fail("expected readCredentials to throw");
}

describe("readCredentials", () => {
  it("reads tokens, account, plan, email, expiry and last refresh", async () => {
    const exp = epochIn(3600);
    const path = await fileWith(
      makeAuthJson({
        accountId: "acct_42",
        plan: "pro",
        email: "me@example.com",
        exp,
        refreshToken: "rt_x",
        lastRefresh: "2026-01-02T03:04:05.123456Z",
      }),
    );
    const creds = await readCredentials(path);
    assert.equal(creds.accountId, "acct_42");
    assert.equal(creds.plan, "pro");
    assert.equal(creds.email, "me@example.com");
    assert.equal(creds.expiresAt, exp * 1000);
    assert.equal(creds.refreshToken, "rt_x");
    assert.equal(creds.lastRefresh, Date.UTC(2026, 0, 2, 3, 4, 5, 123));
    assert.equal(creds.authFile, path);
    assert.equal(typeof creds.idToken, "string");
  });

  it("takes the account id from the access token before the id token and tokens.account_id", async () => {
    const document = makeAuthJson({ accountId: "acct_id_token" });
    const tokens = document.tokens as Record<string, unknown>;
    tokens.access_token = makeAccessToken({ accountId: "acct_access" });
    tokens.account_id = "acct_field";
    const creds = await readCredentials(await fileWith(document));
    assert.equal(creds.accountId, "acct_access");
  });

  it("falls back to the id token's account id", async () => {
    const document = makeAuthJson({ accountId: "acct_id_token" });
    const tokens = document.tokens as Record<string, unknown>;
    tokens.access_token = makeJwt({ exp: epochIn(3600) });
    tokens.account_id = "acct_field";
    const creds = await readCredentials(await fileWith(document));
    assert.equal(creds.accountId, "acct_id_token");
  });

  it("falls back to tokens.account_id when no token carries the claim", async () => {
    const document = makeAuthJson();
    const tokens = document.tokens as Record<string, unknown>;
    tokens.access_token = "opaque-access-token";
    tokens.id_token = makeJwt({ email: "a@example.com" });
    tokens.account_id = "acct_field";
    const creds = await readCredentials(await fileWith(document));
    assert.equal(creds.accountId, "acct_field");
    assert.equal(creds.expiresAt, undefined);
    assert.equal(creds.email, "a@example.com");
  });

  it("keeps unknown fields in the document", async () => {
    const document = { ...makeAuthJson(), future_field: { a: 1 } };
    const creds = await readCredentials(await fileWith(document));
    assert.deepEqual(creds.document.future_field, { a: 1 });
  });

  it("explains a missing file: codex login, the settings, and keyring logins", async () => {
    const error = await credentialsError(dir.file("does_not_exist.json"));
    assert.equal(error.code, "auth_file_missing");
    assert.match(error.message, /codex login/);
    assert.match(error.message, /OPENAI_RESPONSES_AUTH_FILE/);
    assert.match(error.message, /CODEX_HOME/);
    assert.match(error.message, /cli_auth_credentials_store = "keyring"/);
    assert.ok(error.message.includes(dir.file("does_not_exist.json")));
  });

  it("rejects a file that is not JSON without quoting it", async () => {
    const secret = makeAccessToken();
    const error = await credentialsError(
      await fileWith(`{"tokens": {"access_token": "${secret}"`),
    );
    assert.equal(error.code, "auth_file_invalid");
    assert.match(error.message, /expected JSON/);
    assertNoSecrets(error, [secret]);
  });

  it("rejects a JSON value that is not an object", async () => {
    const error = await credentialsError(await fileWith("[1, 2]"));
    assert.equal(error.code, "auth_file_invalid");
    assert.match(error.message, /found an array/);
  });

  it("rejects an API-key-only login", async () => {
    const error = await credentialsError(
      await fileWith({ OPENAI_API_KEY: "sk-test-key", tokens: null }),
    );
    assert.equal(error.code, "auth_api_key_only");
    assert.match(error.message, /codex login/);
    assertNoSecrets(error, ["sk-test-key"]);
  });

  it("rejects tokens without an access token", async () => {
    const error = await credentialsError(
      await fileWith({ tokens: { refresh_token: "rt_secret_1" } }),
    );
    assert.equal(error.code, "auth_token_missing");
    assertNoSecrets(error, ["rt_secret_1"]);
  });

  it("rejects a login without any account id", async () => {
    const error = await credentialsError(
      await fileWith({
        tokens: {
          access_token: makeJwt({ exp: epochIn(3600) }),
          id_token: makeJwt({}),
          refresh_token: "rt_secret_2",
        },
      }),
    );
    assert.equal(error.code, "auth_account_id_missing");
    assert.match(error.message, /codex login/);
  });

  it("reads a file again when it was caught half-written", async () => {
    const path = dir.file("half_written.json");
    const full = JSON.stringify(makeAuthJson({ accountId: "acct_late" }));
    await writeFile(path, full.slice(0, 25));
    const timer = setTimeout(() => writeFile(path, full), 150);
    try {
      const creds = await readCredentials(path, { parseRetryMs: 2000 });
      assert.equal(creds.accountId, "acct_late");
    } finally {
      clearTimeout(timer);
    }
  });

  it("reads an empty file again before calling it invalid", async () => {
    const path = dir.file("empty_then_full.json");
    await writeFile(path, "");
    const timer = setTimeout(
      () => writeFile(path, JSON.stringify(makeAuthJson())),
      100,
    );
    try {
      const creds = await readCredentials(path, { parseRetryMs: 2000 });
      assert.equal(creds.accountId, "acct_test");
    } finally {
      clearTimeout(timer);
    }
  });

  it("gives up on a file that stays broken", async () => {
    const path = await fileWith("");
    const started = Date.now();
    const error = await credentialsError(path, 200);
    assert.equal(error.code, "auth_file_invalid");
    assert.match(error.message, /an empty file/);
    assert.ok(Date.now() - started < 1500);
  });

  it("describes credentials without secrets", async () => {
    const document = makeAuthJson({ refreshToken: "rt_info" });
    const creds = await readCredentials(await fileWith(document));
    const info = credentialsInfo(creds);
    const text = JSON.stringify(info);
    assert.ok(!text.includes(creds.accessToken));
    assert.ok(!text.includes("rt_info"));
    assert.equal(info.accountId, "acct_test");
  });
});

describe("parseLastRefresh", () => {
  it("reads microseconds, nanoseconds and offsets", () => {
    const base = Date.UTC(2026, 0, 2, 3, 4, 5, 123);
    assert.equal(parseLastRefresh("2026-01-02T03:04:05.123456Z"), base);
    assert.equal(parseLastRefresh("2026-01-02T03:04:05.123456789Z"), base);
    assert.equal(
      parseLastRefresh("2026-01-02T04:04:05.123+01:00"),
      base,
    );
    assert.equal(parseLastRefresh("2026-01-02T03:04:05Z"), base - 123);
  });

  it("ignores what is not a timestamp", () => {
    assert.equal(parseLastRefresh("yesterday"), undefined);
    assert.equal(parseLastRefresh(12), undefined);
  });
});

describe("readTokenClaims", () => {
  it("reads nothing from opaque tokens", async () => {
    assert.deepEqual(await readTokenClaims("not-a-jwt", "also.not.jwt"), {});
  });

  it("reads the email from the id token", async () => {
    const claims = await readTokenClaims(
      makeAccessToken(),
      makeIdToken({ email: "x@example.com" }),
    );
    assert.equal(claims.email, "x@example.com");
  });
});

describe("planRefresh", () => {
  const now = Date.UTC(2026, 5, 1);

  it("uses a token valid for more than 5 minutes", () => {
    assert.deepEqual(planRefresh({ expiresAt: now + 6 * 60_000 }, now), {
      action: "use",
      reason: "valid",
    });
  });

  it("refreshes a token expiring within 5 minutes", () => {
    assert.equal(
      planRefresh({ expiresAt: now + 4 * 60_000 }, now).reason,
      "expires_soon",
    );
  });

  it("refreshes an expired token", () => {
    assert.equal(planRefresh({ expiresAt: now - 1 }, now).reason, "expired");
  });

  it("refreshes when exp is unreadable and last_refresh is older than 8 days", () => {
    const nineDays = 9 * 24 * 3600_000;
    assert.deepEqual(planRefresh({ lastRefresh: now - nineDays }, now), {
      action: "refresh",
      reason: "last_refresh_old",
    });
    assert.equal(
      planRefresh({ lastRefresh: now - 3600_000 }, now).action,
      "use",
    );
  });

  it("uses a token whose age is unknown", () => {
    assert.deepEqual(planRefresh({}, now), {
      action: "use",
      reason: "expiry_unknown",
    });
  });
});
