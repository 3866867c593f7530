// The simulated OAuth issuer, driven by hand: what it accepts, what it
// refuses, and that it refuses what the real issuer refuses.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { pkceChallenge } from "../src/auth/pkce.ts";
import {
  type FakeIssuer,
  startFakeIssuer,
} from "../src/testing/fake_issuer.ts";
import {
  FAKE_CODEX_CLIENT_ID,
  REFRESH_TOKEN_REUSED_BODY,
} from "../src/testing/fake_token_endpoint.ts";
import { AUTH_CLAIM } from "../src/testing/jwt.ts";

const PORT = 1455;
const REDIRECT = `http://localhost:${PORT}/auth/callback`;
const VERIFIER = "v".repeat(86);

async function authorizeQuery(
  overrides: Record<string, string | undefined> = {},
): Promise<string> {
  const params: Record<string, string | undefined> = {
    response_type: "code",
    client_id: FAKE_CODEX_CLIENT_ID,
    redirect_uri: REDIRECT,
    scope: "openid profile email offline_access",
    code_challenge: await pkceChallenge(VERIFIER),
    code_challenge_method: "S256",
    state: "state_1",
    ...overrides,
  };
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query.set(key, value);
  }
  return query.toString();
}

async function authorize(
  issuer: FakeIssuer,
  overrides: Record<string, string | undefined> = {},
): Promise<Response> {
  const answer = await fetch(
    `${issuer.url}/oauth/authorize?${await authorizeQuery(overrides)}`,
    { redirect: "manual" },
  );
  await answer.body?.cancel();
  return answer;
}

/** The query of the redirect an authorize answer points to. */
function redirectQuery(answer: Response): URLSearchParams {
  assert.equal(answer.status, 302);
  const location = new URL(answer.headers.get("location")!);
  return location.searchParams;
}

async function codeFor(issuer: FakeIssuer): Promise<string> {
  return redirectQuery(await authorize(issuer)).get("code")!;
}

function postForm(url: string, fields: Record<string, string>) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

function postJson(url: string, fields: Record<string, unknown>) {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(fields),
  });
}

function exchange(
  issuer: FakeIssuer,
  code: string,
  overrides: Record<string, string> = {},
) {
  return postForm(`${issuer.url}/oauth/token`, {
    grant_type: "authorization_code",
    code,
    redirect_uri: REDIRECT,
    client_id: FAKE_CODEX_CLIENT_ID,
    code_verifier: VERIFIER,
    ...overrides,
  });
}

async function withIssuer(
  test: (issuer: FakeIssuer) => Promise<void>,
  options: Parameters<typeof startFakeIssuer>[0] = {},
): Promise<void> {
  const issuer = await startFakeIssuer(options);
  try {
    await test(issuer);
  } finally {
    await issuer.close();
  }
}

describe("fake issuer: authorize", () => {
  it("redirects to the registered callback with a code and the state", () =>
    withIssuer(async (issuer) => {
      const answer = await authorize(issuer);
      const location = new URL(answer.headers.get("location")!);
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get("state"), "state_1");
      assert.match(location.searchParams.get("code")!, /^ac_/);
    }));

  it("refuses an unregistered redirect URI with 400 and does not redirect", () =>
    withIssuer(async (issuer) => {
      for (
        const uri of [
          "http://localhost:9999/auth/callback",
          "http://127.0.0.1:1455/auth/callback",
          "http://localhost:1455/other",
        ]
      ) {
        const answer = await authorize(issuer, { redirect_uri: uri });
        assert.equal(answer.status, 400, uri);
        assert.equal(answer.headers.get("location"), null);
      }
    }));

  it("accepts a callback port the test registers", () =>
    withIssuer(async (issuer) => {
      const uri = "http://localhost:40001/auth/callback";
      assert.equal(
        (await authorize(issuer, { redirect_uri: uri })).status,
        400,
      );
      issuer.registerCallbackPort(40001);
      assert.equal(
        (await authorize(issuer, { redirect_uri: uri })).status,
        302,
      );
    }));

  it("refuses an unknown client id with 400", () =>
    withIssuer(async (issuer) => {
      const answer = await authorize(issuer, { client_id: "app_other" });
      assert.equal(answer.status, 400);
    }));

  it("refuses a request without state with 400", () =>
    withIssuer(async (issuer) => {
      assert.equal((await authorize(issuer, { state: undefined })).status, 400);
    }));

  it("redirects invalid_request for a missing challenge, a plain method, a wrong response type or scope", () =>
    withIssuer(async (issuer) => {
      const faults: Record<string, string | undefined>[] = [
        { code_challenge: undefined },
        { code_challenge_method: "plain" },
        { response_type: "token" },
        { scope: "openid profile email" },
      ];
      for (const fault of faults) {
        const query = redirectQuery(await authorize(issuer, fault));
        assert.equal(
          query.get("error"),
          "invalid_request",
          JSON.stringify(fault),
        );
        assert.equal(query.get("state"), "state_1");
        assert.equal(query.get("code"), null);
      }
    }));

  it("redirects a scripted error such as missing_codex_entitlement", () =>
    withIssuer(async (issuer) => {
      issuer.setAuthorizeError({
        error: "missing_codex_entitlement",
        description: "Codex is not enabled for your workspace",
      });
      const query = redirectQuery(await authorize(issuer));
      assert.equal(query.get("error"), "missing_codex_entitlement");
      assert.equal(
        query.get("error_description"),
        "Codex is not enabled for your workspace",
      );
      assert.equal(query.get("code"), null);
    }));
});

