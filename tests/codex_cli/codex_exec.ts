// The official Codex CLI (`@openai/codex`, a native binary from npm) runs
// `codex exec` against `serve`, which relays to the simulated backend. Run
// by `deno task test:codex` (scripts/test_codex.ts installs the pinned CLI
// first and passes its launcher in CODEX_CLI); not part of `deno task test`
// (the file name does not end in `_test.ts`).
//
// The CLI gets a CODEX_HOME of its own with a config.toml that defines a
// custom model provider pointed at serve, turns off what would reach the
// network (update check, analytics, feedback, apps, plugins: without
// `plugins = false` the CLI goes to github.com), points its ChatGPT backend
// (`chatgpt_base_url`) at the trap proxy, and is checked with
// --strict-config, so that a key this version does not know fails the run.
// Its HTTPS_PROXY/HTTP_PROXY/ALL_PROXY point at that trap proxy, which
// refuses and records every request meant for another machine; each test
// asserts that it recorded none.
//
// One run compacts: with a small `model_auto_compact_token_limit` and a
// simulated model that reports a large context, the CLI sends its history
// ending with {"type":"compaction_trigger"}, must get exactly one
// `compaction` item back, and sends it (without its id) in place of that
// history in its next request.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { makeAuthJson } from "../../src/testing/jwt.ts";
import type { FakeBehaviour } from "../../src/testing/fake_backend.ts";
import type { RecordedRequest } from "../../src/testing/_fake_types.ts";
import {
  MODEL,
  type ServeHarness,
  upstreamBody,
  upstreamTurns,
  userTexts,
  withServe,
} from "../fixtures/real_clients.ts";
import { startTrapProxy, type TrapProxy } from "../fixtures/trap_proxy.ts";

/** The Codex CLI version the task installed (scripts/test_codex.ts pins it). */
const CODEX_VERSION = process.env.CODEX_CLI_VERSION ?? "0.171.0";
/** How long one `codex exec` may run. */
const EXEC_TIMEOUT_MS = 120_000;
const ANSWER = "Hello from the simulated backend, through serve.";

/** The launcher (`bin/codex.js`) of the installed CLI. */
function codexLauncher(): string {
  const path = process.env.CODEX_CLI ??
    join(
      process.cwd(),
      ".build/codex/node_modules/@openai/codex/bin/codex.js",
    );
  if (!existsSync(path)) {
    throw new Error(
      `Expected the Codex CLI ${CODEX_VERSION} at ${path}, found nothing: run deno task test:codex, which installs it`,
    );
  }
  return path;
}

interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <launcher> exec ...args` with `env`; kills it after the timeout. */
function runCodex(
  args: string[],
  env: Record<string, string>,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [codexLauncher(), ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (text: string) => stdout += text);
    child.stderr.on("data", (text: string) => stderr += text);
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `codex exec took more than ${EXEC_TIMEOUT_MS} ms; stdout: ${stdout}; stderr: ${stderr}`,
        ),
      );
    }, EXEC_TIMEOUT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** What distinguishes the two ways a custom provider can authenticate. */
type ProviderAuth = "env_key" | "openai_auth";

/**
 * The config.toml of a CODEX_HOME whose model provider is serve. The
 * ChatGPT backend the CLI calls by itself with a ChatGPT login (usage, cloud
 * configuration) is the trap proxy (`chatgpt_base_url`), which answers 404.
 */
function configToml(
  v1Url: string,
  auth: ProviderAuth,
  trapUrl: string,
  model: string,
  extra: readonly string[] = [],
): string {
  const provider = auth === "env_key"
    ? [
      `name = "AntSeed serve"`,
      `env_key = "ANTSEED_SERVE_KEY"`,
    ]
    : [
      // The name `OpenAI` and requires_openai_auth make the CLI send its
      // ChatGPT login and zstd-compressed bodies, as recorded.
      `name = "OpenAI"`,
      `requires_openai_auth = true`,
    ];
  return [
    `model = "${model}"`,
    `model_provider = "serve"`,
    `approval_policy = "never"`,
    `sandbox_mode = "read-only"`,
    `check_for_update_on_startup = false`,
    `chatgpt_base_url = "${trapUrl}/backend-api/"`,
    ...extra,
    ``,
    `[analytics]`,
    `enabled = false`,
    ``,
    `[feedback]`,
    `enabled = false`,
    ``,
    `[features]`,
    `apps = false`,
    `plugins = false`,
    `remote_plugin = false`,
    ``,
    `[model_providers.serve]`,
    ...provider,
    `base_url = "${v1Url}"`,
    `wire_api = "responses"`,
    `request_max_retries = 0`,
    `stream_max_retries = 0`,
    ``,
  ].join("\n");
}

interface CodexRun {
  result: ExecResult;
  proxy: TrapProxy;
  /** What identifies the buyer's CLI: its installation id (when it made one) and its folders. */
  buyerMarks: string[];
}

/** Runs `codex exec <prompt>` against `harness` with a fresh CODEX_HOME. */
async function execAgainst(
  harness: ServeHarness,
  prompt: string,
  auth: ProviderAuth,
  model = MODEL,
  config: readonly string[] = [],
): Promise<CodexRun> {
  const home = await mkdtemp(join(tmpdir(), "codex-home-"));
  const proxy = await startTrapProxy();
  try {
    const codexHome = join(home, ".codex");
    const work = join(home, "work");
    await mkdir(codexHome, { recursive: true });
    await mkdir(work, { recursive: true });
    await writeFile(
      join(codexHome, "config.toml"),
      configToml(harness.v1Url, auth, proxy.url, model, config),
    );
    if (auth === "openai_auth") {
      await writeFile(
        join(codexHome, "auth.json"),
        JSON.stringify(makeAuthJson()),
        { mode: 0o600 },
      );
    }
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      CODEX_HOME: codexHome,
      NO_COLOR: "1",
      TERM: "dumb",
      ANTSEED_SERVE_KEY: "buyer-key",
      HTTPS_PROXY: proxy.url,
      HTTP_PROXY: proxy.url,
      ALL_PROXY: proxy.url,
      https_proxy: proxy.url,
      http_proxy: proxy.url,
      all_proxy: proxy.url,
      NO_PROXY: "127.0.0.1,localhost,::1",
      no_proxy: "127.0.0.1,localhost,::1",
    };
    const result = await runCodex([
      "exec",
      "--strict-config",
      "--skip-git-repo-check",
      "--ephemeral",
      "-C",
      work,
      prompt,
    ], env);
    const buyerMarks = [work, home];
    const installationId = await readFile(
      join(codexHome, "installation_id"),
      "utf8",
    ).catch(() => undefined);
    if (installationId?.trim()) buyerMarks.push(installationId.trim());
    return { result, proxy, buyerMarks };
  } finally {
    await proxy.close();
    await rm(home, { recursive: true, force: true });
  }
}

/**
 * The lines the CLI prints when the model list it reads from serve
 * (`GET /v1/models?client_version=`) is not the backend's catalog, or lacks
 * the model it runs. Only a provider with the ChatGPT login reads that list
 * (with an API key the CLI keeps its bundled one, which may not know the
 * model, so the last line can appear there whatever serve answers).
 */
const MODEL_LIST_ERRORS = [
  /failed to refresh available models/,
  /failed to decode models response/,
  /Model metadata for .* not found/,
];

/**
 * Asserts that the buyer CLI's identity never reaches the simulated
 * backend: its installation id in no byte received (headers and body text),
 * its folders in no header and nowhere in the body but the conversation
 * itself (`input`, `instructions`, `tools`: the CLI writes its working
 * folder into its own prompt, an `<environment_context>` message, and its
 * home into its base instructions, the skill roots; the prompt goes
 * upstream as the buyer wrote it). The backend sees the seller's installation, never the buyer's.
 */
function assertNoBuyerIdentityUpstream(
  run: CodexRun,
  harness: { backend: { requests: readonly RecordedRequest[] } },
): void {
  assert.ok(harness.backend.requests.length > 0, "the backend was called");
  assert.ok(run.buyerMarks.length === 3, "the CLI made its installation id");
  const [work, home, installationId] = run.buyerMarks;
  for (const request of harness.backend.requests) {
    const headers = JSON.stringify(request.headers);
    const text = request.text ?? "";
    assert.ok(
      !`${headers}\n${text}`.includes(installationId),
      `the buyer's installation id reached the backend in ${request.method} ${request.path}`,
    );
    let outsideInput = text;
    try {
      const {
        input: _input,
        instructions: _instructions,
        tools: _tools,
        ...rest
      } = JSON.parse(text);
      outsideInput = JSON.stringify(rest);
    } catch {
      // Not JSON: scanned whole.
    }
    for (const folder of [work, home]) {
      assert.ok(
        !`${headers}\n${outsideInput}`.includes(folder),
        `the buyer's folder ${folder} reached the backend outside its conversation in ${request.method} ${request.path}`,
      );
    }
  }
}

