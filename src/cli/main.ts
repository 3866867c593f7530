/**
 * The command-line dispatcher: `serve`, `check`, `demo`, `login`, `logout`,
 * `accounts`, help and version.
 * Turns every failure into a clear message and an exit code (2 for usage
 * errors, 1 for everything else), never a stack trace, never a token, and
 * shows the seller's home folder as `~`.
 *
 * @module
 */

import { OpenAIResponsesError } from "../errors.ts";
import { VERSION } from "../version.ts";
import {
  commandHelp,
  type CommandSpec,
  EXIT_USAGE,
  parseOptions,
  parsePort,
  PROGRAM,
  UsageError,
} from "./args.ts";
import { runCheckOfLogins } from "./check.ts";
import { codexHomesOf, selectClientVersion } from "../codex/client_version.ts";
import { createProvider } from "../provider/provider.ts";
import { parseConfig } from "../config.ts";
import { findLogins, loginTokenSource } from "./logins.ts";
import {
  configFromEnv,
  SERVE_ALLOWED_ORIGINS_ENV,
  SERVE_API_KEY_ENV,
} from "./env.ts";
import type { CliIo } from "./io.ts";
import { hideHome } from "../mask.ts";
import { DEFAULT_SERVE_HOST, DEFAULT_SERVE_PORT, runServe } from "./serve.ts";

const CONFIG_NOTE =
  "Configuration comes from the environment: the same keys as the plugin (OPENAI_RESPONSES_AUTH_FILE, CODEX_HOME, OPENAI_RESPONSES_BASE_URL, ANTSEED_ALLOWED_SERVICES, ...; see the README).";

const RULES_NOTE = [
  "The provider serves from, first rule that applies: OPENAI_RESPONSES_AUTH_FILE",
  "(one path, or several separated by commas); else every account under",
  "<OPENAI_RESPONSES_HOME>/accounts/ (default ~/.antseed/openai-responses),",
  'written by "login"; else $CODEX_HOME/auth.json (default ~/.codex/auth.json).',
].join("\n");

