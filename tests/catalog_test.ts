// Each login's model catalog (`GET <base>/codex/models?client_version=`):
// read with the login's token and the version spoken, kept with its ETag
// (a 304 keeps it), read again in the background, bounded, and never on a
// request's path: a request looks it up in memory and goes classic while
// none has been read.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CATALOG_RETRY_MS,
  type CatalogRead,
  ModelCatalog,
  parseCatalogFlags,
  readModelCatalog,
} from "../src/codex/catalog.ts";
import { RelayError } from "../src/errors.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import type { RecordedRequest } from "../src/testing/_fake_types.ts";
import {
  createProvider,
  type OpenAIResponsesProvider,
} from "../src/provider/provider.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { type CatalogWatch, catalogWatch } from "./fakes/catalog_watch.ts";

const LITE = "gpt-5.6-sol";
const ACCOUNT = "acct_catalog";
const TOKEN = makeAccessToken({ accountId: ACCOUNT });
const IDENTITY = {
  originator: "codex_cli_rs",
  userAgent: "codex_cli_rs/0.171.0 (test)",
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let backend: FakeCodexBackend;

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});
beforeEach(() => backend.reset());

function posts(): RecordedRequest[] {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function provider(
  watch: CatalogWatch,
  config: Record<string, string> = {},
  lines: string[] = [],
): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: `${LITE},gpt-5.4`,
    ...config,
  }, {
    tokenSource: fixedTokens(ACCOUNT, TOKEN),
    fetch: watch.fetch,
    onLog: (line) => lines.push(line),
  });
}

function ask(p: OpenAIResponsesProvider, model = LITE) {
  return callProvider(p, { body: { model, instructions: "Hi", input: "Hi" } });
}

describe("reading a catalog", () => {
  it("asks with the login's token, account and identity, and the version spoken as client_version", async () => {
    const read = await readModelCatalog(
      `${backend.baseUrl}/codex/models`,
      { accessToken: TOKEN, accountId: ACCOUNT },
      IDENTITY,
      { clientVersion: "0.171.0" },
    );
    assert.notEqual(read, "not_modified");
    const { responsesLite, models, etag } = read as CatalogRead;
    assert.deepEqual(
      [...responsesLite].sort(),
      ["gpt-5.6-luna", "gpt-5.6-sol", "gpt-5.6-terra"],
    );
    assert.equal(models, 7);
    assert.ok(etag);
    const [sent] = backend.requests;
    assert.equal(sent.url, "/backend-api/codex/models?client_version=0.171.0");
    assert.equal(sent.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal(sent.headers["chatgpt-account-id"], ACCOUNT);
    assert.equal(sent.headers.originator, IDENTITY.originator);
    assert.equal(sent.headers["user-agent"], IDENTITY.userAgent);
    assert.equal(sent.headers["if-none-match"], undefined);
    // The ETag sent back: the backend answers 304.
    const again = await readModelCatalog(
      `${backend.baseUrl}/codex/models`,
      { accessToken: TOKEN, accountId: ACCOUNT },
      IDENTITY,
      { clientVersion: "0.171.0", etag },
    );
    assert.equal(again, "not_modified");
    assert.equal(backend.requests[1].headers["if-none-match"], etag);
  });

  it("refuses an answer larger than its bound, counted as it arrives", async () => {
    const big = `{"models":[${'{"slug":"m"},'.repeat(1000)}{"slug":"n"}]}`;
    const chunked: typeof fetch = () =>
      Promise.resolve(
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode(big));
              controller.close();
            },
          }),
          { status: 200 },
        ),
      );
    await assert.rejects(
      readModelCatalog(
        "http://127.0.0.1:9/codex/models",
        {
          accessToken: "t",
          accountId: "a",
        },
        IDENTITY,
        { clientVersion: "0.171.0", fetch: chunked, maxBytes: 1024 },
      ),
      (error: unknown) =>
        error instanceof RelayError &&
        error.code === "upstream_models_unavailable" &&
        /larger than 1024 bytes/.test(error.message),
    );
  });

  it("gives up on an answer that does not come within its timeout", async () => {
    const never: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) =>
        init?.signal?.addEventListener(
          "abort",
          () => reject(new Error("aborted")),
        )
      );
    const started = Date.now();
    await assert.rejects(
      readModelCatalog(
        "http://127.0.0.1:9/codex/models",
        {
          accessToken: "t",
          accountId: "a",
        },
        IDENTITY,
        { clientVersion: "0.171.0", fetch: never, timeoutMs: 50 },
      ),
      /no answer within 50 ms/,
    );
    assert.ok(Date.now() - started < 2000);
  });

  it("reads only what it needs of each entry", () => {
    const read = parseCatalogFlags(JSON.stringify({
      models: [
        { slug: "a", use_responses_lite: true },
        { slug: "b", use_responses_lite: "true" },
        { slug: "" },
        "c",
      ],
    }));
    assert.deepEqual([...read.responsesLite], ["a"]);
    assert.equal(read.models, 2);
    assert.throws(() => parseCatalogFlags("{}"), /without a models array/);
  });
});

