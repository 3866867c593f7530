// One identity per login: each login's stable installation id (the Codex
// home's `installation_id`, or one the provider keeps beside its own
// logins), and the Codex CLI's identity fields built from it for every
// upstream request: `client_metadata` in the body, the identity headers. A
// scan of everything the simulated backend recorded shows that nothing of a
// buyer's identity (its installation id, its working folder, its
// `x-codex-*` and SDK headers, its auth) reaches the backend, through the
// provider and through `serve` with the Codex CLI's own request.

import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { platform } from "node:os";
import { startFakeCodexBackend } from "../src/testing/fake_backend.ts";
import type {
  FakeCodexBackend,
  RecordedRequest,
} from "../src/testing/fake_backend.ts";
import { createProvider } from "../src/provider/provider.ts";
import {
  CODEX_INSTALLATION_ID_MODE,
  installationIdPlace,
  OWN_INSTALLATION_ID_MODE,
  readOrCreateInstallationId,
} from "../src/auth/installation_id.ts";
import {
  LoginInstallation,
  MAX_METADATA_MODEL_LENGTH,
  withClientMetadata,
} from "../src/codex/login_identity.ts";
import { callProvider } from "./fakes/seller_node.ts";
import {
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";
import { loadClientFixture } from "./fixtures/clients.ts";
import { startCli } from "./fixtures/cli_process.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";

const IS_WINDOWS = platform() === "win32";
const UUID_V4 =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** What a buyer's Codex CLI says of itself, which must never go upstream. */
const BUYER_INSTALLATION_ID = "b0b0b0b0-1111-4222-8333-944444444444";
const BUYER_FOLDER = "/home/alice-buyer-3f9c";
const BUYER_SECRETS = [
  BUYER_INSTALLATION_ID,
  BUYER_FOLDER,
  "buyer-secret",
  "buyer-cookie",
  "x-stainless",
  "stainless-value",
  "peer-buyer-1",
  "buyer-window-7",
];

function buyerTurnMetadata(): string {
  return JSON.stringify({
    installation_id: BUYER_INSTALLATION_ID,
    session_id: "buyer-session",
    agent_name: BUYER_FOLDER,
    window_id: "buyer-window-7:0",
    sandbox_mode: "danger-full-access",
  });
}

/** A buyer's body and headers carrying the buyer's identity everywhere it can. */
function buyerRequest(extra: Record<string, unknown> = {}) {
  return {
    headers: {
      authorization: "Bearer buyer-secret",
      cookie: "session=buyer-cookie",
      "x-codex-installation-id": BUYER_INSTALLATION_ID,
      "x-codex-turn-metadata": buyerTurnMetadata(),
      "x-codex-window-id": "buyer-window-7:0",
      "x-codex-beta-features": "buyer-window-7",
      "x-client-request-id": "buyer-window-7",
      "x-stainless-lang": "stainless-value",
      "x-stainless-package-version": "stainless-value",
      "x-stainless-os": "stainless-value",
    },
    body: {
      model: "gpt-5.4",
      input: "Hi",
      client_metadata: {
        "x-codex-installation-id": BUYER_INSTALLATION_ID,
        "x-codex-turn-metadata": buyerTurnMetadata(),
        "x-codex-window-id": "buyer-window-7:0",
        session_id: "buyer-session",
      },
      ...extra,
    },
  };
}

function turns(backend: FakeCodexBackend): RecordedRequest[] {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

/** Every recorded upstream byte: the headers and the decoded body text. */
function assertNothingOfTheBuyer(requests: RecordedRequest[]): void {
  assert.ok(requests.length > 0, "no upstream request was recorded");
  for (const request of requests) {
    const bytes = `${JSON.stringify(request.headers)}\n${request.text}`;
    for (const secret of BUYER_SECRETS) {
      assert.ok(
        !bytes.includes(secret),
        `${secret} reached the backend: ${bytes.slice(0, 2000)}`,
      );
    }
    for (const name of Object.keys(request.headers)) {
      assert.ok(!name.startsWith("x-stainless"), `${name} reached the backend`);
      assert.ok(!name.startsWith("x-antseed"), `${name} reached the backend`);
      assert.notEqual(name, "cookie");
    }
  }
}

interface SentIdentity {
  account: string;
  bodyId: unknown;
  metadataId: unknown;
  metadata: Record<string, unknown>;
  clientMetadata: Record<string, unknown>;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

/** The installation id a recorded request carries, in each place the CLI puts it. */
function sentIdentity(request: RecordedRequest): SentIdentity {
  const body = request.body as Record<string, unknown>;
  const clientMetadata = body.client_metadata as Record<string, unknown>;
  assert.equal(typeof clientMetadata, "object", request.text.slice(0, 500));
  const metadata = JSON.parse(
    clientMetadata["x-codex-turn-metadata"] as string,
  ) as Record<string, unknown>;
  return {
    account: request.headers["chatgpt-account-id"],
    bodyId: clientMetadata["x-codex-installation-id"],
    metadataId: metadata.installation_id,
    metadata,
    clientMetadata,
    headers: request.headers,
    body,
  };
}

describe("installation id files", () => {
  let dir: TempDir;
  beforeEach(async () => {
    dir = await tempDir("installation-id-");
  });
  afterEach(() => dir.cleanup());

  it("are the Codex home's for an auth.json, beside their login otherwise", () => {
    assert.deepEqual(installationIdPlace("codex_home", "/h/.codex/auth.json"), {
      path: join("/h/.codex", "installation_id"),
      mode: CODEX_INSTALLATION_ID_MODE,
    });
    assert.deepEqual(installationIdPlace("auth_file", "/x/auth.json"), {
      path: join("/x", "installation_id"),
      mode: CODEX_INSTALLATION_ID_MODE,
    });
    assert.deepEqual(
      installationIdPlace("accounts", join("/o", "accounts", "w", "auth.json")),
      {
        path: join("/o", "accounts", "w", "installation_id"),
        mode: OWN_INSTALLATION_ID_MODE,
      },
    );
    assert.deepEqual(installationIdPlace("auth_file", "/keys/work.json"), {
      path: "/keys/work.json.installation_id",
      mode: OWN_INSTALLATION_ID_MODE,
    });
  });

  it("is created as the CLI creates it when absent (a UUID v4, no newline, 0644), then read unchanged", async () => {
    const place = installationIdPlace("codex_home", dir.file("auth.json"));
    const id = await readOrCreateInstallationId(place);
    assert.match(id, UUID_V4);
    assert.equal(await readFile(place.path, "utf8"), id);
    if (!IS_WINDOWS) {
      assert.equal((await stat(place.path)).mode & 0o777, 0o644);
    }
    assert.equal(await readOrCreateInstallationId(place), id);
    assert.equal(await readFile(place.path, "utf8"), id);
  });

  it("keeps the provider's own at 0600", async () => {
    const place = installationIdPlace("auth_file", dir.file("work.json"));
    const id = await readOrCreateInstallationId(place);
    assert.equal(await readFile(place.path, "utf8"), id);
    if (!IS_WINDOWS) {
      assert.equal((await stat(place.path)).mode & 0o777, 0o600);
    }
  });

  it("reads the CLI's existing id (trimmed, lower case) and leaves the file and its mode alone", async () => {
    const path = dir.file("installation_id");
    const text = "  6B6C7B9B-ACA9-4DC4-9FC3-2B3346658C08\n";
    await writeFile(path, text, { mode: 0o640 });
    const id = await readOrCreateInstallationId({ path, mode: 0o644 });
    assert.equal(id, "6b6c7b9b-aca9-4dc4-9fc3-2b3346658c08");
    assert.equal(await readFile(path, "utf8"), text);
    if (!IS_WINDOWS) assert.equal((await stat(path)).mode & 0o777, 0o640);
  });

  it("replaces a file that holds no UUID, as the CLI does", async () => {
    const path = dir.file("installation_id");
    await writeFile(path, "not an id");
    const id = await readOrCreateInstallationId({ path, mode: 0o644 });
    assert.match(id, UUID_V4);
    assert.equal(await readFile(path, "utf8"), id);
  });

  it("gives one id to processes that create it at the same time (never clobbers one that appeared)", async () => {
    const place = installationIdPlace("codex_home", dir.file("auth.json"));
    const ids = await Promise.all(
      Array.from({ length: 12 }, () => readOrCreateInstallationId(place)),
    );
    const kept = await readFile(place.path, "utf8");
    assert.deepEqual(new Set(ids), new Set([kept]));
  });
});

describe("a login's identity fields", () => {
  it("carries in the body exactly the header's turn metadata, printable ASCII, whatever the folder, session and model", () => {
    for (const agentName of ["/home/seller", 'C:\\Users\\"x"', "/hôme/ü"]) {
      const login = new LoginInstallation(
        "11111111-2222-4333-8444-555555555555",
        { originator: "codex_cli_rs", version: "0.171.0", agentName },
      );
      for (const model of ["gpt-5.4", 'we"ird\\model', "módel", undefined]) {
        for (const session of ["conv-1", 'se"ss\\ion', "séance"]) {
          const turn = login.turn(session, model, 1796151251977);
          const body = JSON.parse(
            withClientMetadata('{"model":"m"}', turn.bodyTail),
          );
          const header = turn.headers["x-codex-turn-metadata"];
          assert.equal(body.client_metadata["x-codex-turn-metadata"], header);
          assert.match(header, /^[\x20-\x7e]+$/);
          const metadata = JSON.parse(header);
          assert.equal(metadata.session_id, session);
          assert.equal(metadata.agent_name, agentName);
          assert.equal(metadata.model, model);
        }
      }
    }
  });

  const login = new LoginInstallation("11111111-2222-4333-8444-555555555555", {
    originator: "codex_exec",
    version: "0.171.0",
    agentName: "/home/seller",
    platform: "linux",
  });

  it("are the CLI's 0.171 client_metadata and headers, with the login's id and the request's conversation", () => {
    const turn = login.turn("conv-1", "gpt-5.4", 1796151251977);
    const body = JSON.parse(
      withClientMetadata('{"model":"gpt-5.4"}', turn.bodyTail),
    );
    const meta = body.client_metadata;
    assert.deepEqual(Object.keys(meta).sort(), [
      "guardian_credits_requested",
      "root_turn_id",
      "session_id",
      "thread_id",
      "turn_id",
      "x-codex-installation-id",
      "x-codex-turn-metadata",
      "x-codex-window-id",
    ]);
    assert.equal(meta["x-codex-installation-id"], login.installationId);
    assert.equal(meta.session_id, "conv-1");
    assert.equal(meta.thread_id, "conv-1");
    assert.equal(meta["x-codex-window-id"], "conv-1:0");
    assert.equal(meta.root_turn_id, meta.turn_id);
    assert.match(meta.turn_id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
    assert.equal(
      meta["x-codex-turn-metadata"],
      turn.headers["x-codex-turn-metadata"],
    );
    assert.deepEqual(JSON.parse(meta["x-codex-turn-metadata"]), {
      installation_id: login.installationId,
      session_id: "conv-1",
      thread_id: "conv-1",
      agent_name: "/home/seller",
      turn_id: meta.turn_id,
      window_id: "conv-1:0",
      window_number: 0,
      request_kind: "turn",
      history_initialization: "new",
      root_turn_id: meta.turn_id,
      thread_source: "user",
      turn_trigger: "exec",
      sandbox: "seccomp",
      sandbox_mode: "read-only",
      auto_review_enabled: false,
      node_repl_auto_review_required: false,
      node_repl_disabled: false,
      turn_started_at_unix_ms: 1796151251977,
      analytics_enabled: true,
      model: "gpt-5.4",
    });
    assert.deepEqual(turn.headers, {
      "x-client-request-id": "conv-1",
      "x-codex-window-id": "conv-1:0",
      "x-codex-turn-metadata": meta["x-codex-turn-metadata"],
      "x-codex-beta-features": "remote_compaction_v2",
      "x-codex-routing-hint": "model=gpt-5.4",
    });
  });

  it("give every request its own turn", () => {
    const first = JSON.parse(
      login.turn("conv-1", "gpt-5.4").headers["x-codex-turn-metadata"],
    );
    const second = JSON.parse(
      login.turn("conv-1", "gpt-5.4").headers["x-codex-turn-metadata"],
    );
    assert.notEqual(first.turn_id, second.turn_id);
  });

  it("announce remote_compaction_v2 from 0.171.0 on, not below", () => {
    const older = new LoginInstallation(login.installationId, {
      originator: "codex_cli_rs",
      version: "0.170.9",
    });
    assert.equal(
      older.turn("c", "m").headers["x-codex-beta-features"],
      undefined,
    );
    const newer = new LoginInstallation(login.installationId, {
      originator: "codex_cli_rs",
      version: "0.180.0",
    });
    assert.equal(
      newer.turn("c", "m").headers["x-codex-beta-features"],
      "remote_compaction_v2",
    );
  });

  it("keep every header value printable ASCII, and leave out a model name too long for them", () => {
    const odd = login.turn('conv-"1\\', "gpt-ü\u2028");
    for (const value of Object.values(odd.headers)) {
      assert.match(value, /^[\x20-\x7e]*$/);
    }
    assert.equal(
      JSON.parse(odd.headers["x-codex-turn-metadata"]).model,
      "gpt-ü\u2028",
    );
    assert.equal(odd.headers["x-codex-routing-hint"], undefined);
    const atLimit = "m".repeat(MAX_METADATA_MODEL_LENGTH);
    assert.equal(
      JSON.parse(login.turn("c", atLimit).headers["x-codex-turn-metadata"])
        .model,
      atLimit,
    );
    const long = login.turn("c", `${atLimit}m`);
    assert.equal(
      "model" in JSON.parse(long.headers["x-codex-turn-metadata"]),
      false,
    );
    assert.equal(long.headers["x-codex-routing-hint"], undefined);
  });
});

describe("through the provider", () => {
  let backend: FakeCodexBackend;
  let dir: TempDir;
  let files: string[];
  const ACCOUNTS = ["acct_ident_a", "acct_ident_b"];
  const EXISTING_ID = "6b6c7b9b-aca9-4dc4-9fc3-2b3346658c08";

  before(async () => {
    backend = await startFakeCodexBackend();
    dir = await tempDir("identity-");
    files = [];
    for (const [index, accountId] of ACCOUNTS.entries()) {
      const home = dir.file(`home${index}`);
      await mkdir(home);
      const file = join(home, "auth.json");
      await writeAuth(file, { accountId, exp: epochIn(3600) });
      files.push(file);
    }
    // The first home's CLI ran before: its id is used as it is.
    await writeFile(join(dir.file("home0"), "installation_id"), EXISTING_ID);
  });
  after(async () => {
    await backend.close();
    await dir.cleanup();
  });
  beforeEach(() => backend.reset());

  function provider() {
    return createProvider({
      OPENAI_RESPONSES_AUTH_FILE: files.join(","),
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      ANTSEED_MAX_CONCURRENCY: "8",
    }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
  }

  /** Asks until both logins have answered; the buyer's identity in every request. */
  async function askBoth(p: ReturnType<typeof provider>, stream: boolean) {
    for (let i = 0; i < 40; i++) {
      const request = buyerRequest({ prompt_cache_key: `conv-${i}`, stream });
      const result = await callProvider(p, request);
      assert.equal(result.status, 200, result.text);
      const accounts = new Set(
        turns(backend).map((r) => r.headers["chatgpt-account-id"]),
      );
      if (accounts.size === 2 && i >= 3) return;
    }
    assert.fail("the requests did not reach both logins");
  }

  it("sends each login's own stable id, never the buyer's, and nothing else of the buyer", async () => {
    await askBoth(provider(), false);
    await askBoth(provider(), true);
    const sent = turns(backend);
    assertNothingOfTheBuyer(sent);
    const createdId = await readFile(
      join(dir.file("home1"), "installation_id"),
      "utf8",
    );
    assert.match(createdId, UUID_V4);
    const expected: Record<string, string> = {
      [ACCOUNTS[0]]: EXISTING_ID,
      [ACCOUNTS[1]]: createdId,
    };
    for (const request of sent) {
      const identity = sentIdentity(request);
      assert.equal(identity.bodyId, expected[identity.account]);
      assert.equal(identity.metadataId, expected[identity.account]);
      assert.equal(
        identity.headers["x-codex-turn-metadata"],
        identity.clientMetadata["x-codex-turn-metadata"],
      );
      // The conversation stays the request's: the session id it went with.
      const session = identity.headers["session-id"];
      assert.equal(identity.clientMetadata.session_id, session);
      assert.equal(identity.metadata.thread_id, session);
      assert.equal(identity.headers["x-codex-window-id"], `${session}:0`);
      assert.equal(identity.headers["x-client-request-id"], session);
      assert.equal(
        identity.headers["x-codex-beta-features"],
        "remote_compaction_v2",
      );
      assert.notEqual(identity.metadata.agent_name, BUYER_FOLDER);
    }
  });

  it("keeps the ids over a restart", async () => {
    await askBoth(provider(), false);
    const before = new Map(
      turns(backend).map((r) => {
        const identity = sentIdentity(r);
        return [identity.account, identity.bodyId];
      }),
    );
    backend.reset();
    await askBoth(provider(), false);
    for (const request of turns(backend)) {
      const identity = sentIdentity(request);
      assert.equal(identity.bodyId, before.get(identity.account));
    }
    assert.equal(new Set(before.values()).size, 2, "two logins, two ids");
  });

  it("keeps an account folder's id beside its auth.json at 0600", async () => {
    const home = dir.file("own-home");
    const accountFolder = join(home, "accounts", "work");
    await mkdir(accountFolder, { recursive: true, mode: 0o700 });
    await writeAuth(join(accountFolder, "auth.json"), {
      accountId: "acct_ident_own",
      exp: epochIn(3600),
    });
    const p = createProvider({
      OPENAI_RESPONSES_HOME: home,
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { random: () => 0, onLog: () => {}, onWarning: () => {} });
    const result = await callProvider(p, buyerRequest());
    assert.equal(result.status, 200, result.text);
    const path = join(accountFolder, "installation_id");
    const id = await readFile(path, "utf8");
    assert.match(id, UUID_V4);
    if (!IS_WINDOWS) assert.equal((await stat(path)).mode & 0o777, 0o600);
    const [request] = turns(backend);
    assert.equal(sentIdentity(request).bodyId, id);
    assertNothingOfTheBuyer(turns(backend));
  });
});

describe("through serve, with the Codex CLI's own request", () => {
  it("sends the seller's installation, not the CLI buyer's id or folder", async () => {
    const fixture = loadClientFixture(
      "codex-cli/custom-provider-openai-auth-zstd-decoded-2.json",
    );
    const recorded = fixture.body!.client_metadata as Record<string, string>;
    const cliId = recorded["x-codex-installation-id"];
    // The buyer's folder, in the metadata only (its prompt may name it).
    const retarget = (text: string) =>
      text.replaceAll('"agent_name":"/root"', `"agent_name":"${BUYER_FOLDER}"`);
    const clientMetadata = Object.fromEntries(
      Object.entries(recorded).map(([key, value]) => [key, retarget(value)]),
    );
    const body = JSON.stringify({
      ...fixture.body,
      client_metadata: clientMetadata,
    });
    assert.ok(!JSON.stringify(fixture.body!.input).includes(cliId));

    const dir = await tempDir("identity-serve-");
    const backend = await startFakeCodexBackend();
    backend.setDefault({ kind: "text", text: "hello" });
    const tokens = await startFakeTokenEndpoint();
    const run = async () => {
      const serve = startCli(["serve", "--port", "0"], {
        OPENAI_RESPONSES_AUTH_FILE: dir.file("auth.json"),
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: tokens.url,
        HOME: dir.path,
        USERPROFILE: dir.path,
      });
      try {
        const match = await serve.waitForOutput(
          /listening on http:\/\/127\.0\.0\.1:(\d+)\n/,
        );
        const headers = new Headers();
        for (const [name, value] of Object.entries(fixture.headers)) {
          if (
            ["host", "content-length", "content-encoding", "authorization"]
              .includes(name)
          ) continue;
          headers.set(name, retarget(value));
        }
        headers.set("authorization", "Bearer buyer-secret");
        headers.set("x-stainless-lang", "stainless-value");
        const response = await fetch(
          `http://127.0.0.1:${match[1]}/v1/responses`,
          {
            method: "POST",
            headers,
            body,
          },
        );
        const text = await response.text();
        assert.equal(response.status, 200, text + serve.stderr());
      } finally {
        await serve.kill();
      }
    };
    try {
      await writeAuth(dir.file("auth.json"), {
        accountId: "acct_test",
        exp: epochIn(3600),
      });
      await run();
      await run();
      const sent = turns(backend);
      assert.equal(sent.length, 2);
      for (const request of sent) {
        assert.ok(
          !request.text.includes(cliId),
          "the CLI buyer's id went upstream",
        );
        assert.ok(
          !JSON.stringify(request.headers).includes(cliId),
          "the CLI buyer's id went upstream in a header",
        );
      }
      assertNothingOfTheBuyer(sent);
      const seller = await readFile(dir.file("installation_id"), "utf8");
      for (const request of sent) {
        const identity = sentIdentity(request);
        assert.equal(identity.bodyId, seller);
        assert.equal(identity.metadataId, seller);
      }
    } finally {
      await backend.close();
      await tokens.close();
      await dir.cleanup();
    }
  });
});