/** The commands, their help and their flags. */
export const COMMANDS: Record<string, CommandSpec> = {
  serve: {
    name: "serve",
    summary:
      "Serve the provider as a local OpenAI-compatible endpoint (/v1/responses)",
    details: [
      "Serves, over the seller's Codex login: POST /v1/responses (streaming and not),",
      "POST /v1/chat/completions, GET /v1/models (with ?client_version=, the Codex",
      "backend's catalog format for the Codex CLI), GET /v1/models/{id}, GET /health",
      "and GET /metrics. Point any OpenAI SDK at http://<host>:<port>/v1.",
      `Set ${SERVE_API_KEY_ENV} to require "authorization: Bearer <key>";`,
      "a non-loopback --host is refused without it. SIGINT/SIGTERM drain for up to 10 s.",
      "On a loopback --host, the host header must name that address, localhost,",
      "127.0.0.1 or [::1] with the port (421 invalid_host otherwise: DNS rebinding).",
      "A request with an origin header (a web page) gets 403 origin_not_allowed unless",
      `${SERVE_ALLOWED_ORIGINS_ENV} lists that origin (comma-separated,`,
      'e.g. http://localhost:3000). POST bodies must be "content-type: application/json".',
      CONFIG_NOTE,
    ].join("\n"),
    options: {
      host: {
        type: "string",
        valueName: "<host>",
        description: `Interface to bind (default ${DEFAULT_SERVE_HOST})`,
      },
      port: {
        type: "string",
        valueName: "<port>",
        description:
          `Port to listen on (default ${DEFAULT_SERVE_PORT}; 0 picks a free one)`,
      },
    },
  },
  check: {
    name: "check",
    summary:
      "Check the logins: which rule chose them, account, plan, token expiry, next refresh",
    details: [
      "Prints which rule chose the logins and their names, then for each login the",
      "account id and email (masked), the plan, the access-token expiry, the last",
      "refresh and what the provider will do next. --refresh, --probe and --usage",
      "apply to each login (each is its own account). Exits 1 with the reason when a",
      "login cannot be used.",
      RULES_NOTE,
      CONFIG_NOTE,
    ].join("\n"),
    options: {
      refresh: {
        type: "boolean",
        description: "Force one token refresh now and print the new expiry",
      },
      probe: {
        type: "boolean",
        description:
          'Send one tiny request (input "ping") and print the rate limits',
      },
      usage: {
        type: "boolean",
        description:
          "Read the usage endpoint: plan, windows used and reset, credits (else the last rate-limit headers)",
      },
      model: {
        type: "string",
        valueName: "<model>",
        description:
          "Model of the probe (default: first announced service, else first model of the account)",
      },
    },
  },
  demo: {
    name: "demo",
    summary:
      "Run one streamed request against a built-in simulated backend (no setup)",
    details: [
      "Starts a simulated Codex backend and token endpoint on 127.0.0.1 with a",
      "throwaway login, serves the provider locally, streams one answer through it",
      "with fetch, prints it and the usage, and cleans everything up.",
      "Touches neither your Codex login nor the network.",
    ].join("\n"),
    options: {
      prompt: {
        type: "string",
        valueName: "<text>",
        description: "The user's text to send",
      },
    },
  },
  login: {
    name: "login",
    summary:
      "Log in with ChatGPT (browser or device code) as an account of the provider's own",
    details: [
      "Saves a ChatGPT login as <OPENAI_RESPONSES_HOME>/accounts/<name>/auth.json",
      "(default home ~/.antseed/openai-responses; folders 0700, file 0600, the Codex",
      "CLI's format). By default the browser flow: prints a link to open (and opens it",
      "when a browser is available; BROWSER=none opens nothing) and waits up to 10 min",
      "for the browser to come back to http://localhost:1455/auth/callback (1457 when",
      "1455 is taken). With --device, for machines without a browser: prints a URL and",
      "a code to enter on any device, and waits up to 15 min. Prints the masked email",
      "and the plan. An existing account of that name is kept unless --force; a ChatGPT",
      'account already saved under another name is refused (renew it with "login --name',
      '<that name> --force"). OPENAI_RESPONSES_AUTH_ISSUER sets the issuer.',
    ].join("\n"),
    options: {
      name: {
        type: "string",
        valueName: "<name>",
        description:
          'Account name: 1 to 64 of a-z 0-9 . _ - (default "default")',
      },
      device: {
        type: "boolean",
        description: "Log in with a device code instead of a browser",
      },
      force: {
        type: "boolean",
        description: "Replace the login of an existing account of that name",
      },
    },
  },
  logout: {
    name: "logout",
    summary: "Revoke an account's login at the issuer and remove its folder",
    details: [
      "Revokes the refresh token of the account at the issuer (best effort, 10 s),",
      "then removes <OPENAI_RESPONSES_HOME>/accounts/<name>/ whatever the revoke's",
      "outcome, and says which. Without flags, logs out of the only account there is.",
      "Touches only the provider's own accounts: never a file named by",
      'OPENAI_RESPONSES_AUTH_FILE, never the Codex CLI\'s login ("codex logout").',
    ].join("\n"),
    options: {
      name: {
        type: "string",
        valueName: "<name>",
        description: "The account to log out of",
      },
      all: {
        type: "boolean",
        description: "Log out of every account",
      },
    },
  },
  accounts: {
    name: "accounts",
    summary:
      "List the logins the provider would serve from, with state and plan",
    details: [
      "Prints which rule chose the logins, then one row per login: name, state (ok,",
      "expired, will refresh, login required, ...), plan, masked email and account id,",
      "token expiry; then why a login cannot be used. No secret is printed. With",
      "--usage, reads each login's usage endpoint: the share used of each window, and",
      "usage-limited until <time> for a login whose limit is reached, and its banked",
      'rate-limit resets with the next expiry. "accounts reset --name <login>" spends one.',
      RULES_NOTE,
    ].join("\n"),
    options: {
      usage: {
        type: "boolean",
        description:
          "Read each login's usage endpoint (refreshes an expired token first)",
      },
    },
  },
};

/**
 * `accounts reset`: the one command that spends a banked rate-limit reset.
 * Its flags are parsed here like every command's.
 */
export const ACCOUNTS_RESET: CommandSpec = {
  name: "accounts reset",
  summary: "Spend one banked rate-limit reset of a login",
  details: [
    "Shows the login's banked rate-limit resets and when the next expires, asks",
    '"Spend one banked reset of login <name> now? [y/N]" and, on "y", spends the one',
    "that expires first. Without --yes and without a terminal on standard input,",
    "nothing is spent. Prints the outcome: reset, nothing_to_reset (the login is not",
    "limited; nothing spent), no_credit, already_redeemed or ineligible. Exits 0 for",
    "reset and nothing_to_reset, 1 otherwise. One redeem_request_id per run: a retry",
    "of a lost answer reuses it, so at most one reset is spent. Nothing else in the",
    "provider ever spends a reset.",
  ].join("\n"),
  options: {
    name: {
      type: "string",
      valueName: "<login>",
      description: 'The login whose reset to spend (see "accounts")',
    },
    yes: {
      type: "boolean",
      description: "Spend without asking",
    },
  },
};

/**
 * The top-level help text.
 *
 * @example
 * ```ts
 * import { topLevelHelp } from "./main.ts";
 * console.log(topLevelHelp().startsWith("Usage:")); // true
 * ```
 */
export function topLevelHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    `Usage: ${PROGRAM} <command> [flags]`,
    "",
    "Sell, serve or try OpenAI Responses API capacity from a Codex (ChatGPT) login.",
    "",
    "Commands:",
    ...Object.values(COMMANDS).map((command) =>
      `  ${command.name.padEnd(width)}  ${command.summary}`
    ),
    "",
    "Flags:",
    "  -h, --help     Show this help (also after a command)",
    "      --version  Print the version",
    "",
    `Start with "${PROGRAM} demo".`,
    "",
  ].join("\n");
}