describe("one login's catalog in memory", () => {
  it("answers classic before the first read, starts one read, and never a second while it runs", async () => {
    let loads = 0;
    let finish: (read: CatalogRead) => void = () => {};
    const catalog = new ModelCatalog({
      refreshMs: 1000,
      load: () => {
        loads++;
        return new Promise((resolve) => finish = resolve);
      },
    });
    assert.equal(catalog.usesResponsesLite(LITE), false);
    assert.equal(catalog.usesResponsesLite(LITE), false);
    assert.equal(loads, 1);
    finish({ responsesLite: new Set([LITE]), models: 1 });
    await catalog.refresh();
    assert.equal(catalog.usesResponsesLite(LITE), true);
    assert.equal(catalog.usesResponsesLite("gpt-5.4"), false);
    assert.equal(loads, 1, "not again before the refresh interval");
  });

  it("reads again once older than the interval, with its ETag; a 304 keeps what it had", async () => {
    let now = 0;
    const etags: (string | undefined)[] = [];
    const answers: (CatalogRead | "not_modified")[] = [
      { responsesLite: new Set([LITE]), models: 1, etag: '"v1"' },
      "not_modified",
      { responsesLite: new Set(), models: 1, etag: '"v2"' },
    ];
    const catalog = new ModelCatalog({
      refreshMs: 1000,
      now: () => now,
      load: (etag) => {
        etags.push(etag);
        return Promise.resolve(answers.shift()!);
      },
    });
    await catalog.refresh();
    now = 999;
    assert.equal(catalog.usesResponsesLite(LITE), true);
    now = 1000;
    // The read that is due runs in the background: this request still has
    // the list read before.
    assert.equal(catalog.usesResponsesLite(LITE), true);
    await catalog.refresh();
    assert.equal(catalog.usesResponsesLite(LITE), true, "kept on a 304");
    now = 2000;
    catalog.usesResponsesLite(LITE);
    await catalog.refresh();
    assert.equal(catalog.usesResponsesLite(LITE), false, "the new list");
    assert.deepEqual(etags, [undefined, '"v1"', '"v1"']);
  });

  it("says once per change that it cannot be read, tries again after a pause, and says when it can", async () => {
    let now = 0;
    let loads = 0;
    const lines: string[] = [];
    const catalog = new ModelCatalog({
      refreshMs: 3_600_000,
      now: () => now,
      onChange: (line) => lines.push(line),
      load: () => {
        loads++;
        return loads <= 2
          ? Promise.reject(
            new RelayError(502, "upstream_models_unavailable", "HTTP 500"),
          )
          : Promise.resolve({ responsesLite: new Set([LITE]), models: 1 });
      },
    });
    assert.equal(catalog.usesResponsesLite(LITE), false);
    await sleep(0);
    now = CATALOG_RETRY_MS - 1;
    catalog.usesResponsesLite(LITE);
    await sleep(0);
    assert.equal(loads, 1, "asked again only after the pause");
    now = CATALOG_RETRY_MS;
    assert.equal(catalog.usesResponsesLite(LITE), false);
    await sleep(0);
    assert.equal(loads, 2);
    assert.equal(lines.length, 1, "the same failure is not told twice");
    now = 2 * CATALOG_RETRY_MS;
    catalog.usesResponsesLite(LITE);
    await sleep(0);
    assert.equal(catalog.usesResponsesLite(LITE), true);
    assert.deepEqual(lines, [
      "model catalog unavailable (HTTP 500); requests go in the classic shape until it is read",
      "model catalog read again; requests are shaped by it",
    ]);
  });
});

