// The Codex CLI version the provider speaks as: the highest valid of the
// default, the Codex homes' version.json and the key (which wins outright),
// as the simulated backend sees it in the `version` header and the model
// list's `client_version`, and as `check` prints it.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  chooseClientVersion,
  codexHomesOf,
  compareVersions,
  describeClientVersion,
  readVersionFile,
  selectClientVersion,
} from "../src/codex/client_version.ts";
import { DEFAULT_CLIENT_VERSION } from "../src/config.ts";
import { createProvider } from "../src/provider/provider.ts";
import { listBackendModels } from "../src/serve/models.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { makeAuthJson } from "../src/testing/jwt.ts";
import { callProvider as callThroughNode } from "./fakes/seller_node.ts";
import { runCliProcess } from "./fixtures/cli_process.ts";

const ACCOUNT = "acct_version_0000001234";
/** A model the default version is too old for. */
const NEW_MODEL = "gpt-5.6-sol";

/** The node's own routing (the model named in a JSON body) is not under test here. */
function callProvider(
  ...[p, request]: Parameters<typeof callThroughNode>
): ReturnType<typeof callThroughNode> {
  return callThroughNode(p, request, { skipRouting: true });
}

let folder: string;
let backend: FakeCodexBackend;
let serial = 0;

/** A seller's home with a Codex home (`<home>/.codex`) holding a login. */
async function sellerHome(
  versionJson?: string,
): Promise<{ home: string; codexHome: string }> {
  serial++;
  const home = join(folder, `seller-${serial}`);
  const codexHome = join(home, ".codex");
  await mkdir(codexHome, { recursive: true });
  await writeFile(
    join(codexHome, "auth.json"),
    JSON.stringify(makeAuthJson({ accountId: ACCOUNT })),
    { mode: 0o600 },
  );
  if (versionJson !== undefined) {
    await writeFile(join(codexHome, "version.json"), versionJson);
  }
  return { home, codexHome };
}

function versionJson(latest: unknown): string {
  return `${
    JSON.stringify({
      latest_version: latest,
      last_checked_at: "2026-12-06T10:00:00Z",
      dismissed_version: null,
    })
  }\n`;
}

function sellerConfig(
  seller: { home: string; codexHome: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    CODEX_HOME: seller.codexHome,
    OPENAI_RESPONSES_HOME: join(seller.home, ".antseed", "openai-responses"),
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    // Never a real token endpoint, even by mistake.
    OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
    ...extra,
  };
}