function describeFailure(error: unknown, home: string): string {
  if (error instanceof OpenAIResponsesError) {
    return hideHome(error.message, home);
  }
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return hideHome(`unexpected failure (${name}): ${message}`, home);
}

async function runCommand(
  command: CommandSpec,
  args: string[],
  io: CliIo,
): Promise<number> {
  const parsed = parseOptions(args, command);
  if (parsed.help) {
    io.stdout(commandHelp(command));
    return 0;
  }
  const values = parsed.values;
  if (command.name === "demo") {
    // The simulated backend is loaded only for the demo.
    const { runDemo } = await import("./demo.ts");
    return await runDemo(io, { prompt: values.prompt as string | undefined });
  }
  // Loaded only when they run: serve and check need none of them.
  if (command.name === "login") {
    const { runLogin } = await import("./login.ts");
    return await runLogin(io, {
      name: values.name as string | undefined,
      device: values.device === true,
      force: values.force === true,
    });
  }
  if (command.name === "logout") {
    const { runLogout } = await import("./logout.ts");
    return await runLogout(io, {
      name: values.name as string | undefined,
      all: values.all === true,
    });
  }
  if (command === ACCOUNTS_RESET) {
    const { runAccountsReset } = await import("./accounts_reset.ts");
    return await runAccountsReset(io, {
      name: values.name as string | undefined,
      yes: values.yes === true,
    });
  }
  if (command.name === "accounts") {
    const { runAccounts } = await import("./accounts_list.ts");
    return await runAccounts(io, { usage: values.usage === true });
  }
  const config = configFromEnv(io.env);
  if (command.name === "serve") {
    return await runServe(config, io, {
      hostname: values.host as string | undefined,
      port: values.port === undefined
        ? undefined
        : parsePort(values.port as string),
    });
  }
  // Warnings are printed after the run, unless they repeat the final error.
  const warnings: string[] = [];
  const onWarning = (message: string) => warnings.push(message);
  let failure: unknown;
  try {
    const settings = parseConfig(config, { homeDir: io.homeDir });
    const found = await findLogins(config, settings, io.homeDir);
    // Chosen over all logins, as the serving provider chooses it.
    const clientVersion = await selectClientVersion(
      settings,
      codexHomesOf(found),
      { homeDir: io.homeDir, onWarning },
    );
    // One provider per login, so that the probe and the usage read each
    // login's own account.
    const logins = found.logins.map((login) => ({
      name: login.name,
      provider: createProvider(config, {
        tokenSource: loginTokenSource(login, settings, onWarning),
        onWarning,
        clientVersion,
      }),
    }));
    return await runCheckOfLogins(found, logins, {
      line: (text) => io.stdout(`${hideHome(text, io.homeDir)}\n`),
    }, {
      refresh: values.refresh === true,
      probe: values.probe === true,
      usage: values.usage === true,
      model: values.model as string | undefined,
      clientVersion,
    });
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    const final = (failure as { message?: unknown } | undefined)?.message;
    for (const warning of warnings) {
      if (warning !== final) {
        io.stderr(`warning: ${hideHome(warning, io.homeDir)}\n`);
      }
    }
  }
}

/**
 * Runs the command line and resolves with the process exit code: 0 on
 * success, 1 when the work failed (configuration, credentials, probe), 2 on
 * a usage error (unknown command or flag, bad value). Messages go to
 * `io.stderr` as `error: <message>`, never with a stack trace or a token.
 *
 * @example
 * ```ts ignore
 * const code = await runCli(["check"], io);
 * ```
 */
export async function runCli(
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const [first, ...rest] = args;
  try {
    if (first === undefined) {
      io.stderr(topLevelHelp());
      return EXIT_USAGE;
    }
    if (first === "--help" || first === "-h" || first === "help") {
      io.stdout(topLevelHelp());
      return 0;
    }
    if (first === "--version" || first === "-V") {
      io.stdout(`${VERSION}\n`);
      return 0;
    }
    const command = first === "accounts" && rest[0] === "reset"
      ? (rest.shift(), ACCOUNTS_RESET)
      : Object.hasOwn(COMMANDS, first)
      ? COMMANDS[first]
      : undefined;
    if (!command) {
      throw new UsageError(
        `Unknown ${first.startsWith("-") ? "flag" : "command"} ${
          JSON.stringify(first.slice(0, 40))
        }: expected one of ${
          Object.keys(COMMANDS).join(", ")
        }. Run "${PROGRAM} --help"`,
      );
    }
    return await runCommand(command, rest, io);
  } catch (error) {
    io.stderr(`error: ${describeFailure(error, io.homeDir)}\n`);
    return error instanceof UsageError ? EXIT_USAGE : 1;
  }
}
