import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { CONFIG_SCHEMA, parseConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";

function configError(config: Record<string, string>): ConfigError {
  try {
    parseConfig(config);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError: ${error}`);
    return error;
  }
  assert.fail("expected parseConfig to throw");
}

function assertRejects(key: string, value: string, expected: RegExp): void {
  const error = configError({ [key]: value });
  assert.equal(error.key, key);
  assert.equal(error.code, "invalid_config");
  assert.ok(error.message.includes(key), `message names ${key}`);
  assert.match(error.message, expected);
  assert.doesNotMatch(error.message, /\.$/, "no trailing period");
}

describe("parseConfig defaults", () => {
  it("applies every documented default", () => {
    const settings = parseConfig({}, { homeDir: "/home/seller" });
    assert.equal(
      settings.authFile,
      join("/home/seller", ".codex", "auth.json"),
    );
    assert.equal(settings.baseUrl, "https://chatgpt.com/backend-api");
    assert.equal(
      settings.responsesUrl,
      "https://chatgpt.com/backend-api/codex/responses",
    );
    assert.equal(settings.tokenUrl, "https://auth.openai.com/oauth/token");
    assert.equal(settings.requestTimeoutMs, 60_000);
    assert.equal(settings.idleTimeoutMs, 120_000);
    assert.equal(settings.maxBodyBytes, 64 * 1024 * 1024);
    assert.equal(settings.maxConcurrency, 5);
    assert.deepEqual(settings.pricing, {
      defaults: { inputUsdPerMillion: 10, outputUsdPerMillion: 10 },
    });
    assert.deepEqual(settings.allowedServices, []);
    assert.deepEqual(settings.aliasMap, {});
    assert.ok(settings.defaultInstructions.length > 0);
    assert.equal(settings.holdMs, 20_000);
    assert.equal(settings.holdKeepAliveMs, 15_000);
  });

  it("takes a hold time from 0 to 25 s and a keep-alive from 1 ms to 50 s", () => {
    const low = parseConfig({
      OPENAI_RESPONSES_HOLD_MS: "0",
      OPENAI_RESPONSES_HOLD_KEEPALIVE_MS: "1",
    });
    assert.equal(low.holdMs, 0);
    assert.equal(low.holdKeepAliveMs, 1);
    const high = parseConfig({
      OPENAI_RESPONSES_HOLD_MS: "25000",
      OPENAI_RESPONSES_HOLD_KEEPALIVE_MS: "50000",
    });
    assert.equal(high.holdMs, 25_000);
    assert.equal(high.holdKeepAliveMs, 50_000);
  });

  it("takes the auth file from CODEX_HOME when it is set", () => {
    const settings = parseConfig({ CODEX_HOME: "/srv/codex" });
    assert.equal(settings.authFile, join("/srv/codex", "auth.json"));
  });

  it("prefers OPENAI_RESPONSES_AUTH_FILE over CODEX_HOME", () => {
    const settings = parseConfig({
      CODEX_HOME: "/srv/codex",
      OPENAI_RESPONSES_AUTH_FILE: "/etc/auth.json",
    });
    assert.equal(settings.authFile, "/etc/auth.json");
  });

  it("treats empty values as unset", () => {
    const settings = parseConfig({
      ANTSEED_MAX_CONCURRENCY: "",
      OPENAI_RESPONSES_BASE_URL: "  ",
    });
    assert.equal(settings.maxConcurrency, 5);
    assert.equal(settings.baseUrl, "https://chatgpt.com/backend-api");
  });

  it("strips trailing slashes from the base URL", () => {
    const settings = parseConfig({
      OPENAI_RESPONSES_BASE_URL: "http://127.0.0.1:9000/backend-api/",
    });
    assert.equal(
      settings.responsesUrl,
      "http://127.0.0.1:9000/backend-api/codex/responses",
    );
  });

  it("accepts plain http for every loopback form", () => {
    for (
      const url of [
        "http://127.0.0.1:1",
        "http://127.9.8.7",
        "http://localhost:8080",
        "http://[::1]:9",
      ]
    ) {
      assert.doesNotThrow(() =>
        parseConfig({ OPENAI_RESPONSES_TOKEN_URL: url })
      );
    }
  });
});

describe("parseConfig services and pricing", () => {
  it("parses the allowed services, trimmed and deduplicated", () => {
    const settings = parseConfig({
      ANTSEED_ALLOWED_SERVICES: " gpt-5.4, gpt-5.5 ,,gpt-5.4",
    });
    assert.deepEqual(settings.allowedServices, ["gpt-5.4", "gpt-5.5"]);
    assert.deepEqual(settings.services, ["gpt-5.4", "gpt-5.5"]);
  });

  it("announces alias and pricing keys when no allow-list is set", () => {
    const settings = parseConfig({
      ANTSEED_SERVICE_ALIAS_MAP_JSON: '{"codex-fast":"gpt-5.4-mini"}',
      ANTSEED_SERVICE_PRICING_JSON:
        '{"gpt-5.5":{"inputUsdPerMillion":2,"outputUsdPerMillion":8}}',
    });
    assert.deepEqual(settings.services, ["codex-fast", "gpt-5.5"]);
    assert.deepEqual(settings.aliasMap, { "codex-fast": "gpt-5.4-mini" });
  });

  it("builds per-service pricing from the JSON", () => {
    const settings = parseConfig({
      ANTSEED_INPUT_USD_PER_MILLION: "1.5",
      ANTSEED_OUTPUT_USD_PER_MILLION: "6",
      ANTSEED_CACHED_INPUT_USD_PER_MILLION: "0.15",
      ANTSEED_SERVICE_PRICING_JSON:
        '{"gpt-5.5":{"inputUsdPerMillion":2,"outputUsdPerMillion":8,"cachedInputUsdPerMillion":0.2}}',
    });
    assert.deepEqual(settings.pricing, {
      defaults: {
        inputUsdPerMillion: 1.5,
        outputUsdPerMillion: 6,
        cachedInputUsdPerMillion: 0.15,
      },
      services: {
        "gpt-5.5": {
          inputUsdPerMillion: 2,
          outputUsdPerMillion: 8,
          cachedInputUsdPerMillion: 0.2,
        },
      },
    });
  });
});

describe("parseConfig errors name the key", () => {
  it("rejects a negative price", () => {
    assertRejects("ANTSEED_INPUT_USD_PER_MILLION", "-1", /non-negative/);
  });

  it("rejects a non-numeric price", () => {
    assertRejects("ANTSEED_OUTPUT_USD_PER_MILLION", "ten", /"ten"/);
  });

  it("rejects a non-numeric cached price", () => {
    assertRejects("ANTSEED_CACHED_INPUT_USD_PER_MILLION", "1e", /"1e"/);
  });

  it("rejects a concurrency below 1", () => {
    assertRejects("ANTSEED_MAX_CONCURRENCY", "0", /at least 1/);
  });

  it("rejects a concurrency that is not an integer", () => {
    assertRejects("ANTSEED_MAX_CONCURRENCY", "2.5", /integer.*"2\.5"/);
  });

  it("reads a buyer's share of the stored responses as a fraction, a quarter by default", () => {
    assert.equal(parseConfig({}).stateBuyerShare, 0.25);
    for (const [text, value] of [["0.5", 0.5], [".1", 0.1], ["1", 1]]) {
      const settings = parseConfig({
        OPENAI_RESPONSES_STATE_BUYER_SHARE: text as string,
      });
      assert.equal(settings.stateBuyerShare, value);
    }
  });

  it("rejects a buyer share that is not a fraction above 0 and at most 1", () => {
    for (const value of ["0", "1.5", "-0.1", "quarter", "1e-1", "25%"]) {
      assertRejects(
        "OPENAI_RESPONSES_STATE_BUYER_SHARE",
        value,
        new RegExp(
          `expected a fraction above 0 and at most 1 \\(e\\.g\\. 0\\.25\\), found "${
            value.replace(/[.%]/g, "\\$&")
          }"`,
        ),
      );
    }
  });

  it("rejects a non-numeric timeout", () => {
    assertRejects("OPENAI_RESPONSES_REQUEST_TIMEOUT_MS", "soon", /integer/);
    assertRejects("OPENAI_RESPONSES_IDLE_TIMEOUT_MS", "-5", /integer/);
    assertRejects("OPENAI_RESPONSES_MAX_BODY_BYTES", "1MB", /integer/);
  });

  it("rejects a hold time the buyer's 30 s window would end", () => {
    assertRejects(
      "OPENAI_RESPONSES_HOLD_MS",
      "30000",
      /integer from 0 to 25000, found "30000"/,
    );
    assertRejects("OPENAI_RESPONSES_HOLD_MS", "-1", /integer from 0 to 25000/);
  });

  it("rejects a hold keep-alive of 0 or one the buyer's 60 s window would end", () => {
    assertRejects(
      "OPENAI_RESPONSES_HOLD_KEEPALIVE_MS",
      "0",
      /integer from 1 to 50000, found "0"/,
    );
    assertRejects(
      "OPENAI_RESPONSES_HOLD_KEEPALIVE_MS",
      "60000",
      /integer from 1 to 50000/,
    );
  });

  it("rejects pricing JSON that is not JSON", () => {
    assertRejects("ANTSEED_SERVICE_PRICING_JSON", "{gpt", /not JSON/);
  });

  it("rejects pricing JSON that is not an object", () => {
    assertRejects("ANTSEED_SERVICE_PRICING_JSON", "[1]", /an array/);
  });

  it("rejects a negative price inside the pricing JSON", () => {
    assertRejects(
      "ANTSEED_SERVICE_PRICING_JSON",
      '{"gpt-5.5":{"inputUsdPerMillion":-2,"outputUsdPerMillion":8}}',
      /gpt-5\.5\.inputUsdPerMillion/,
    );
  });

  it("rejects a pricing entry without prices", () => {
    assertRejects(
      "ANTSEED_SERVICE_PRICING_JSON",
      '{"gpt-5.5":3}',
      /inputUsdPerMillion/,
    );
  });

  it("rejects an alias map that is not JSON", () => {
    assertRejects("ANTSEED_SERVICE_ALIAS_MAP_JSON", "a=b", /not JSON/);
  });

  it("rejects alias values that are not non-empty strings", () => {
    assertRejects(
      "ANTSEED_SERVICE_ALIAS_MAP_JSON",
      '{"fast":""}',
      /non-empty upstream model name for service "fast"/,
    );
    assertRejects(
      "ANTSEED_SERVICE_ALIAS_MAP_JSON",
      '{"fast":42}',
      /non-empty upstream model name/,
    );
  });

  it("rejects a base URL that is not http(s)", () => {
    assertRejects(
      "OPENAI_RESPONSES_BASE_URL",
      "ftp://example.com",
      /http\(s\)/,
    );
    assertRejects("OPENAI_RESPONSES_BASE_URL", "not a url", /http\(s\)/);
  });

  it("rejects plain http to a non-loopback host", () => {
    assertRejects(
      "OPENAI_RESPONSES_TOKEN_URL",
      "http://auth.example.com/oauth/token",
      /loopback/,
    );
    assertRejects(
      "OPENAI_RESPONSES_BASE_URL",
      "http://10.0.0.1/backend-api",
      /loopback/,
    );
  });

  it("rejects URLs with embedded credentials", () => {
    assertRejects(
      "OPENAI_RESPONSES_BASE_URL",
      "https://user:pw@example.com",
      /without credentials/,
    );
  });
});

describe("CONFIG_SCHEMA", () => {
  it("declares every key parseConfig reads", () => {
    const declared = new Set(CONFIG_SCHEMA.map((field) => field.key));
    const read = new Set<string>();
    const spy = new Proxy({}, {
      get(_target, key) {
        if (typeof key === "string") read.add(key);
        return undefined;
      },
    }) as Record<string, string>;
    parseConfig(spy);
    assert.ok(read.size >= 15, `read ${read.size} keys`);
    for (const key of read) assert.ok(declared.has(key), `${key} declared`);
  });
});
