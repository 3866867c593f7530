// Responses-lite models (spec: "Responses-lite models"): the shape itself
// (a pure function of the classic body), and the provider choosing it per
// attempt from the catalog of the login the attempt goes to: a lite model
// of that login's catalog gets the lite body and header, another model or
// another login's catalog the classic one, a Chat Completions buyer the
// same, and a buyer who already speaks lite is read as a classic one.

import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  fromResponsesLite,
  RESPONSES_LITE_HEADER,
  toResponsesLite,
} from "../src/codex/responses_lite.ts";
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
import {
  epochIn,
  type TempDir,
  tempDir,
  writeAuth,
} from "./fixtures/auth_helpers.ts";

const LITE = "gpt-5.6-sol";
const CLASSIC = "gpt-5.4";
const ACCOUNT = "acct_lite";
const TOOL = {
  type: "function",
  name: "read_file",
  description: "Reads a file",
  parameters: { type: "object", properties: { path: { type: "string" } } },
};
const IMAGE = {
  type: "input_image",
  image_url: "data:image/png;base64,AAAA",
  detail: "high",
};
const IMAGE_WITHOUT_DETAIL = {
  type: "input_image",
  image_url: "data:image/png;base64,AAAA",
};

describe("the responses-lite shape (pure)", () => {
  it("puts the tools in a first additional_tools item, the instructions in a developer message, and empties the top-level fields", () => {
    const classic = {
      model: LITE,
      instructions: "Be brief",
      input: [{ role: "user", content: [{ type: "input_text", text: "Hi" }] }],
      tools: [TOOL],
      tool_choice: "auto",
      parallel_tool_calls: true,
      stream: true,
      store: false,
      reasoning: { effort: "high" },
    };
    const frozen = structuredClone(classic);
    assert.deepEqual(toResponsesLite(classic), {
      model: LITE,
      input: [
        { type: "additional_tools", role: "developer", tools: [TOOL] },
        {
          type: "message",
          role: "developer",
          content: [{ type: "input_text", text: "Be brief" }],
        },
        { role: "user", content: [{ type: "input_text", text: "Hi" }] },
      ],
      tool_choice: "auto",
      parallel_tool_calls: false,
      stream: true,
      store: false,
      reasoning: { effort: "high" },
      instructions: "",
    });
    assert.deepEqual(classic, frozen, "the classic body is not modified");
  });

  it("sends an empty additional_tools item without tools, and no developer message without instructions", () => {
    const lite = toResponsesLite({
      model: LITE,
      instructions: "",
      input: "Hi",
    });
    assert.deepEqual(lite.input, [
      { type: "additional_tools", role: "developer", tools: [] },
      {
        type: "message",
        role: "user",
        content: [{ type: "input_text", text: "Hi" }],
      },
    ]);
    assert.equal(lite.instructions, "");
    assert.equal(Object.hasOwn(lite, "tools"), false);
    assert.equal(lite.parallel_tool_calls, false);
  });

  it("removes detail from input_image parts of messages and of function and custom tool call outputs", () => {
    const text = { type: "input_text", text: "see" };
    const lite = toResponsesLite({
      model: LITE,
      instructions: "x",
      input: [
        { type: "message", role: "user", content: [text, IMAGE] },
        { type: "function_call_output", call_id: "c1", output: [IMAGE, text] },
        { type: "custom_tool_call_output", call_id: "c2", output: [IMAGE] },
        { type: "function_call_output", call_id: "c3", output: "plain" },
      ],
    });
    assert.deepEqual((lite.input as unknown[]).slice(2), [
      { type: "message", role: "user", content: [text, IMAGE_WITHOUT_DETAIL] },
      {
        type: "function_call_output",
        call_id: "c1",
        output: [IMAGE_WITHOUT_DETAIL, text],
      },
      {
        type: "custom_tool_call_output",
        call_id: "c2",
        output: [IMAGE_WITHOUT_DETAIL],
      },
      { type: "function_call_output", call_id: "c3", output: "plain" },
    ]);
    assert.equal(IMAGE.detail, "high", "the buyer's part is not modified");
  });

  it("reads a buyer's lite body as a classic one: the additional_tools item becomes the top-level tools", () => {
    const developer = {
      type: "message",
      role: "developer",
      content: [{ type: "input_text", text: "Base" }],
    };
    const user = { type: "message", role: "user", content: "Hi" };
    const classic = fromResponsesLite({
      model: LITE,
      instructions: "",
      input: [
        { type: "additional_tools", role: "developer", tools: [TOOL] },
        developer,
        user,
      ],
      parallel_tool_calls: false,
    });
    assert.deepEqual(classic.tools, [TOOL]);
    assert.deepEqual(classic.input, [developer, user]);
    const plain = { model: CLASSIC, input: [user] };
    assert.equal(fromResponsesLite(plain), plain, "any other body as it is");
  });
});