/** Asserts that the run printed none of {@linkcode MODEL_LIST_ERRORS}. */
function assertNoModelListError(run: CodexRun): void {
  const output = `${run.result.stdout}\n${run.result.stderr}`;
  for (const pattern of MODEL_LIST_ERRORS) {
    assert.doesNotMatch(output, pattern, describeRun(run));
  }
}

function describeRun(run: CodexRun): string {
  return `exit ${run.result.code} (${
    run.result.signal ?? "no signal"
  })\n--- ChatGPT backend calls (answered 404): ${
    run.proxy.direct.join(", ") || "none"
  }\n--- stdout:\n${run.result.stdout}\n--- stderr:\n${run.result.stderr}`;
}

/** Whether an upstream input holds an item of `type`. */
function hasItem(body: Record<string, unknown>, type: string): boolean {
  return Array.isArray(body.input) &&
    body.input.some((item) => item?.type === type);
}

/** The CLI's `model_auto_compact_token_limit` in the compaction run. */
const COMPACT_TOKEN_LIMIT = 10_000;

/**
 * The model of the compaction run: a harmless command (`echo hello`, as
 * the recorded CLI ran) in an answer that reports a context far past
 * {@linkcode COMPACT_TOKEN_LIMIT} (a turn that needs a follow-up past the
 * limit is when the CLI compacts, remotely with the ChatGPT login), and a
 * small answer
 * once the conversation holds a compaction item. The simulated backend
 * answers the CLI's compaction_trigger itself. Past a few requests without
 * a compaction it answers anyway, so that a CLI that never compacts fails
 * the assertions at once rather than the timeout.
 */
function toolThenAnswer(): (body: Record<string, unknown>) => FakeBehaviour {
  let requests = 0;
  return (body) => {
    requests++;
    if (hasItem(body, "compaction") || requests > 4) {
      return {
        kind: "text",
        text: ANSWER,
        usage: { input_tokens: 100, output_tokens: 10, total_tokens: 110 },
      };
    }
    return {
      kind: "function_call",
      name: "exec_command",
      arguments: JSON.stringify({ cmd: "echo hello" }),
      usage: {
        input_tokens: 5 * COMPACT_TOKEN_LIMIT,
        output_tokens: 10,
        total_tokens: 5 * COMPACT_TOKEN_LIMIT + 10,
      },
    };
  };
}