function posts() {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

before(async () => {
  folder = await mkdtemp(join(tmpdir(), "client-version-test-"));
  backend = await startFakeCodexBackend({
    minimalClientVersions: { [NEW_MODEL]: "0.175.0" },
  });
});
after(async () => {
  await backend.close();
  await rm(folder, { recursive: true, force: true });
});
beforeEach(() => backend.reset());

describe("compareVersions", () => {
  it("orders x.y.z by number, not by text", () => {
    assert.ok(compareVersions("0.180.0", "0.171.0") > 0);
    assert.ok(compareVersions("0.99.0", "0.171.0") < 0);
    assert.ok(compareVersions("1.0.0", "0.999.999") > 0);
    assert.ok(compareVersions("0.171.10", "0.171.9") > 0);
    assert.equal(compareVersions("0.171.0", "0.171.0"), 0);
    assert.equal(compareVersions(" 0.171.0\n", "0.171.0"), 0);
  });

  it("puts a pre-release below its release and above the one before", () => {
    assert.ok(compareVersions("0.172.0-alpha.1", "0.172.0") < 0);
    assert.ok(compareVersions("0.172.0", "0.172.0-alpha.1") > 0);
    assert.ok(compareVersions("0.172.0-alpha.1", "0.171.0") > 0);
    assert.ok(compareVersions("0.172.0-alpha.2", "0.172.0-alpha.10") < 0);
    assert.ok(compareVersions("0.172.0-alpha.1", "0.172.0-beta.1") < 0);
    assert.ok(compareVersions("0.172.0-alpha", "0.172.0-alpha.1") < 0);
    assert.ok(compareVersions("0.172.0-1", "0.172.0-alpha") < 0);
    assert.equal(compareVersions("0.172.0+build.7", "0.172.0"), 0);
  });

  it("puts a text that is no version below every version", () => {
    assert.ok(compareVersions("latest", "0.0.1") < 0);
    assert.ok(compareVersions("0.0.1", "1.2") > 0);
    assert.equal(compareVersions("x", "y"), 0);
  });
});

describe("chooseClientVersion", () => {
  const file = "/home/me/.codex/version.json";

  it("keeps the default when no Codex home names a version", () => {
    const choice = chooseClientVersion({ fallback: "0.171.0" });
    assert.equal(choice.version, "0.171.0");
    assert.equal(choice.source, "default");
  });

  it("takes a Codex home's newer latest_version", () => {
    const choice = chooseClientVersion({
      fallback: "0.171.0",
      read: [{ file, version: "0.180.0" }],
    });
    assert.equal(choice.version, "0.180.0");
    assert.equal(choice.source, "version_file");
    assert.equal(choice.file, file);
  });

  it("keeps the default over an older latest_version", () => {
    const choice = chooseClientVersion({
      fallback: "0.171.0",
      read: [{ file, version: "0.160.0" }],
    });
    assert.equal(choice.version, "0.171.0");
    assert.equal(choice.source, "default");
  });

  it("takes the highest of several Codex homes", () => {
    const choice = chooseClientVersion({
      fallback: "0.171.0",
      read: [
        { file: "/a/version.json", version: "0.175.0" },
        { file: "/b/version.json", version: "0.181.1" },
        { file: "/c/version.json", version: "0.181.0" },
      ],
    });
    assert.equal(choice.version, "0.181.1");
    assert.equal(choice.file, "/b/version.json");
  });

  it("takes the key outright, even below the default and version.json", () => {
    const choice = chooseClientVersion({
      pinned: "0.150.0",
      fallback: "0.171.0",
      read: [{ file, version: "0.180.0" }],
    });
    assert.equal(choice.version, "0.150.0");
    assert.equal(choice.source, "key");
  });

  it("says why in words", () => {
    assert.equal(
      describeClientVersion(chooseClientVersion({
        fallback: "0.171.0",
        read: [{ file, version: "0.180.0" }],
      })),
      "0.180.0 (from /home/me/.codex/version.json; default 0.171.0)",
    );
    assert.equal(
      describeClientVersion(
        chooseClientVersion({ pinned: "0.150.0", fallback: "0.171.0" }),
      ),
      "0.150.0 (from OPENAI_RESPONSES_CLIENT_VERSION; default 0.171.0)",
    );
    assert.equal(
      describeClientVersion(chooseClientVersion({
        fallback: "0.171.0",
        read: [{ file, version: "0.160.0" }],
      })),
      "0.171.0 (the default; /home/me/.codex/version.json says 0.160.0)",
    );
  });
});

describe("codexHomesOf", () => {
  it("takes the folders of the Codex CLI's login and of the named files, never the provider's accounts", () => {
    assert.deepEqual(
      codexHomesOf({
        rule: "codex_home",
        logins: [{ name: "codex", authFile: "/h/.codex/auth.json" }],
      }),
      ["/h/.codex"],
    );
    assert.deepEqual(
      codexHomesOf({
        rule: "auth_file",
        logins: [
          { name: "file1", authFile: "/h/.codex/auth.json" },
          { name: "file2", authFile: "/h/.codex-b/auth.json" },
          { name: "file3", authFile: "/h/.codex/auth.json" },
        ],
      }),
      ["/h/.codex", "/h/.codex-b"],
    );
    assert.deepEqual(
      codexHomesOf({
        rule: "accounts",
        logins: [{ name: "work", authFile: "/h/accounts/work/auth.json" }],
      }),
      [],
    );
  });
});

describe("readVersionFile", () => {
  it("reads the Codex CLI's latest_version", async () => {
    const seller = await sellerHome(versionJson("0.180.0"));
    assert.deepEqual(await readVersionFile(seller.codexHome), {
      version: "0.180.0",
    });
  });

  it("ignores surrounding whitespace in latest_version, as the CLI does", async () => {
    const seller = await sellerHome(versionJson(" 0.180.0 "));
    assert.deepEqual(await readVersionFile(seller.codexHome), {
      version: "0.180.0",
    });
  });

  it("says nothing when there is no version.json", async () => {
    const seller = await sellerHome();
    assert.deepEqual(await readVersionFile(seller.codexHome), {});
    assert.deepEqual(await readVersionFile(join(folder, "no-such-home")), {});
  });

  for (
    const [name, text, found] of [
      ["text that is not JSON", "{latest_version: 0.180.0", /not JSON/],
      ["JSON that is not an object", "[1]", /not an object/],
      ["no latest_version", "{}", /latest_version none/],
      ["a number", versionJson(180), /latest_version a number/],
      ["a pre-release", versionJson("0.181.0-alpha.2"), /"0\.181\.0-alpha\.2"/],
      ["a text that is no version", versionJson("latest"), /"latest"/],
      ["a long text", versionJson("x".repeat(500)), /a text of 500 characters/],
    ] as const
  ) {
    it(`ignores version.json holding ${name}, with one warning and the home as ~`, async () => {
      const seller = await sellerHome(text);
      const result = await readVersionFile(seller.codexHome, {
        homeDir: seller.home,
      });
      assert.equal(result.version, undefined);
      assert.match(result.warning ?? "", found);
      assert.match(
        result.warning ?? "",
        /^Ignoring ~\/\.codex\/version\.json: expected the Codex CLI's/,
      );
      assert.ok(!result.warning!.includes(seller.home), result.warning);
    });
  }

  it("ignores a version.json too large to be the CLI's", async () => {
    const seller = await sellerHome(
      " ".repeat(70_000) + versionJson("0.180.0"),
    );
    const result = await readVersionFile(seller.codexHome);
    assert.equal(result.version, undefined);
    assert.match(result.warning ?? "", /a file of \d+ bytes/);
  });
});

describe("selectClientVersion", () => {
  it("does not read version.json when the key is set", async () => {
    const seller = await sellerHome("not json");
    const warnings: string[] = [];
    const choice = await selectClientVersion(
      { clientVersion: "0.150.0", clientVersionPinned: true },
      [seller.codexHome],
      { onWarning: (message) => warnings.push(message) },
    );
    assert.equal(choice.version, "0.150.0");
    assert.equal(choice.source, "key");
    assert.deepEqual(warnings, []);
  });
});

describe("the version the backend sees", () => {
  it("speaks as the Codex home's newer latest_version: header, user-agent, and a model that needs it served", async () => {
    const seller = await sellerHome(versionJson("0.180.0"));
    const warnings: string[] = [];
    const provider = createProvider(sellerConfig(seller), {
      onWarning: (message) => warnings.push(message),
      onLog: () => {},
    });
    const result = await callProvider(provider, {
      body: { model: NEW_MODEL, input: "Hi" },
    });
    assert.equal(result.status, 200, result.text);
    const headers = posts()[0].headers;
    assert.equal(headers.version, "0.180.0");
    assert.match(headers["user-agent"], /^codex_cli_rs\/0\.180\.0 \(/);
    assert.deepEqual(warnings, []);
    assert.equal((await provider.clientVersion()).source, "version_file");
  });

  it("asks the model list with the same client_version", async () => {
    const seller = await sellerHome(versionJson("0.180.0"));
    const provider = createProvider(sellerConfig(seller), { onLog: () => {} });
    const ids = await listBackendModels(provider);
    assert.ok(ids.includes(NEW_MODEL), ids.join(", "));
    const list = backend.requests.find((request) =>
      request.path.endsWith("/codex/models")
    );
    assert.equal(
      new URL(list!.url, backend.baseUrl).searchParams.get("client_version"),
      "0.180.0",
    );
    assert.equal(list!.headers.version, "0.180.0");
  });

  it("keeps the default over an older latest_version", async () => {
    const seller = await sellerHome(versionJson("0.160.0"));
    const provider = createProvider(sellerConfig(seller), { onLog: () => {} });
    const result = await callProvider(provider, {
      body: { model: "gpt-5.4", input: "Hi" },
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(posts()[0].headers.version, DEFAULT_CLIENT_VERSION);
  });

  it("speaks as the key even when it is lower than version.json", async () => {
    const seller = await sellerHome(versionJson("0.180.0"));
    const provider = createProvider(
      sellerConfig(seller, { OPENAI_RESPONSES_CLIENT_VERSION: "0.150.0" }),
      { onLog: () => {}, onWarning: () => {} },
    );
    const result = await callProvider(provider, {
      body: { model: "gpt-5.4", input: "Hi" },
    });
    assert.equal(result.status, 200, result.text);
    assert.equal(posts()[0].headers.version, "0.150.0");
  });

  it("ignores a broken version.json with one warning, and speaks as the default", async () => {
    const seller = await sellerHome('{"latest_version": "0.180');
    const warnings: string[] = [];
    const provider = createProvider(sellerConfig(seller), {
      onWarning: (message) => warnings.push(message),
      onLog: () => {},
    });
    for (let turn = 0; turn < 2; turn++) {
      const result = await callProvider(provider, {
        body: { model: "gpt-5.4", input: "Hi" },
      });
      assert.equal(result.status, 200, result.text);
    }
    assert.equal(posts()[0].headers.version, DEFAULT_CLIENT_VERSION);
    assert.equal(posts()[1].headers.version, DEFAULT_CLIENT_VERSION);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /version\.json: expected .* found text that is not JSON/,
    );
    assert.ok(!warnings[0].includes(ACCOUNT));
  });
});

describe("the seller's notice of a model that needs a newer version", () => {
  it("names the version spoken and where it came from", async () => {
    const seller = await sellerHome(versionJson("0.172.0"));
    const warnings: string[] = [];
    const provider = createProvider(sellerConfig(seller), {
      onWarning: (message) => warnings.push(message),
      onLog: () => {},
    });
    const result = await callProvider(provider, {
      body: { model: NEW_MODEL, input: "Hi" },
    });
    assert.equal(result.status, 400, result.text);
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /requires a newer Codex client than 0\.172\.0, the version spoken \(from a Codex home's version\.json\)\. /,
    );
  });

  it("names the key once when the key set it", async () => {
    const seller = await sellerHome();
    const warnings: string[] = [];
    const provider = createProvider(
      sellerConfig(seller, { OPENAI_RESPONSES_CLIENT_VERSION: "0.150.0" }),
      { onWarning: (message) => warnings.push(message), onLog: () => {} },
    );
    await callProvider(provider, { body: { model: NEW_MODEL, input: "Hi" } });
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0],
      /than OPENAI_RESPONSES_CLIENT_VERSION=0\.150\.0\. /,
    );
  });
});

describe("check", () => {
  it("prints the version used and why", async () => {
    const seller = await sellerHome(versionJson("0.180.0"));
    const config = sellerConfig(seller);
    const result = await runCliProcess(["check"], {
      ...config,
      HOME: seller.home,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^client version: 0\.180\.0 \(from ~\/\.codex\/version\.json; default 0\.171\.0\)$/m,
    );
  });

  it("prints the key when it is set, and warns once of a broken version.json", async () => {
    const seller = await sellerHome("{}");
    const config = sellerConfig(seller);
    const broken = await runCliProcess(["check"], {
      ...config,
      HOME: seller.home,
    });
    assert.equal(broken.code, 0, broken.stderr);
    assert.match(broken.stdout, /^client version: 0\.171\.0 \(the default; /m);
    const warned = broken.stderr.split("\n").filter((line) =>
      line.includes("version.json")
    );
    assert.equal(warned.length, 1, broken.stderr);
    assert.match(warned[0], /^warning: Ignoring ~\/\.codex\/version\.json: /);
    const pinned = await runCliProcess(["check"], {
      ...config,
      HOME: seller.home,
      OPENAI_RESPONSES_CLIENT_VERSION: "0.150.0",
    });
    assert.match(
      pinned.stdout,
      /^client version: 0\.150\.0 \(from OPENAI_RESPONSES_CLIENT_VERSION; default 0\.171\.0\)$/m,
    );
  });
});