describe("a provider's catalogs", () => {
  it("sends a request before the catalog is read in the classic shape, without waiting for it", async () => {
    const watch = catalogWatch();
    let answer: () => void = () => {};
    const held = new Promise<void>((resolve) => answer = resolve);
    watch.override = async (url) => {
      await held;
      return await fetch(url, {
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "chatgpt-account-id": ACCOUNT,
        },
      });
    };
    const p = provider(watch);
    const first = await ask(p);
    assert.equal(first.status, 200, first.text);
    assert.equal(posts()[0].responsesLite, false, "classic while none is read");
    assert.equal(watch.started, 1, "its first use started one read");
    answer();
    watch.override = undefined;
    await watch.settled(1);
    const second = await ask(p);
    assert.equal(second.status, 200, second.text);
    assert.equal(posts()[1].responsesLite, true, "lite once it is read");
  });

  it("reads the catalog once for many requests (none on a request's path)", async () => {
    const watch = catalogWatch();
    const p = provider(watch);
    await p.init();
    await watch.settled(1);
    for (let index = 0; index < 5; index++) {
      assert.equal((await ask(p)).status, 200);
    }
    assert.equal(watch.started, 1);
    assert.ok(posts().every((request) => request.responsesLite));
  });

  it("reads it again in the background once older than OPENAI_RESPONSES_CATALOG_REFRESH_MS, with If-None-Match", async () => {
    backend.setAccountResponsesLite(ACCOUNT, []);
    const watch = catalogWatch();
    const p = provider(watch, { OPENAI_RESPONSES_CATALOG_REFRESH_MS: "50" });
    await p.init();
    await watch.settled(1);
    await sleep(60);
    assert.equal((await ask(p)).status, 200);
    await watch.settled(2);
    assert.equal(watch.answers[1].status, 304);
    assert.equal(watch.answers[1].ifNoneMatch, watch.answers[0].etag);
    assert.equal(posts()[0].responsesLite, false);
    // The account's catalog changes: the next read brings it (the request
    // that finds it due still goes by the list held).
    backend.setAccountResponsesLite(ACCOUNT, [LITE]);
    await sleep(60);
    assert.equal((await ask(p)).status, 200);
    assert.equal(posts()[1].responsesLite, false);
    await watch.settled(3);
    assert.equal(watch.answers[2].status, 200);
    assert.notEqual(watch.answers[2].etag, watch.answers[0].etag);
    assert.equal((await ask(p)).status, 200);
    assert.equal(posts()[2].responsesLite, true, "shaped by the new list");
  });

  it("serves every request when the catalog cannot be read, and tells the seller once", async () => {
    const watch = catalogWatch();
    watch.override = () => new Response("{}", { status: 503 });
    const lines: string[] = [];
    const p = provider(
      watch,
      { OPENAI_RESPONSES_CATALOG_REFRESH_MS: "10" },
      lines,
    );
    await p.init();
    await watch.settled(1);
    for (let index = 0; index < 3; index++) {
      await sleep(15);
      assert.equal((await ask(p)).status, 200);
      await watch.settled(watch.started);
    }
    assert.ok(watch.started >= 3, `${watch.started} reads`);
    assert.ok(posts().every((request) => request.responsesLite === false));
    assert.deepEqual(
      lines.filter((line) => line.includes("catalog")),
      [
        "login default: model catalog unavailable (Expected a model list from the upstream, found HTTP 503); requests go in the classic shape until it is read",
      ],
    );
  });
});
