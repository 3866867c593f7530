import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import {
  CredentialsError,
  LoginRequiredError,
  TokenRefreshError,
} from "../src/errors.ts";
import { requestTokenRefresh } from "../src/auth/refresh.ts";
import {
  createTokenSource,
  type TokenSourceOptions,
} from "../src/auth/token_source.ts";
import type { TokenSource } from "../src/auth/types.ts";
import { writeAuthFile } from "../src/auth/write.ts";
import {
  type FakeTokenEndpoint,
  type FakeTokenEndpointOptions,
  startFakeTokenEndpoint,
} from "../src/testing/fake_token_endpoint.ts";
import { type AuthJsonOptions, makeAccessToken } from "../src/testing/jwt.ts";
import {
  assertNoSecrets,
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

interface Setup {
  dir: TempDir;
  authFile: string;
  endpoint: FakeTokenEndpoint;
  source: TokenSource;
  warnings: string[];
  /** Every token string written so far (for the no-secret assertions). */
  secrets(): Promise<string[]>;
  close(): Promise<void>;
}

const EXPIRED = { exp: epochIn(-60) };

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function setup(
  auth: AuthJsonOptions & { extra?: Record<string, unknown> } = {},
  sourceOptions: Partial<TokenSourceOptions> = {},
  endpointOptions: FakeTokenEndpointOptions = {},
): Promise<Setup> {
  const dir = await tempDir("auth-source-");
  const authFile = dir.file("auth.json");
  const refreshToken = auth.refreshToken ?? "rt_initial";
  const endpoint = await startFakeTokenEndpoint({
    refreshTokens: [refreshToken],
    ...endpointOptions,
  });
  await writeAuth(authFile, { ...auth, refreshToken }, auth.extra);
  const warnings: string[] = [];
  const source = createTokenSource(authFile, {
    tokenUrl: endpoint.url,
    reusedGraceMs: 200,
    onWarning: (message) => warnings.push(message),
    ...sourceOptions,
  });
  const seen = new Set<string>([refreshToken]);
  return {
    dir,
    authFile,
    endpoint,
    source,
    warnings,
    async secrets() {
      const document = JSON.parse(await readFile(authFile, "utf8"));
      for (const value of Object.values(document.tokens ?? {})) {
        if (typeof value === "string" && !value.startsWith("acct_")) {
          seen.add(value);
        }
      }
      for (const request of endpoint.requests) {
        if (request.fields.refresh_token) {
          seen.add(request.fields.refresh_token);
        }
      }
      if (endpoint.latestRefreshToken) seen.add(endpoint.latestRefreshToken);
      if (endpoint.latestAccessToken) seen.add(endpoint.latestAccessToken);
      return [...seen];
    },
    async close() {
      await endpoint.close();
      await dir.cleanup();
    },
  };
}

async function fileTokens(authFile: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(authFile, "utf8")).tokens;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail("expected a rejection");
}

