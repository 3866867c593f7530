// The provider's numbers, read back with a real Prometheus text parser:
// through `provider.metrics()` and through `serve`'s `GET /metrics`, which
// the API key protects like every other route.

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
// @ts-ignore: the package ships no types (tsc of the Node run wants some).
import parseText from "parse-prometheus-text-format";
import { createProvider } from "../src/provider/provider.ts";
import { createServerHandler } from "../src/serve/handler.ts";
import {
  type FakeCodexBackend,
  startFakeCodexBackend,
} from "../src/testing/fake_backend.ts";
import { startFakeTokenEndpoint } from "../src/testing/fake_token_endpoint.ts";
import { makeAccessToken } from "../src/testing/jwt.ts";
import { callProvider } from "./fakes/seller_node.ts";
import { fixedTokens } from "./fakes/fixed_tokens.ts";
import { epochIn, tempDir, writeAuth } from "./fixtures/auth_helpers.ts";

const parsePrometheusTextFormat = parseText as (text: string) => unknown[];

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    count?: string;
    buckets?: Record<string, string>;
  }[];
}

let backend: FakeCodexBackend;
const TOKEN = makeAccessToken({ accountId: "acct_test" });

function provider() {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
  }, {
    tokenSource: fixedTokens("acct_test", TOKEN),
    random: () => 0,
    onLog: () => {},
    metrics: true,
  });
}

function family(families: Family[], name: string): Family {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `no ${name}`);
  return found;
}

function value(
  families: Family[],
  name: string,
  labels: Record<string, string>,
): number {
  const series = family(families, name).metrics.find((metric) =>
    Object.entries(labels).every(([key, v]) => metric.labels?.[key] === v)
  );
  return series ? Number(series.value) : 0;
}

before(async () => {
  backend = await startFakeCodexBackend();
});
after(async () => {
  await backend.close();
});

describe("metrics", () => {
  it("counts requests by route, status and code, tokens by kind, retries, and times the upstream", async () => {
    const p = provider();
    await callProvider(p, { body: { model: "gpt-5.4", input: "Hi" } });
    await callProvider(p, {
      path: "/v1/chat/completions",
      body: { model: "gpt-5.4", messages: [{ role: "user", content: "Hi" }] },
    });
    backend.enqueue({ kind: "status", status: 503 });
    await callProvider(p, { body: { model: "gpt-5.4", input: "Again" } });
    await callProvider(p, { path: "/v1/files", body: {} }, {
      skipRouting: true,
    });
    const families = parsePrometheusTextFormat(p.metrics()) as Family[];
    assert.equal(
      value(families, "openai_responses_requests_total", {
        route: "responses",
        status: "200",
      }),
      2,
    );
    assert.equal(
      value(families, "openai_responses_requests_total", {
        route: "chat_completions",
        status: "200",
      }),
      1,
    );
    assert.equal(
      value(families, "openai_responses_requests_total", {
        status: "404",
        code: "not_found",
      }),
      1,
    );
    assert.ok(
      value(families, "openai_responses_tokens_total", { kind: "output" }) > 0,
    );
    assert.ok(
      value(families, "openai_responses_tokens_total", { kind: "input" }) > 0,
    );
    assert.equal(
      value(families, "openai_responses_upstream_retries_total", {
        reason: "server_is_overloaded",
      }),
      1,
    );
    const firstByte = family(
      families,
      "openai_responses_upstream_first_byte_seconds",
    );
    assert.equal(firstByte.type, "HISTOGRAM");
    assert.equal(Number(firstByte.metrics[0].count), 3);
    assert.equal(
      family(families, "openai_responses_login_up").metrics[0].labels?.login,
      "default",
    );
  });

  it("is served at GET /metrics behind the API key, with no secret", async () => {
    const p = provider();
    await callProvider(p, { body: { model: "gpt-5.4", input: "Hi" } });
    const handler = createServerHandler(p, { apiKey: "serve-key" });
    const refused = await handler(new Request("http://127.0.0.1/metrics"));
    assert.equal(refused.status, 401);
    const response = await handler(
      new Request("http://127.0.0.1/metrics", {
        headers: { authorization: "Bearer serve-key" },
      }),
    );
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type")!, /^text\/plain/);
    const text = await response.text();
    const families = parsePrometheusTextFormat(text) as Family[];
    assert.ok(families.length >= 10);
    assert.ok(!text.includes(TOKEN) && !text.includes("acct_test"));
  });
});

describe("health with the usage endpoint", () => {
  it("shows each login's usage windows and credits, and says when the endpoint fails", async () => {
    const p = provider();
    const handler = createServerHandler(p);
    const ok = await (await handler(new Request("http://127.0.0.1/health")))
      .json();
    const login = ok.logins[0];
    assert.equal(login.name, "default");
    assert.equal(typeof login.usage.primary.usedPercent, "number");
    assert.equal(login.usageUnavailable, null);
    const failing = provider();
    backend.setAccountUsage({ status: 503 }, "acct_test");
    try {
      const down = await (await createServerHandler(failing)(
        new Request("http://127.0.0.1/health"),
      )).json();
      assert.equal(down.logins[0].usage, null);
      assert.match(down.logins[0].usageUnavailable, /usage/i);
    } finally {
      backend.setAccountUsage(undefined, "acct_test");
    }
  });
});

describe("metrics: label values from outside", () => {
  it("escapes a label value with a newline (a token endpoint's error code) so that the text still parses", async () => {
    const endpoint = await startFakeTokenEndpoint({
      failure: { kind: "permanent", code: 'bad\ngrant\\x"y' },
    });
    const dir = await tempDir("metrics-labels-");
    try {
      const authFile = dir.file("auth.json");
      await writeAuth(authFile, {
        exp: epochIn(-60),
        refreshToken: "rt_metrics_labels",
      });
      const p = createProvider({
        OPENAI_RESPONSES_AUTH_FILE: authFile,
        OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
        OPENAI_RESPONSES_TOKEN_URL: endpoint.url,
        ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
      }, { metrics: true, onLog: () => {}, onWarning: () => {} });
      await p.init().catch(() => {});
      assert.equal(endpoint.calls, 1);
      const text = p.metrics();
      assert.ok(
        text.includes('outcome="bad\\ngrant\\\\x\\"y"'),
        `escaped in the text: ${text}`,
      );
      // Every line is a comment or one sample: no line was split.
      for (const line of text.split("\n").filter((line) => line !== "")) {
        assert.match(line, /^(# .*|[a-z_]+(\{.*\})? \S+)$/, line);
      }
      const families = parsePrometheusTextFormat(text) as Family[];
      const refreshes = family(
        families,
        "openai_responses_token_refreshes_total",
      );
      assert.equal(refreshes.metrics.length, 1);
      assert.equal(Number(refreshes.metrics[0].value), 1);
      assert.equal(refreshes.metrics[0].labels?.outcome, 'bad\ngrant\\x"y');
    } finally {
      await endpoint.close();
      await dir.cleanup();
    }
  });
});

describe("metrics off by default", () => {
  it("counts nothing in a provider created without metrics (a seller node never reads them)", async () => {
    const p = createProvider({
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      ANTSEED_ALLOWED_SERVICES: "gpt-5.4",
    }, { tokenSource: fixedTokens("acct_test", TOKEN), onLog: () => {} });
    await callProvider(p, { body: { model: "gpt-5.4", input: "Hi" } });
    const families = parsePrometheusTextFormat(p.metrics()) as Family[];
    assert.equal(
      family(families, "openai_responses_requests_total").metrics.length,
      0,
    );
  });
});
