// Does what the AntSeed CLI does with a plugin: `npm install --ignore-scripts`
// of the packed tarball into a plugins folder, then `import()` of exactly
// `<plugins>/node_modules/<pkg>/dist/index.js` by file URL. It runs in the
// Node suite against the npm build (the AntSeed node runs on Node).

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { AntseedProviderPlugin } from "../mod.ts";
import { findUp, IS_DENO } from "./_runtime.ts";
import { loadClientFixture } from "./fixtures/clients.ts";

const PACKAGE = "@antseed/provider-openai-responses";

describe("AntSeed CLI loader", {
  skip: IS_DENO && "runs in the Node suite against the npm build",
  timeout: 180_000,
}, () => {
  it("installs the packed tarball and loads dist/index.js by file URL", async () => {
    const npmDir = dirname(findUp("package.json"));
    const manifest = JSON.parse(
      await readFile(join(npmDir, "package.json"), "utf8"),
    );
    assert.equal(manifest.name, PACKAGE);
    assert.equal(manifest.type, "module");
    assert.equal(manifest.scripts, undefined, "no install scripts");
    // RUNTIME_DEPENDENCIES of scripts/build_npm.ts, and nothing else.
    assert.deepEqual(Object.keys(manifest.dependencies).sort(), [
      "fzstd",
      "jose",
    ]);

    const work = await mkdtemp(join(tmpdir(), "antseed-plugins-"));
    try {
      const packed = execFileSync(
        "npm",
        ["pack", npmDir, "--pack-destination", work, "--silent"],
        { encoding: "utf8" },
      ).trim().split("\n").pop()!;
      const tarball = join(work, packed);
      assert.ok(existsSync(tarball), `tarball ${tarball}`);

      const plugins = join(work, "plugins");
      execFileSync("mkdir", ["-p", plugins]);
      await writeFile(
        join(plugins, "package.json"),
        JSON.stringify({ name: "antseed-plugins", private: true }),
      );
      execFileSync(
        "npm",
        [
          "install",
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          "--silent",
          tarball,
        ],
        { cwd: plugins, stdio: "pipe" },
      );

      const entry = join(plugins, "node_modules", PACKAGE, "dist", "index.js");
      assert.ok(existsSync(entry), "dist/index.js installed");
      assert.ok(
        !existsSync(join(plugins, "node_modules", PACKAGE, "dist", "tests")),
        "the test suite is not shipped",
      );
      const mod = await import(pathToFileURL(entry).href);
      const plugin = mod.default as AntseedProviderPlugin;
      assert.equal(typeof plugin, "object");
      assert.equal(plugin.type, "provider");
      assert.equal(typeof plugin.createProvider, "function");
      assert.equal(plugin.version, manifest.version);
      assert.ok(Array.isArray(plugin.configSchema));
      assert.ok(
        plugin.configSchema!.some((field) =>
          field.key === "OPENAI_RESPONSES_AUTH_FILE"
        ),
      );

      const provider = await plugin.createProvider({
        ANTSEED_MAX_CONCURRENCY: "4",
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
        ANTSEED_INPUT_USD_PER_MILLION: "1",
        ANTSEED_OUTPUT_USD_PER_MILLION: "4",
        ANTSEED_SERVICE_ALIAS_MAP_JSON: '{"gpt-5.4":"gpt-5.4"}',
      });
      assert.equal(provider.name, "openai-responses");
      assert.deepEqual(provider.services, ["gpt-5.4"]);
      assert.equal(provider.maxConcurrency, 4);
      assert.deepEqual(provider.pricing.defaults, {
        inputUsdPerMillion: 1,
        outputUsdPerMillion: 4,
      });
      provider.serviceCategories = { "gpt-5.4": ["coding"] };
      assert.deepEqual(provider.serviceCategories, { "gpt-5.4": ["coding"] });
      assert.deepEqual(provider.getCapacity(), { current: 0, max: 4 });

      // A zstd body decodes inside the installed package: on a Node without
      // zstd in node:zlib, with the fzstd it installed as a dependency.
      const decoding = await import(
        pathToFileURL(
          join(
            plugins,
            "node_modules",
            PACKAGE,
            "dist",
            "src",
            "codex",
            "content_encoding.js",
          ),
        ).href
      ) as typeof import("../src/codex/content_encoding.ts");
      const fixture = loadClientFixture(
        "codex-cli/custom-provider-openai-auth-zstd-3.json",
      );
      const decoded = await decoding.decodeRequestBody(
        fixture.bodyBytes(),
        "zstd",
        1024 * 1024,
      );
      assert.equal(
        new TextDecoder().decode(decoded),
        JSON.stringify(fixture.body),
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});