describe("token source: init", () => {
  it("loads valid credentials without calling the token endpoint", async () => {
    const s = await setup({ accountId: "acct_init", plan: "pro" });
    try {
      const info = await s.source.init();
      assert.equal(info.accountId, "acct_init");
      assert.equal(info.plan, "pro");
      assert.equal(info.authFile, s.authFile);
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });

  it("refreshes an already expired token", async () => {
    const s = await setup(EXPIRED);
    try {
      const info = await s.source.init();
      assert.equal(s.endpoint.calls, 1);
      assert.ok(info.expiresAt! > Date.now());
      assert.equal(
        (await fileTokens(s.authFile)).refresh_token,
        s.endpoint.latestRefreshToken,
      );
    } finally {
      await s.close();
    }
  });

  it("fails with the missing-file message when there is no auth file", async () => {
    const dir = await tempDir("auth-source-");
    try {
      const source = createTokenSource(dir.file("auth.json"), {
        tokenUrl: "http://127.0.0.1:9/oauth/token",
      });
      const error = await rejection(source.init());
      assert.ok(error instanceof CredentialsError);
      assert.equal(error.code, "auth_file_missing");
      assert.match(error.message, /codex login/);
    } finally {
      await dir.cleanup();
    }
  });

  it("fails with login_required when an expired token cannot be refreshed", async () => {
    const s = await setup(EXPIRED, {}, {
      failure: { kind: "permanent", code: "refresh_token_invalidated" },
    });
    try {
      const error = await rejection(s.source.init());
      assert.ok(error instanceof LoginRequiredError);
      assert.equal(error.reason, "refresh_token_invalidated");
      assertNoSecrets(error, await s.secrets());
    } finally {
      await s.close();
    }
  });
});

describe("token source: getToken", () => {
  it("hands out a valid token without calling the token endpoint", async () => {
    const accessToken = makeAccessToken({ accountId: "acct_v" });
    const s = await setup({ accessToken, accountId: "acct_v" });
    try {
      assert.deepEqual(await s.source.getToken(), {
        accessToken,
        accountId: "acct_v",
      });
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });

  it("makes exactly one token-endpoint call for 50 concurrent callers of an expired token", async () => {
    const s = await setup(EXPIRED, {}, { delayMs: 50 });
    try {
      const tokens = await Promise.all(
        Array.from({ length: 50 }, () => s.source.getToken()),
      );
      assert.equal(s.endpoint.calls, 1);
      const distinct = new Set(tokens.map((token) => token.accessToken));
      assert.deepEqual([...distinct], [s.endpoint.latestAccessToken]);
      assert.equal(
        (await fileTokens(s.authFile)).refresh_token,
        s.endpoint.latestRefreshToken,
      );
    } finally {
      await s.close();
    }
  });

  it("refreshes a token that expires within 5 minutes", async () => {
    const s = await setup({ exp: epochIn(120) });
    try {
      const token = await s.source.getToken();
      assert.equal(s.endpoint.calls, 1);
      assert.equal(token.accessToken, s.endpoint.latestAccessToken);
    } finally {
      await s.close();
    }
  });

  it("refreshes when exp is unreadable and last_refresh is older than 8 days", async () => {
    const s = await setup({
      accessToken: "opaque-access-token",
      lastRefresh: "2020-01-01T00:00:00.000000Z",
    });
    try {
      const token = await s.source.getToken();
      assert.equal(s.endpoint.calls, 1);
      assert.equal(token.accessToken, s.endpoint.latestAccessToken);
    } finally {
      await s.close();
    }
  });

  it("picks up tokens another program wrote to the file", async () => {
    const s = await setup({}, { statIntervalMs: 0 });
    try {
      await s.source.getToken();
      const newer = makeAccessToken({
        accountId: "acct_test",
        extra: { n: 2 },
      });
      await writeAuth(s.authFile, {
        accessToken: newer,
        refreshToken: "rt_other",
      });
      assert.equal((await s.source.getToken()).accessToken, newer);
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });

  it("adopts the tokens another refresher wrote while it waited for the lock", async () => {
    // Two sources over one file behave like two processes: the second one
    // waits for the lock, reads the file again under it and skips its call.
    const s = await setup(EXPIRED, {}, { delayMs: 100 });
    try {
      const other = createTokenSource(s.authFile, { tokenUrl: s.endpoint.url });
      const [mine, theirs] = await Promise.all([
        s.source.getToken(),
        other.getToken(),
      ]);
      assert.equal(s.endpoint.calls, 1);
      assert.equal(mine.accessToken, s.endpoint.latestAccessToken);
      assert.equal(theirs.accessToken, s.endpoint.latestAccessToken);
    } finally {
      await s.close();
    }
  });

  it("fails with auth_file_missing when the file disappears", async () => {
    const s = await setup({}, { statIntervalMs: 0 });
    try {
      await s.source.getToken();
      await rm(s.authFile);
      const error = await rejection(s.source.getToken());
      assert.ok(error instanceof CredentialsError);
      assert.equal(error.code, "auth_file_missing");
    } finally {
      await s.close();
    }
  });
});

describe("token source: looking at the file", () => {
  it("looks at auth.json about once a second by default", async () => {
    const s = await setup();
    try {
      const first = await s.source.getToken();
      const newer = makeAccessToken({ extra: { n: 2 } });
      await writeAuth(s.authFile, { accessToken: newer, refreshToken: "rt_2" });
      const written = Date.now();
      // Checked against the file a moment ago: the cached token.
      assert.equal((await s.source.getToken()).accessToken, first.accessToken);
      // The change is seen once the second has passed (3 s: a loaded machine).
      let seen = first.accessToken;
      while (seen !== newer && Date.now() - written < 3000) {
        await sleep(25);
        seen = (await s.source.getToken()).accessToken;
      }
      assert.equal(seen, newer, "the new token was not seen within 3 s");
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });

  it("sees a change once statIntervalMs has passed", async () => {
    const s = await setup({}, { statIntervalMs: 400 });
    try {
      const first = await s.source.getToken();
      const newer = makeAccessToken({ extra: { n: 3 } });
      await writeAuth(s.authFile, { accessToken: newer, refreshToken: "rt_3" });
      assert.equal((await s.source.getToken()).accessToken, first.accessToken);
      await sleep(450);
      assert.equal((await s.source.getToken()).accessToken, newer);
      await rm(s.authFile);
      await sleep(450);
      const error = await rejection(s.source.getToken());
      assert.ok(error instanceof CredentialsError);
      assert.equal(error.code, "auth_file_missing");
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });

  it("reads the file at once after a backend 401, whatever the interval", async () => {
    const s = await setup({}, { statIntervalMs: 60_000 });
    try {
      const first = await s.source.getToken();
      const newer = makeAccessToken({ extra: { n: 4 } });
      await writeAuth(s.authFile, { accessToken: newer, refreshToken: "rt_4" });
      const next = await s.source.handleUnauthorized(first);
      assert.equal(next?.accessToken, newer);
      assert.equal((await s.source.getToken()).accessToken, newer);
      assert.equal(s.endpoint.calls, 0);
    } finally {
      await s.close();
    }
  });
});

describe("token source: write-back", () => {
  it("keeps refreshed tokens in memory and warns when they cannot be written back", async () => {
    const s = await setup(EXPIRED, { statIntervalMs: 60_000 }, {
      delayMs: 400,
    });
    try {
      const before = await s.secrets();
      const pending = s.source.getToken();
      while (s.endpoint.calls === 0) await sleep(5);
      // While the endpoint answers, auth.json turns into something a rename
      // cannot replace (a folder that is not empty): the write-back fails
      // after the old refresh token has been spent.
      await rm(s.authFile);
      await mkdir(s.authFile);
      await writeFile(`${s.authFile}/keep`, "");
      const token = await pending;
      assert.equal(token.accessToken, s.endpoint.latestAccessToken);
      assert.equal(s.warnings.length, 1);
      assert.match(s.warnings[0], /refreshed but could not be saved/);
      assert.match(s.warnings[0], /codex login/);
      assertNoSecrets(new Error(s.warnings[0]), [
        ...before,
        token.accessToken,
        s.endpoint.latestRefreshToken!,
      ]);
      assert.deepEqual(
        await readdir(s.authFile),
        ["keep"],
        "no temp file left",
      );
      // The new tokens keep being handed out without another refresh.
      assert.equal((await s.source.getToken()).accessToken, token.accessToken);
      assert.equal(s.endpoint.calls, 1);
    } finally {
      await s.close();
    }
  });

  it("keeps mode 0600, unknown fields, account id and sets last_refresh", async () => {
    const s = await setup({
      ...EXPIRED,
      extra: { future_field: { keep: true } },
    });
    try {
      const raw = JSON.parse(await readFile(s.authFile, "utf8"));
      raw.tokens.token_extra = "kept";
      await writeFile(s.authFile, JSON.stringify(raw), { mode: 0o600 });
      await chmod(s.authFile, 0o600);
      await s.source.getToken();
      const after = JSON.parse(await readFile(s.authFile, "utf8"));
      assert.equal((await stat(s.authFile)).mode & 0o777, 0o600);
      assert.deepEqual(after.future_field, { keep: true });
      assert.equal(after.auth_mode, "chatgpt");
      assert.equal(after.OPENAI_API_KEY, null);
      assert.equal(after.tokens.token_extra, "kept");
      assert.equal(after.tokens.account_id, "acct_test");
      assert.equal(after.tokens.refresh_token, s.endpoint.latestRefreshToken);
      assert.match(after.last_refresh, /^\d{4}-\d\d-\d\dT[\d:]{8}\.\d{6}Z$/);
      assert.ok(Date.now() - Date.parse(after.last_refresh) < 60_000);
      assert.deepEqual(await readdir(s.dir.path), ["auth.json"]);
    } finally {
      await s.close();
    }
  });

  it("writes through a symlinked auth.json and keeps the link", async () => {
    const s = await setup(EXPIRED);
    try {
      const realDir = s.dir.file("real");
      await mkdir(realDir);
      const real = `${realDir}/auth.json`;
      await writeFile(real, await readFile(s.authFile), { mode: 0o600 });
      const link = s.dir.file("link.json");
      await symlink(real, link);
      const source = createTokenSource(link, { tokenUrl: s.endpoint.url });
      await source.getToken();
      assert.equal((await lstat(link)).isSymbolicLink(), true);
      assert.equal(await readlink(link), real);
      assert.equal(
        JSON.parse(await readFile(real, "utf8")).tokens.refresh_token,
        s.endpoint.latestRefreshToken,
      );
      assert.deepEqual((await readdir(realDir)).sort(), ["auth.json"]);
    } finally {
      await s.close();
    }
  });

  it("keeps the old refresh token when the endpoint returns none", async () => {
    const s = await setup(EXPIRED, {}, { omit: ["refresh_token", "id_token"] });
    try {
      const before = await fileTokens(s.authFile);
      await s.source.getToken();
      const after = await fileTokens(s.authFile);
      assert.equal(after.refresh_token, "rt_initial");
      assert.equal(after.id_token, before.id_token);
      assert.equal(after.access_token, s.endpoint.latestAccessToken);
    } finally {
      await s.close();
    }
  });
});

describe("token source: handleUnauthorized", () => {
  it("returns the file's newer token without a refresh when another process already refreshed", async () => {
    const s = await setup();
    try {
      const failed = await s.source.getToken();
      // Another process refreshes and writes the file.
      const other = await requestTokenRefresh(s.endpoint.url, "rt_initial");
      const document = JSON.parse(await readFile(s.authFile, "utf8"));
      document.tokens.access_token = other.accessToken;
      document.tokens.refresh_token = other.refreshToken;
      await writeAuthFile(s.authFile, document);
      const callsBefore = s.endpoint.calls;
      const next = await s.source.handleUnauthorized(failed);
      assert.equal(s.endpoint.calls, callsBefore, "no refresh call");
      assert.equal(next?.accessToken, other.accessToken);
    } finally {
      await s.close();
    }
  });

  it("refreshes once when the file still holds the failed token", async () => {
    const s = await setup();
    try {
      const failed = await s.source.getToken();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => s.source.handleUnauthorized(failed)),
      );
      assert.equal(s.endpoint.calls, 1);
      for (const result of results) {
        assert.equal(result?.accessToken, s.endpoint.latestAccessToken);
      }
      const again = await s.source.handleUnauthorized(failed);
      assert.equal(again?.accessToken, s.endpoint.latestAccessToken);
      assert.equal(s.endpoint.calls, 1);
    } finally {
      await s.close();
    }
  });

  it("gives up after one forced refresh per failing token", async () => {
    // The endpoint answers without an access token: the file keeps the
    // token that failed, so there is nothing newer to try.
    const s = await setup({}, {}, { omit: ["access_token"] });
    try {
      const failed = await s.source.getToken();
      assert.equal(await s.source.handleUnauthorized(failed), undefined);
      assert.equal(s.endpoint.calls, 1);
      assert.equal(await s.source.handleUnauthorized(failed), undefined);
      assert.equal(await s.source.handleUnauthorized(failed), undefined);
      assert.equal(s.endpoint.calls, 1);
    } finally {
      await s.close();
    }
  });
});

describe("token source: refresh_token_reused", () => {
  it("adopts the tokens of the writer that won the race", async () => {
    const s = await setup(EXPIRED);
    let winner: string | undefined;
    // Another program spends the same refresh token just before this
    // process's request reaches the endpoint, and writes its tokens.
    const racingFetch: typeof fetch = async (input, init) => {
      const other = await requestTokenRefresh(s.endpoint.url, "rt_initial");
      winner = other.accessToken;
      const document = JSON.parse(await readFile(s.authFile, "utf8"));
      document.tokens.access_token = other.accessToken;
      document.tokens.refresh_token = other.refreshToken;
      await writeAuthFile(s.authFile, document);
      return await fetch(input, init);
    };
    const source = createTokenSource(s.authFile, {
      tokenUrl: s.endpoint.url,
      fetch: racingFetch,
      reusedGraceMs: 500,
    });
    try {
      const token = await source.getToken();
      assert.equal(token.accessToken, winner);
      assert.equal(s.endpoint.calls, 2);
      assert.equal(s.endpoint.requests[1].status, 401);
    } finally {
      await s.close();
    }
  });

  it("requires a new login when nobody wrote newer tokens", async () => {
    const s = await setup(EXPIRED);
    try {
      await requestTokenRefresh(s.endpoint.url, "rt_initial"); // spent elsewhere, never saved
      const error = await rejection(s.source.getToken());
      assert.ok(error instanceof LoginRequiredError);
      assert.equal(error.reason, "refresh_token_reused");
      assert.match(error.message, /codex login/);
      assertNoSecrets(error, await s.secrets());
    } finally {
      await s.close();
    }
  });
});

describe("token source: permanent failure", () => {
  it("says to run codex login, then makes no further calls until the file holds new tokens", async () => {
    const s = await setup(EXPIRED, { statIntervalMs: 0 }, {
      failure: { kind: "permanent", code: "refresh_token_expired" },
    });
    try {
      const first = await rejection(s.source.getToken());
      assert.ok(first instanceof LoginRequiredError);
      assert.equal(first.code, "login_required");
      assert.match(first.message, /Run "codex login"/);
      assert.equal(s.endpoint.calls, 1);
      assert.equal(s.warnings.length, 1);

      for (let i = 0; i < 20; i++) {
        const again = await rejection(s.source.getToken());
        assert.equal(again, first);
      }
      assert.equal(s.endpoint.calls, 1, "no call while the login is dead");

      // Touching the file without new tokens changes nothing.
      const later = new Date(Date.now() + 5000);
      await utimes(s.authFile, later, later);
      await rejection(s.source.getToken());
      assert.equal(s.endpoint.calls, 1);

      // `codex login` writes new tokens.
      s.endpoint.setFailure(undefined);
      s.endpoint.addRefreshToken("rt_after_login");
      const fresh = makeAccessToken({ extra: { login: 2 } });
      await writeAuth(s.authFile, {
        accessToken: fresh,
        refreshToken: "rt_after_login",
      });
      assert.equal((await s.source.getToken()).accessToken, fresh);
      assert.equal(s.endpoint.calls, 1);
      assertNoSecrets(first, await s.secrets());
    } finally {
      await s.close();
    }
  });

  it("works again after a new login with an expired token to refresh", async () => {
    const s = await setup(EXPIRED, { statIntervalMs: 0 }, {
      failure: { kind: "permanent", code: "invalid_grant", placement: "error" },
    });
    try {
      await rejection(s.source.getToken());
      s.endpoint.setFailure(undefined);
      s.endpoint.addRefreshToken("rt_relogin");
      await writeAuth(s.authFile, { ...EXPIRED, refreshToken: "rt_relogin" });
      // Written in place, at the same size, within the clock tick of the
      // first read, the file's stamp (inode, size, times) would not change:
      // a login comes later than that (the run failed so once, under load).
      const later = new Date(Date.now() + 5000);
      await utimes(s.authFile, later, later);
      const token = await s.source.getToken();
      assert.equal(token.accessToken, s.endpoint.latestAccessToken);
      assert.equal(s.endpoint.calls, 2);
    } finally {
      await s.close();
    }
  });

  it("keeps handing out a token that has not expired yet", async () => {
    const accessToken = makeAccessToken({ exp: epochIn(120) });
    const s = await setup({ accessToken }, {}, {
      failure: { kind: "permanent" },
    });
    try {
      assert.equal((await s.source.getToken()).accessToken, accessToken);
      assert.equal((await s.source.getToken()).accessToken, accessToken);
      assert.equal(s.endpoint.calls, 1);
      assert.match(s.warnings[0], /codex login/);
    } finally {
      await s.close();
    }
  });
});

describe("token source: transient failure", () => {
  it("backs off, keeps serving an unexpired token, then recovers", async () => {
    let now = Date.now();
    const accessToken = makeAccessToken({ exp: epochIn(120) });
    const s = await setup({ accessToken }, {
      now: () => now,
      backoffMs: 1000,
    }, { failure: { kind: "transient", status: 500 } });
    try {
      assert.equal((await s.source.getToken()).accessToken, accessToken);
      assert.equal(s.endpoint.calls, 1);
      for (let i = 0; i < 5; i++) {
        assert.equal((await s.source.getToken()).accessToken, accessToken);
      }
      assert.equal(s.endpoint.calls, 1, "no new attempt during the back-off");
      now += 1500;
      await s.source.getToken();
      assert.equal(s.endpoint.calls, 2, "one new attempt after the back-off");
      now += 1500;
      await s.source.getToken();
      assert.equal(s.endpoint.calls, 2, "the second back-off is longer");
      s.endpoint.setFailure(undefined);
      now += 1000;
      const token = await s.source.getToken();
      assert.equal(s.endpoint.calls, 3);
      assert.equal(token.accessToken, s.endpoint.latestAccessToken);
    } finally {
      await s.close();
    }
  });

  it("fails fast during the back-off when the token has expired", async () => {
    const s = await setup(EXPIRED, {}, {
      failure: { kind: "transient", status: 502 },
    });
    try {
      const first = await rejection(s.source.getToken());
      assert.ok(first instanceof TokenRefreshError);
      assert.equal(first.code, "token_refresh_failed");
      const second = await rejection(s.source.getToken());
      assert.ok(second instanceof TokenRefreshError);
      assert.equal(s.endpoint.calls, 1);
      assertNoSecrets(first, await s.secrets());
    } finally {
      await s.close();
    }
  });

  it("treats an unreachable endpoint as transient", async () => {
    const s = await setup(EXPIRED, {}, { failure: { kind: "down" } });
    try {
      const error = await rejection(s.source.getToken());
      assert.ok(error instanceof TokenRefreshError);
      assertNoSecrets(error, await s.secrets());
      assert.equal(
        (await fileTokens(s.authFile)).refresh_token,
        "rt_initial",
        "the file is untouched",
      );
    } finally {
      await s.close();
    }
  });

  it("times out a token endpoint that does not answer", async () => {
    const s = await setup(EXPIRED, { refreshTimeoutMs: 100 }, {
      delayMs: 5000,
    });
    try {
      const started = Date.now();
      const error = await rejection(s.source.getToken());
      assert.ok(error instanceof TokenRefreshError);
      assert.ok(Date.now() - started < 2000);
    } finally {
      await s.close();
    }
  });
});

describe("token source: forceRefresh and info", () => {
  it("forceRefresh refreshes a valid token", async () => {
    const s = await setup();
    try {
      const info = await s.source.forceRefresh();
      assert.equal(s.endpoint.calls, 1);
      assert.equal(info.accountId, "acct_test");
      assert.equal(
        (await s.source.getToken()).accessToken,
        s.endpoint.latestAccessToken,
      );
    } finally {
      await s.close();
    }
  });

  it("info describes the file without secrets", async () => {
    const s = await setup({ email: "me@example.com", plan: "team" });
    try {
      const info = await s.source.info();
      assert.equal(info.email, "me@example.com");
      assert.equal(info.plan, "team");
      const text = JSON.stringify(info);
      for (const secret of await s.secrets()) {
        assert.ok(!text.includes(secret));
      }
    } finally {
      await s.close();
    }
  });
});