describe("fake issuer: code exchange", () => {
  it("answers the three tokens carrying the configured claims", () =>
    withIssuer(async (issuer) => {
      const answer = await exchange(issuer, await codeFor(issuer));
      assert.equal(answer.status, 200);
      const body = await answer.json();
      assert.deepEqual(
        Object.keys(body).sort(),
        [
          "access_token",
          "expires_in",
          "id_token",
          "refresh_token",
          "scope",
          "token_type",
        ],
      );
      const id = decodeJwt(body.id_token);
      assert.equal(id.email, "me@example.com");
      const auth = decodeJwt(body.access_token)[AUTH_CLAIM] as Record<
        string,
        unknown
      >;
      assert.equal(auth.chatgpt_account_id, "acct_9");
      assert.equal(auth.chatgpt_plan_type, "pro");
    }, { accountId: "acct_9", plan: "pro", email: "me@example.com" }));

  it("refuses a code used twice", () =>
    withIssuer(async (issuer) => {
      const code = await codeFor(issuer);
      assert.equal((await exchange(issuer, code)).status, 200);
      const again = await exchange(issuer, code);
      assert.equal(again.status, 400);
      assert.equal((await again.json()).error, "invalid_grant");
    }));

  it("refuses a wrong verifier with invalid_grant", () =>
    withIssuer(async (issuer) => {
      const answer = await exchange(issuer, await codeFor(issuer), {
        code_verifier: "w".repeat(86),
      });
      assert.equal(answer.status, 400);
      const body = await answer.json();
      assert.equal(body.error, "invalid_grant");
      assert.match(body.error_description, /code_verifier/);
    }));

  it("refuses a redirect URI other than the authorize request's", () =>
    withIssuer(async (issuer) => {
      const answer = await exchange(issuer, await codeFor(issuer), {
        redirect_uri: "http://localhost:1457/auth/callback",
      });
      assert.equal(answer.status, 400);
      assert.equal((await answer.json()).error, "invalid_grant");
    }));

  it("refuses an unknown client id", () =>
    withIssuer(async (issuer) => {
      const answer = await exchange(issuer, await codeFor(issuer), {
        client_id: "app_other",
      });
      assert.equal(answer.status, 401);
      await answer.body?.cancel();
    }));
});

describe("fake issuer: refresh", () => {
  it("rotates refresh tokens and answers refresh_token_reused to a reuse", () =>
    withIssuer(async (issuer) => {
      const first = await (await exchange(issuer, await codeFor(issuer)))
        .json();
      const refresh = (token: string) =>
        postJson(`${issuer.url}/oauth/token`, {
          client_id: FAKE_CODEX_CLIENT_ID,
          grant_type: "refresh_token",
          refresh_token: token,
        });
      const second = await refresh(first.refresh_token);
      assert.equal(second.status, 200);
      const body = await second.json();
      assert.notEqual(body.refresh_token, first.refresh_token);
      assert.ok(issuer.isSpent(first.refresh_token));
      const reused = await refresh(first.refresh_token);
      assert.equal(reused.status, 401);
      assert.deepEqual(await reused.json(), REFRESH_TOKEN_REUSED_BODY);
    }));

  it("keeps the identity of each login across refreshes", () =>
    withIssuer(async (issuer) => {
      issuer.setIdentity({ accountId: "acct_a" });
      const a = await (await exchange(issuer, await codeFor(issuer))).json();
      issuer.setIdentity({ accountId: "acct_b" });
      const answer = await postForm(`${issuer.url}/oauth/token`, {
        client_id: FAKE_CODEX_CLIENT_ID,
        grant_type: "refresh_token",
        refresh_token: a.refresh_token,
      });
      const body = await answer.json();
      const auth = decodeJwt(body.access_token)[AUTH_CLAIM] as Record<
        string,
        unknown
      >;
      assert.equal(auth.chatgpt_account_id, "acct_a");
    }));
});

