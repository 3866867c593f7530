/**
 * Command-line parsing for the commands: `node:util`'s `parseArgs` in strict
 * mode (`--name value`, `--name=value`, boolean `--flag`, `-h`), whose
 * refusals of unknown flags and stray arguments are told in a clear message,
 * and the help text of each command.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { OpenAIResponsesError } from "../errors.ts";

/** The program name used in help and error messages. */
export const PROGRAM = "provider-openai-responses";

/** Exit code of a usage error (unknown command or flag, bad value). */
export const EXIT_USAGE = 2;

/** One flag of a command. */
export interface OptionSpec {
  /** `boolean` flags take no value; `string` flags take one. */
  type: "boolean" | "string";
  /** One-letter alias, without the dash. */
  short?: string;
  /** Placeholder of the value in help, e.g. `<port>`. */
  valueName?: string;
  /** One line of help. */
  description: string;
}

/** A command: its name, help and flags. */
export interface CommandSpec {
  /** Command name, e.g. `serve`. */
  name: string;
  /** One-line summary for the top-level help. */
  summary: string;
  /** Longer help text printed after the usage line. */
  details: string;
  /** Flags by long name (without the dashes). `help` is added to every command. */
  options: Record<string, OptionSpec>;
}

/** Flags parsed for a command. */
export interface ParsedOptions {
  /** `true` when `--help` or `-h` was given. */
  help: boolean;
  /** Values by long flag name: `true` for boolean flags, the text for string flags. */
  values: Record<string, string | boolean>;
}

/** The command line is wrong (unknown command or flag, missing or bad value). Code: `invalid_usage`. */
export class UsageError extends OpenAIResponsesError {
  /**
   * Creates the error.
   *
   * @param message what was expected and what was found
   */
  constructor(message: string) {
    super("invalid_usage", message);
    this.name = "UsageError";
  }
}

const HELP_OPTION: OptionSpec = {
  type: "boolean",
  short: "h",
  description: "Show this help",
};

function optionsOf(spec: CommandSpec): Record<string, OptionSpec> {
  return { ...spec.options, help: HELP_OPTION };
}

function showArg(arg: string): string {
  return JSON.stringify(arg.length > 40 ? `${arg.slice(0, 37)}...` : arg);
}

/** The flags of a command as `node:util`'s `parseArgs` takes them. */
function parseArgsOptions(
  spec: CommandSpec,
): Record<string, { type: "boolean" | "string"; short?: string }> {
  const options: Record<
    string,
    { type: "boolean" | "string"; short?: string }
  > = {};
  for (const [name, option] of Object.entries(optionsOf(spec))) {
    options[name] = option.short === undefined
      ? { type: option.type }
      : { type: option.type, short: option.short };
  }
  return options;
}

/**
 * Parses the flags of one command with `node:util`'s `parseArgs` in strict
 * mode (unknown flags, stray arguments, a value on a boolean flag and a
 * string flag without its value are refused). Throws a
 * {@linkcode UsageError} naming the unknown flag, the flag without its
 * value, or the stray argument.
 *
 * @example
 * ```ts
 * import { parseOptions } from "./args.ts";
 *
 * const parsed = parseOptions(["--port", "0"], {
 *   name: "serve",
 *   summary: "",
 *   details: "",
 *   options: { port: { type: "string", description: "Port" } },
 * });
 * console.log(parsed.values.port); // "0"
 * ```
 */
export function parseOptions(
  args: readonly string[],
  spec: CommandSpec,
): ParsedOptions {
  let parsed: Record<string, string | boolean | undefined>;
  try {
    parsed = parseArgs({
      args: [...args],
      options: parseArgsOptions(spec),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw refusal(args, spec, error);
  }
  const values: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (value !== undefined && name !== "help") values[name] = value;
  }
  return { help: parsed.help === true, values };
}

/**
 * Why strict `parseArgs` refused `args`, in this CLI's words: the first
 * argument at fault, read from the tokens of a lenient parse (a refusal it
 * does not explain keeps `parseArgs`'s own message).
 */
function refusal(
  args: readonly string[],
  spec: CommandSpec,
  error: unknown,
): UsageError {
  const options = optionsOf(spec);
  const hint = `Run "${PROGRAM} ${spec.name} --help"`;
  const { tokens } = parseArgs({
    args: [...args],
    options: parseArgsOptions(spec),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of tokens) {
    // A lone `--` is no argument; what follows it is.
    if (token.kind === "option-terminator") continue;
    if (token.kind === "positional") {
      return new UsageError(
        `Unexpected argument ${
          showArg(token.value)
        } for "${spec.name}": expected only flags (${flagList(spec)}). ${hint}`,
      );
    }
    const option = Object.hasOwn(options, token.name)
      ? options[token.name]
      : undefined;
    if (option === undefined) {
      return new UsageError(
        `Unknown flag ${
          showArg(token.rawName)
        } for "${spec.name}": expected one of ${flagList(spec)}. ${hint}`,
      );
    }
    if (option.type === "boolean" && token.value !== undefined) {
      return new UsageError(
        `Flag --${token.name} takes no value, found ${showArg(token.value)}`,
      );
    }
    const value = token.value;
    if (
      option.type === "string" &&
      (value === undefined ||
        (!token.inlineValue && value.length > 1 && value.startsWith("-")))
    ) {
      return new UsageError(
        `Flag --${token.name} expects a value ${
          option.valueName ?? "<value>"
        }, found ${value === undefined ? "none" : showArg(value)}`,
      );
    }
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new UsageError(
    `Invalid arguments for "${spec.name}": ${reason.replace(/\.$/, "")}`,
  );
}

function flagList(spec: CommandSpec): string {
  return Object.keys(optionsOf(spec)).map((name) => `--${name}`).join(", ");
}

/**
 * The help text of one command.
 *
 * @example
 * ```ts
 * import { commandHelp } from "./args.ts";
 * console.log(commandHelp({ name: "demo", summary: "", details: "", options: {} }));
 * ```
 */
export function commandHelp(spec: CommandSpec): string {
  const options = optionsOf(spec);
  const rows = Object.entries(options).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : "    "}--${name}${
      option.type === "string" ? ` ${option.valueName ?? "<value>"}` : ""
    }`;
    return [flag, option.description];
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  const flags = Object.keys(spec.options).length > 0 ? " [flags]" : "";
  return [
    `Usage: ${PROGRAM} ${spec.name}${flags}`,
    "",
    spec.details,
    "",
    "Flags:",
    ...rows.map(([flag, description]) =>
      `  ${flag.padEnd(width)}  ${description}`
    ),
    "",
  ].join("\n");
}

/**
 * Parses a TCP port: an integer from 0 to 65535 (`0` picks a free port).
 *
 * @example
 * ```ts
 * import { parsePort } from "./args.ts";
 * console.log(parsePort("8787")); // 8787
 * ```
 */
export function parsePort(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError(
      `Invalid --port: expected an integer from 0 to 65535, found ${
        showArg(value)
      }`,
    );
  }
  return port;
}