describe(`Codex CLI ${CODEX_VERSION}: codex exec against serve`, () => {
  it("prints the answer with a custom provider and an API key (env_key)", async () => {
    await withServe(
      { behaviour: { kind: "text", text: ANSWER } },
      async (harness) => {
        const run = await execAgainst(harness, "say hello", "env_key");
        assert.equal(run.result.code, 0, describeRun(run));
        assert.equal(run.result.stdout.trim(), ANSWER, describeRun(run));
        const turns = upstreamTurns(harness.backend);
        assert.equal(turns.length, 1, describeRun(run));
        assert.equal(userTexts(upstreamBody(turns[0])).at(-1), "say hello");
        assert.deepEqual(run.proxy.offMachine, [], describeRun(run));
        assertNoBuyerIdentityUpstream(run, harness);
      },
    );
  });

  it("prints the answer with the ChatGPT login and zstd bodies (requires_openai_auth)", async () => {
    await withServe(
      { behaviour: { kind: "text", text: ANSWER } },
      async (harness) => {
        const run = await execAgainst(harness, "say hello", "openai_auth");
        assert.equal(run.result.code, 0, describeRun(run));
        assert.equal(run.result.stdout.trim(), ANSWER, describeRun(run));
        const turns = upstreamTurns(harness.backend);
        assert.equal(turns.length, 1, describeRun(run));
        assert.equal(userTexts(upstreamBody(turns[0])).at(-1), "say hello");
        assert.deepEqual(run.proxy.offMachine, [], describeRun(run));
        assertNoBuyerIdentityUpstream(run, harness);
        assertNoModelListError(run);
        assert.match(
          harness.serve.stderr(),
          /GET \/v1\/models - 200/,
          "the CLI read its model list from serve",
        );
      },
    );
  });

  it("reads an announced service's model metadata from serve with the ChatGPT login", async () => {
    await withServe(
      {
        behaviour: { kind: "text", text: ANSWER },
        env: {
          ANTSEED_ALLOWED_SERVICES: "house-coder",
          ANTSEED_SERVICE_ALIAS_MAP_JSON: JSON.stringify({
            "house-coder": MODEL,
          }),
        },
      },
      async (harness) => {
        const run = await execAgainst(
          harness,
          "say hello",
          "openai_auth",
          "house-coder",
        );
        assert.equal(run.result.code, 0, describeRun(run));
        assert.equal(run.result.stdout.trim(), ANSWER, describeRun(run));
        const turns = upstreamTurns(harness.backend);
        assert.equal(turns.length, 1, describeRun(run));
        assert.equal(upstreamBody(turns[0]).model, MODEL);
        assert.deepEqual(run.proxy.offMachine, [], describeRun(run));
        assertNoBuyerIdentityUpstream(run, harness);
        assertNoModelListError(run);
      },
    );
  });
  it("compacts remotely past model_auto_compact_token_limit and goes on to the answer (ChatGPT login)", async () => {
    await withServe({ behaviour: toolThenAnswer() }, async (harness) => {
      const run = await execAgainst(
        harness,
        "list the resources, then answer",
        "openai_auth",
        MODEL,
        [`model_auto_compact_token_limit = ${COMPACT_TOKEN_LIMIT}`],
      );
      assert.equal(run.result.code, 0, describeRun(run));
      assert.equal(run.result.stdout.trim(), ANSWER, describeRun(run));
      assert.match(run.result.stderr, /context compacted/, describeRun(run));
      const bodies = upstreamTurns(harness.backend).map(upstreamBody);
      const lastTypes = bodies.map((body) =>
        (body.input as Record<string, unknown>[]).at(-1)?.type
      );
      // The prompt, the tool's output past the limit: compaction; then the
      // follow-up on the compacted conversation.
      assert.deepEqual(lastTypes, [
        "message",
        "compaction_trigger",
        "compaction",
      ], describeRun(run));
      assert.equal(hasItem(bodies[1], "function_call_output"), true);
      const item = (bodies[2].input as Record<string, unknown>[]).at(-1)!;
      assert.equal(item.id, undefined);
      assert.match(
        String(item.encrypted_content),
        /^gAAAAABsimulated-compaction-cmp_/,
      );
      assert.equal(hasItem(bodies[2], "function_call_output"), false);
      assert.deepEqual(run.proxy.offMachine, [], describeRun(run));
      assertNoBuyerIdentityUpstream(run, harness);
      assertNoModelListError(run);
    });
  });
});
