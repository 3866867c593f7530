// Command-line parsing, masking and the text helpers of the commands.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  commandHelp,
  type CommandSpec,
  parseOptions,
  parsePort,
  UsageError,
} from "../src/cli/args.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  configFromEnv,
  parseAllowedOrigins,
  parseServeTimeouts,
} from "../src/cli/env.ts";
import { ConfigError } from "../src/errors.ts";
import type { CliIo } from "../src/cli/io.ts";
import { runCli } from "../src/cli/main.ts";
import { VERSION } from "../src/version.ts";
import { formatLogLine } from "../src/cli/log_line.ts";
import { formatDuration, formatRelative } from "../src/cli/duration.ts";
import { hideHome, maskAccountId, maskEmail } from "../src/mask.ts";
import { describeRateLimits } from "../src/cli/rate_limits_text.ts";

const SERVE: CommandSpec = {
  name: "serve",
  summary: "Serve",
  details: "Serves things.",
  options: {
    host: { type: "string", valueName: "<host>", description: "Host" },
    port: { type: "string", valueName: "<port>", description: "Port" },
    probe: { type: "boolean", description: "Probe" },
  },
};

describe("parseOptions", () => {
  it("reads --name value, --name=value and boolean flags", () => {
    const parsed = parseOptions(
      ["--host", "0.0.0.0", "--port=0", "--probe"],
      SERVE,
    );
    assert.deepEqual(parsed, {
      help: false,
      values: { host: "0.0.0.0", port: "0", probe: true },
    });
  });

  it("recognises --help and -h", () => {
    assert.equal(parseOptions(["--help"], SERVE).help, true);
    assert.equal(parseOptions(["-h"], SERVE).help, true);
  });

  it("refuses an unknown flag, naming it and the known ones", () => {
    assert.throws(
      () => parseOptions(["--prot", "1"], SERVE),
      (error: unknown) =>
        error instanceof UsageError && error.code === "invalid_usage" &&
        /Unknown flag "--prot" for "serve": expected one of --host, --port, --probe, --help/
          .test(error.message),
    );
  });

  it("refuses a stray argument", () => {
    assert.throws(
      () => parseOptions(["extra"], SERVE),
      /Unexpected argument "extra" for "serve"/,
    );
  });

  it("refuses a string flag without its value", () => {
    assert.throws(
      () => parseOptions(["--port"], SERVE),
      /Flag --port expects a value <port>, found none/,
    );
    assert.throws(
      () => parseOptions(["--port", "--probe"], SERVE),
      /Flag --port expects a value <port>, found "--probe"/,
    );
  });

  it("refuses a value on a boolean flag", () => {
    assert.throws(
      () => parseOptions(["--probe=yes"], SERVE),
      /Flag --probe takes no value/,
    );
  });

  it("refuses an unknown short flag and an argument after --", () => {
    assert.throws(
      () => parseOptions(["-x"], SERVE),
      /Unknown flag "-x" for "serve"/,
    );
    assert.throws(
      () => parseOptions(["--", "extra"], SERVE),
      /Unexpected argument "extra" for "serve"/,
    );
  });

  it("keeps the last value of a repeated flag and a value starting with a dash given inline", () => {
    assert.deepEqual(
      parseOptions(["--port", "1", "--port=2", "--host=-"], SERVE).values,
      { port: "2", host: "-" },
    );
  });

  it("does not take inherited object keys for flags", () => {
    assert.throws(() => parseOptions(["--toString"], SERVE), UsageError);
  });
});

describe("parsePort and help", () => {
  it("accepts 0 to 65535 and refuses anything else", () => {
    assert.equal(parsePort("0"), 0);
    assert.equal(parsePort("65535"), 65535);
    for (const bad of ["65536", "-1", "80a", "", "1.5"]) {
      assert.throws(
        () => parsePort(bad),
        /Invalid --port: expected an integer/,
      );
    }
  });

  it("lists every flag of a command, --help included", () => {
    const help = commandHelp(SERVE);
    assert.match(help, /^Usage: provider-openai-responses serve \[flags\]/);
    for (
      const flag of ["--host <host>", "--port <port>", "--probe", "--help"]
    ) {
      assert.ok(help.includes(flag), flag);
    }
  });
});

describe("configFromEnv", () => {
  it("keeps exactly the plugin's configuration keys", () => {
    assert.deepEqual(
      configFromEnv({
        OPENAI_RESPONSES_AUTH_FILE: "/a.json",
        ANTSEED_MAX_CONCURRENCY: "3",
        HOME: "/home/me",
        OPENAI_RESPONSES_SERVE_API_KEY: "k",
        OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS: "http://localhost:3000",
        UNSET: undefined,
      }),
      { OPENAI_RESPONSES_AUTH_FILE: "/a.json", ANTSEED_MAX_CONCURRENCY: "3" },
    );
  });
});