describe("fake issuer: device login", () => {
  async function usercode(issuer: FakeIssuer) {
    return await postJson(
      `${issuer.url}/api/accounts/deviceauth/usercode`,
      { client_id: FAKE_CODEX_CLIENT_ID },
    );
  }

  it("answers pending for the configured polls, then a code and its verifier", () =>
    withIssuer(async (issuer) => {
      const started = await (await usercode(issuer)).json();
      assert.equal(started.interval, "0");
      const poll = () =>
        postJson(`${issuer.url}/api/accounts/deviceauth/token`, {
          device_auth_id: started.device_auth_id,
          user_code: started.user_code,
        });
      const statuses: number[] = [];
      let answer: Response;
      for (;;) {
        answer = await poll();
        statuses.push(answer.status);
        if (answer.status !== 403) break;
        await answer.body?.cancel();
      }
      assert.deepEqual(statuses, [403, 403, 200]);
      const body = await answer.json();
      assert.equal(
        await pkceChallenge(body.code_verifier),
        body.code_challenge,
      );
      const tokens = await postForm(`${issuer.url}/oauth/token`, {
        grant_type: "authorization_code",
        code: body.authorization_code,
        redirect_uri: `${issuer.url}/deviceauth/callback`,
        client_id: FAKE_CODEX_CLIENT_ID,
        code_verifier: body.code_verifier,
      });
      assert.equal(tokens.status, 200);
      await tokens.body?.cancel();
    }, { device: { pendingPolls: 2, interval: "0" } }));

  it("answers 404 to the code request when device login is disabled", () =>
    withIssuer(async (issuer) => {
      const answer = await usercode(issuer);
      assert.equal(answer.status, 404);
      await answer.body?.cancel();
    }, { device: { enabled: false } }));

  it("can name the code field usercode, as older issuers do", () =>
    withIssuer(async (issuer) => {
      const body = await (await usercode(issuer)).json();
      assert.equal(typeof body.usercode, "string");
      assert.equal(body.user_code, undefined);
    }, { device: { userCodeField: "usercode" } }));
});

describe("fake issuer: revoke and records", () => {
  it("records the revoked refresh token and stops accepting it", () =>
    withIssuer(async (issuer) => {
      const tokens = await (await exchange(issuer, await codeFor(issuer)))
        .json();
      const answer = await postJson(`${issuer.url}/oauth/revoke`, {
        token: tokens.refresh_token,
        token_type_hint: "refresh_token",
        client_id: FAKE_CODEX_CLIENT_ID,
      });
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
      assert.deepEqual(issuer.revokedTokens, [tokens.refresh_token]);
      assert.equal(issuer.accepts(tokens.refresh_token), false);
    }));

  it("drops revoke connections while down", () =>
    withIssuer(async (issuer) => {
      issuer.setRevokeDown(true);
      await assert.rejects(
        postJson(`${issuer.url}/oauth/revoke`, {
          token: "rt_x",
          token_type_hint: "refresh_token",
          client_id: FAKE_CODEX_CLIENT_ID,
        }),
      );
      assert.deepEqual(issuer.revokedTokens, []);
    }));

  it("records every request with its path, fields and status", () =>
    withIssuer(async (issuer) => {
      await exchange(issuer, "ac_unknown").then((answer) => answer.text());
      const record = issuer.requests.at(-1)!;
      assert.equal(record.method, "POST");
      assert.equal(record.path, "/oauth/token");
      assert.equal(record.contentType, "application/x-www-form-urlencoded");
      assert.equal(record.fields.grant_type, "authorization_code");
      assert.equal(record.status, 400);
    }));
});