let backend: FakeCodexBackend;
let dir: TempDir;

before(async () => {
  backend = await startFakeCodexBackend();
  dir = await tempDir("responses-lite-");
});
after(async () => {
  await backend.close();
  await dir.cleanup();
});
beforeEach(() => backend.reset());

function posts(): RecordedRequest[] {
  return backend.requests.filter((request) =>
    request.method === "POST" && request.path.endsWith("/codex/responses")
  );
}

function single(watch: CatalogWatch): OpenAIResponsesProvider {
  return createProvider({
    OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
    ANTSEED_ALLOWED_SERVICES: `${LITE},${CLASSIC}`,
  }, {
    tokenSource: fixedTokens(ACCOUNT, makeAccessToken({ accountId: ACCOUNT })),
    fetch: watch.fetch,
    onLog: () => {},
  });
}

function ask(
  p: OpenAIResponsesProvider,
  body: Record<string, unknown>,
  path = "/v1/responses",
) {
  return callProvider(p, { path, body });
}

describe("the provider shapes each attempt by its login's catalog", () => {
  it("sends a model the catalog marks lite in the lite shape with its header, another model classic", async () => {
    const watch = catalogWatch();
    const p = single(watch);
    await p.init();
    await watch.settled(1);
    const lite = await ask(p, {
      model: LITE,
      instructions: "Be brief",
      input: [{
        role: "user",
        content: [{ type: "input_text", text: "Hi" }, IMAGE],
      }],
      tools: [TOOL],
      parallel_tool_calls: true,
    });
    assert.equal(lite.status, 200, lite.text);
    const classic = await ask(p, {
      model: CLASSIC,
      instructions: "Be brief",
      input: "Hi",
      tools: [TOOL],
    });
    assert.equal(classic.status, 200, classic.text);
    const [sentLite, sentClassic] = posts();
    assert.equal(sentLite.responsesLite, true, "the lite model went lite");
    assert.equal(sentLite.headers[RESPONSES_LITE_HEADER], "true");
    assert.deepEqual((sentLite.body as Record<string, unknown>).input, [
      { type: "additional_tools", role: "developer", tools: [TOOL] },
      {
        type: "message",
        role: "developer",
        content: [{ type: "input_text", text: "Be brief" }],
      },
      {
        role: "user",
        content: [{ type: "input_text", text: "Hi" }, IMAGE_WITHOUT_DETAIL],
      },
    ]);
    assert.equal(sentClassic.responsesLite, false);
    assert.equal(sentClassic.headers[RESPONSES_LITE_HEADER], undefined);
    assert.deepEqual((sentClassic.body as Record<string, unknown>).tools, [
      TOOL,
    ]);
  });

  it("carries the login's identity in a lite attempt as in a classic one, never the buyer's", async () => {
    const watch = catalogWatch();
    const p = single(watch);
    await p.init();
    await watch.settled(1);
    const buyerMetadata = { "x-codex-installation-id": "buyer-installation" };
    for (const model of [LITE, CLASSIC]) {
      const answer = await ask(p, {
        model,
        input: "Hi",
        tools: [TOOL],
        client_metadata: buyerMetadata,
        prompt_cache_key: "buyer-private-key",
      });
      assert.equal(answer.status, 200, answer.text);
    }
    const [sentLite, sentClassic] = posts();
    assert.equal(sentLite.responsesLite, true);
    const metadataOf = (sent: RecordedRequest) =>
      (sent.body as Record<string, unknown>).client_metadata as Record<
        string,
        string
      >;
    const id = metadataOf(sentClassic)["x-codex-installation-id"];
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal(metadataOf(sentLite)["x-codex-installation-id"], id);
    assert.ok(sentLite.headers["x-codex-turn-metadata"]?.includes(id));
    for (const sent of [sentLite, sentClassic]) {
      assert.ok(!sent.text?.includes("buyer-installation"));
      assert.ok(!sent.text?.includes("buyer-private-key"));
    }
    assert.equal(
      (sentLite.body as Record<string, unknown>).prompt_cache_key,
      sentLite.headers["session-id"],
    );
  });

  it("sends a Chat Completions request for a lite model in the lite shape", async () => {
    const watch = catalogWatch();
    const p = single(watch);
    await p.init();
    await watch.settled(1);
    const result = await ask(p, {
      model: LITE,
      messages: [
        { role: "system", content: "Be brief" },
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            {
              type: "image_url",
              image_url: { url: "data:image/png;base64,AAAA", detail: "low" },
            },
          ],
        },
      ],
      tools: [{
        type: "function",
        function: { name: "read_file", parameters: { type: "object" } },
      }],
    }, "/v1/chat/completions");
    assert.equal(result.status, 200, result.text);
    const [sent] = posts();
    assert.equal(sent.responsesLite, true);
    const body = sent.body as Record<string, unknown>;
    const input = body.input as Record<string, unknown>[];
    assert.equal(input[0].type, "additional_tools");
    assert.equal(
      (input[0].tools as Record<string, unknown>[])[0].name,
      "read_file",
    );
    assert.deepEqual(input[1], {
      type: "message",
      role: "developer",
      content: [{ type: "input_text", text: "Be brief" }],
    });
    const parts = input[2].content as Record<string, unknown>[];
    assert.equal(parts[1].type, "input_image");
    assert.equal(Object.hasOwn(parts[1], "detail"), false);
  });

  it("reads a buyer that speaks lite (the Codex CLI reading serve's catalog): one additional_tools item, its instructions once", async () => {
    const watch = catalogWatch();
    const p = single(watch);
    await p.init();
    await watch.settled(1);
    const developer = {
      type: "message",
      role: "developer",
      content: [{ type: "input_text", text: "You are Codex" }],
    };
    const user = {
      type: "message",
      role: "user",
      content: [{ type: "input_text", text: "Hi" }],
    };
    const liteBuyer = {
      model: LITE,
      instructions: "",
      input: [
        { type: "additional_tools", role: "developer", tools: [TOOL] },
        developer,
        user,
      ],
      parallel_tool_calls: false,
      stream: true,
    };
    assert.equal((await ask(p, liteBuyer)).status, 200);
    assert.equal(
      (await ask(p, { ...liteBuyer, model: CLASSIC })).status,
      200,
    );
    const [lite, classic] = posts();
    assert.equal(lite.responsesLite, true);
    assert.deepEqual((lite.body as Record<string, unknown>).input, [
      { type: "additional_tools", role: "developer", tools: [TOOL] },
      developer,
      user,
    ]);
    const classicBody = classic.body as Record<string, unknown>;
    assert.equal(classic.responsesLite, false);
    assert.deepEqual(classicBody.tools, [TOOL]);
    assert.equal(classicBody.instructions, "You are Codex");
    assert.deepEqual(classicBody.input, [user]);
  });

  it("fails over between two logins whose catalogs differ, each attempt in its own login's shape", async () => {
    const accounts = ["acct_lite_a", "acct_lite_b"];
    const files: string[] = [];
    for (const accountId of accounts) {
      const file = dir.file(`${accountId}.json`);
      await writeAuth(file, {
        accountId,
        exp: epochIn(3600),
        refreshToken: `rt_${accountId}`,
      });
      files.push(file);
    }
    // Login b's catalog has no lite model.
    backend.setAccountResponsesLite(accounts[1], []);
    const watch = catalogWatch();
    const p = createProvider({
      OPENAI_RESPONSES_AUTH_FILE: files.join(","),
      OPENAI_RESPONSES_BASE_URL: backend.baseUrl,
      OPENAI_RESPONSES_TOKEN_URL: "http://127.0.0.1:9/oauth/token",
      ANTSEED_ALLOWED_SERVICES: LITE,
    }, {
      fetch: watch.fetch,
      random: () => 0,
      onLog: () => {},
      onWarning: () => {},
    });
    await p.init();
    await watch.settled(2);
    // The same conversation both times: the second time it is kept on the
    // login that served it, b, which is then limited.
    for (const first of accounts) {
      backend.reset();
      backend.setAccountResponsesLite(accounts[1], []);
      // The first attempt reaches a usage limit: the request moves on.
      backend.limitAccount(first, { resetsInSeconds: 1 });
      const result = await ask(p, {
        model: LITE,
        instructions: "Be brief",
        input: "Hi",
        prompt_cache_key: "conv-failover",
      });
      assert.equal(result.status, 200, result.text);
      const sent = posts();
      assert.equal(sent.length, 2, "one attempt on each login");
      assert.equal(sent[0].headers["chatgpt-account-id"], first);
      const served = sent.at(-1)!;
      assert.notEqual(served.headers["chatgpt-account-id"], first);
      for (const request of sent) {
        const lite = request.headers["chatgpt-account-id"] === accounts[0];
        assert.equal(
          request.responsesLite,
          lite,
          `${request.headers["chatgpt-account-id"]}: ${
            JSON.stringify(request.body)
          }`,
        );
      }
      // Let the usage limit pass before the other login is limited.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
  });
});