describe("parseServeTimeouts", () => {
  it("takes 10 s for the headers, 30 s for a pause in a body and 5 s for an idle connection by default", () => {
    assert.deepEqual(parseServeTimeouts({}), {
      headersTimeoutMs: 10_000,
      bodyTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
    });
    assert.deepEqual(
      parseServeTimeouts({ OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS: " " }),
      parseServeTimeouts({}),
    );
  });

  it("reads each key in milliseconds", () => {
    assert.deepEqual(
      parseServeTimeouts({
        OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS: "1",
        OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS: " 2500 ",
        OPENAI_RESPONSES_SERVE_KEEP_ALIVE_TIMEOUT_MS: "300000",
      }),
      { headersTimeoutMs: 1, bodyTimeoutMs: 2500, keepAliveTimeoutMs: 300_000 },
    );
  });

  for (const value of ["0", "-5", "1.5", "10s", "300001", "1e3"]) {
    it(`refuses ${JSON.stringify(value)} with a ConfigError naming the key`, () => {
      assert.throws(
        () =>
          parseServeTimeouts({ OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.key, "OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS");
          assert.equal(
            error.message,
            `Invalid OPENAI_RESPONSES_SERVE_BODY_TIMEOUT_MS: expected an integer number of milliseconds from 1 to 300000, found ${
              JSON.stringify(value)
            }`,
          );
          return true;
        },
      );
    });
  }
});

describe("parseAllowedOrigins", () => {
  it("reads an unset or blank value as no origin", () => {
    assert.deepEqual(parseAllowedOrigins(undefined), []);
    assert.deepEqual(parseAllowedOrigins(" , "), []);
  });

  it("returns each origin as a browser sends it: lower case, no default port", () => {
    assert.deepEqual(
      parseAllowedOrigins(
        " http://localhost:3000,HTTPS://App.Example.com:443 ,http://[::1]:80,chrome-extension://abcdefgh",
      ),
      [
        "http://localhost:3000",
        "https://app.example.com",
        "http://[::1]",
        "chrome-extension://abcdefgh",
      ],
    );
  });

  for (
    const value of [
      "http://localhost:3000/",
      "http://localhost:3000/app",
      "http://localhost:3000?x=1",
      "http://user@localhost:3000",
      "localhost:3000",
      "*",
      "null",
      "http://",
      "http://local host",
    ]
  ) {
    it(`refuses ${JSON.stringify(value)} with a ConfigError naming the key and the entry`, () => {
      assert.throws(
        () => parseAllowedOrigins(`http://localhost:5173, ${value}`),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, String(error));
          assert.equal(error.key, "OPENAI_RESPONSES_SERVE_ALLOWED_ORIGINS");
          assert.equal(error.code, "invalid_config");
          assert.ok(
            error.message.endsWith(`found ${JSON.stringify(value)}`),
            error.message,
          );
          return true;
        },
      );
    });
  }
});

describe("masking", () => {
  it("masks an account id to its first and last four characters", () => {
    assert.equal(maskAccountId("acct_0a1b2c3d1234"), "acct…1234");
    assert.equal(
      maskAccountId("3f2c9a10-1111-2222-3333-44445555abcd"),
      "3f2c…abcd",
    );
  });

  it("keeps only the end of a short account id", () => {
    assert.equal(maskAccountId("acct_12"), "…12");
  });

  it("masks an email's local part", () => {
    assert.equal(maskEmail("seller@example.com"), "s***@example.com");
    assert.equal(maskEmail("not-an-email"), "***");
  });

  it("shows the home folder as ~", () => {
    assert.equal(
      hideHome(
        "Cannot read Codex credentials at /home/me/.codex/auth.json: file not found",
        "/home/me/",
      ),
      "Cannot read Codex credentials at ~/.codex/auth.json: file not found",
    );
  });
});

describe("durations", () => {
  it("formats seconds, minutes, hours and days", () => {
    assert.equal(formatDuration(45_000), "45 s");
    assert.equal(formatDuration(53 * 60_000), "53 min");
    assert.equal(formatDuration(125 * 60_000), "2 h 5 min");
    assert.equal(formatDuration(3 * 86_400_000 + 4 * 3_600_000), "3 d 4 h");
  });

  it("says in or ago", () => {
    assert.equal(formatRelative(1_000 + 120_000, 1_000), "in 2 min");
    assert.equal(formatRelative(1_000, 1_000 + 7_200_000), "2 h ago");
  });
});

