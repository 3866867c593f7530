import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import plugin, { createProvider, VERSION } from "../mod.ts";
import { CONFIG_SCHEMA } from "../src/config.ts";
import { findUp, IS_DENO } from "./_runtime.ts";

describe("plugin metadata", () => {
  it("is an AntSeed provider plugin", () => {
    assert.equal(plugin.type, "provider");
    assert.equal(plugin.name, "openai-responses");
    assert.equal(plugin.displayName, "OpenAI Responses");
    assert.equal(typeof plugin.createProvider, "function");
    assert.match(plugin.description, /Codex/);
    assert.match(plugin.description, /ChatGPT/);
  });

  it("carries the package version", () => {
    const manifest = IS_DENO ? "deno.json" : "package.json";
    const version = JSON.parse(readFileSync(findUp(manifest), "utf8")).version;
    assert.equal(plugin.version, version);
    assert.equal(VERSION, version);
  });

  it("declares the config schema", () => {
    assert.equal(plugin.configSchema, CONFIG_SCHEMA);
    const keys = plugin.configSchema!.map((field) => field.key);
    for (
      const key of [
        "OPENAI_RESPONSES_AUTH_FILE",
        "OPENAI_RESPONSES_BASE_URL",
        "OPENAI_RESPONSES_TOKEN_URL",
        "OPENAI_RESPONSES_REQUEST_TIMEOUT_MS",
        "OPENAI_RESPONSES_IDLE_TIMEOUT_MS",
        "OPENAI_RESPONSES_DEFAULT_INSTRUCTIONS",
        "ANTSEED_INPUT_USD_PER_MILLION",
        "ANTSEED_OUTPUT_USD_PER_MILLION",
        "ANTSEED_CACHED_INPUT_USD_PER_MILLION",
        "ANTSEED_SERVICE_PRICING_JSON",
        "ANTSEED_MAX_CONCURRENCY",
        "ANTSEED_ALLOWED_SERVICES",
        "ANTSEED_SERVICE_ALIAS_MAP_JSON",
      ]
    ) {
      assert.ok(keys.includes(key), `${key} declared`);
    }
    assert.equal(new Set(keys).size, keys.length, "no duplicate keys");
  });
});

describe("createProvider", () => {
  it("builds a provider from env-style config", async () => {
    const provider = await plugin.createProvider({
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4,gpt-5.5",
      ANTSEED_MAX_CONCURRENCY: "3",
      ANTSEED_SERVICE_PRICING_JSON:
        '{"gpt-5.5":{"inputUsdPerMillion":2,"outputUsdPerMillion":8}}',
    });
    assert.equal(provider.name, "openai-responses");
    assert.deepEqual(provider.services, ["gpt-5.4", "gpt-5.5"]);
    assert.equal(provider.maxConcurrency, 3);
    assert.deepEqual(provider.serviceApiProtocols, {
      "gpt-5.4": ["openai-responses", "openai-chat-completions"],
      "gpt-5.5": ["openai-responses", "openai-chat-completions"],
    });
    assert.deepEqual(provider.pricing.services, {
      "gpt-5.5": { inputUsdPerMillion: 2, outputUsdPerMillion: 8 },
    });
    assert.deepEqual(provider.getCapacity(), { current: 0, max: 3 });
  });

  it("lets the host assign serviceCategories, and keeps them", async () => {
    // As the AntSeed CLI does: through the plugin, after createProvider.
    const provider = await plugin.createProvider({
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    });
    assert.equal(Object.isFrozen(provider), false);
    assert.equal(Object.isSealed(provider), false);
    const own = Object.getOwnPropertyDescriptor(provider, "serviceCategories");
    assert.ok(
      own === undefined || own.writable === true || own.set !== undefined,
      "serviceCategories is writable",
    );
    const categories = { "gpt-5.4": ["coding"] };
    // A module runs in strict mode: assigning a read-only property throws.
    provider.serviceCategories = categories;
    provider.getCapacity();
    assert.equal(provider.serviceCategories, categories, "the same object");
  });

  it("throws a message naming the bad key", () => {
    assert.throws(
      () => createProvider({ ANTSEED_MAX_CONCURRENCY: "many" }),
      /ANTSEED_MAX_CONCURRENCY/,
    );
  });
});