describe("log lines", () => {
  it("shows method, path, model, status, duration and tokens", () => {
    assert.equal(
      formatLogLine({
        method: "POST",
        path: "/v1/responses",
        service: "gpt-5.4",
        status: 200,
        durationMs: 812.4,
        usage: { input_tokens: 12, output_tokens: 34 },
      }, Date.UTC(2026, 0, 2, 3, 4, 5)),
      "2026-01-02T03:04:05.000Z POST /v1/responses gpt-5.4 200 812ms tokens in=12 out=34",
    );
  });

  it("shows the error code next to the status", () => {
    assert.match(
      formatLogLine({
        method: "GET",
        path: "/x",
        status: 404,
        code: "not_found",
        durationMs: 1,
      }, 0),
      / GET \/x - 404 not_found 1ms$/,
    );
  });

  it("escapes control characters of a buyer-chosen model name", () => {
    const line = formatLogLine({
      method: "POST",
      path: "/v1/responses",
      service: "evil\nINJECTED",
      status: 400,
      durationMs: 1,
    }, 0);
    assert.ok(!line.includes("\n"));
  });

  it("escapes terminal sequences, C1 controls and bidirectional overrides in the method, path and model, and cuts them", () => {
    const line = formatLogLine({
      method: "GET\x1b[2J",
      path: `/v1/\x1b]0;owned\x07${"p".repeat(1000)}`,
      service: "gpt\u009b31m\u202e",
      status: 404,
      durationMs: 1,
    }, 0);
    // deno-lint-ignore no-control-regex -- matching control characters is the point
    assert.doesNotMatch(line, /[\x00-\x1f\x7f-\x9f\u202e]/);
    assert.match(
      line,
      / GET\\x1b\[2J \/v1\/\\x1b\]0;owned\\x07p+\.\.\. gpt\\x9b31m\\u202e 404 1ms$/,
    );
    assert.ok(line.length < 400, `${line.length} characters`);
  });
});

describe("rate limits in words", () => {
  it("describes each window with its reset time", () => {
    const now = Date.UTC(2026, 0, 1);
    assert.deepEqual(
      describeRateLimits({
        primary: {
          usedPercent: 12,
          windowMinutes: 300,
          resetsAt: now + 3_600_000,
        },
        secondary: { usedPercent: 40, windowMinutes: 10080 },
        observedAt: now,
      }, now),
      [
        "primary: 12% used of a 5 h window, resets 2026-01-01T01:00:00.000Z (in 1 h)",
        "secondary: 40% used of a 7 d window",
      ],
    );
  });

  it("says so when there is no snapshot", () => {
    assert.deepEqual(describeRateLimits(undefined, 0), [
      "the backend sent no rate-limit headers",
    ]);
  });
});

describe("runCli in-process", () => {
  function fakeIo(env: Record<string, string> = {}, homeDir = "/nonexistent") {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIo = {
      env,
      stdout: (text) => void out.push(text),
      stderr: (text) => void err.push(text),
      listen: () => Promise.reject(new Error("no listening in this test")),
      onShutdownSignal: () => () => {},
      homeDir,
    };
    return { io, out: () => out.join(""), err: () => err.join("") };
  }

  it("prints the version", async () => {
    const { io, out } = fakeIo();
    assert.equal(await runCli(["--version"], io), 0);
    assert.equal(out(), `${VERSION}\n`);
  });

  it("prints the top-level help to stderr and exits 2 without a command", async () => {
    const { io, err } = fakeIo();
    assert.equal(await runCli([], io), 2);
    assert.match(err(), /^Usage: provider-openai-responses <command>/);
    assert.match(err(), /serve +Serve/);
  });

  it("shows the home folder as ~ in error messages", async () => {
    const home = await mkdtemp(join(tmpdir(), "cli-home-"));
    try {
      const { io, err } = fakeIo({
        OPENAI_RESPONSES_AUTH_FILE: join(home, "codex", "auth.json"),
      }, home);
      assert.equal(await runCli(["check"], io), 1);
      assert.match(err(), /at ~\/codex\/auth\.json: file not found/);
      assert.ok(!err().includes(home));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("refuses to serve with an API key too long for an authorization header, naming the key", async () => {
    const { io, err } = fakeIo({
      OPENAI_RESPONSES_SERVE_API_KEY: "k".repeat(5000),
    });
    assert.equal(await runCli(["serve", "--port", "0"], io), 1);
    assert.match(
      err(),
      /^error: Invalid OPENAI_RESPONSES_SERVE_API_KEY: expected at most 4089 characters \(an authorization header is read up to 4096\), found 5000/,
    );
  });

  it("refuses to serve with a malformed timeout, naming the key", async () => {
    const { io, err } = fakeIo({
      OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS: "soon",
    });
    assert.equal(await runCli(["serve", "--port", "0"], io), 1);
    assert.match(
      err(),
      /^error: Invalid OPENAI_RESPONSES_SERVE_HEADERS_TIMEOUT_MS: expected an integer/,
    );
  });

  it("exits 1 with the key named on a bad configuration value", async () => {
    const { io, err } = fakeIo({ ANTSEED_MAX_CONCURRENCY: "many" });
    assert.equal(await runCli(["check"], io), 1);
    assert.match(err(), /^error: Invalid ANTSEED_MAX_CONCURRENCY/);
  });
});

describe("cli.ts entry", () => {
  it("runs nothing when imported", async () => {
    const cli = await import("../cli.ts");
    assert.equal(typeof cli.runCli, "function");
    assert.equal(typeof cli.processIo, "function");
  });
});
