/**
 * Command-line parsing for `serve`, `check` and `demo`: a strict, small
 * parser (`--name value`, `--name=value`, boolean `--flag`, `-h`) that
 * refuses unknown flags and stray arguments with a clear message, and the
 * help text of each command.
 *
 * @module
 */

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

/**
 * Parses the flags of one command. Throws a {@linkcode UsageError} naming
 * the unknown flag, the flag without its value, or the stray argument.
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
  const options = optionsOf(spec);
  const byShort = new Map<string, string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.short) byShort.set(option.short, name);
  }
  const values: Record<string, string | boolean> = {};
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith("--") && arg.length > 2) {
      const equals = arg.indexOf("=");
      name = equals === -1 ? arg.slice(2) : arg.slice(2, equals);
      inline = equals === -1 ? undefined : arg.slice(equals + 1);
    } else if (/^-[A-Za-z]$/.test(arg)) {
      name = byShort.get(arg.slice(1));
      if (name === undefined) {
        throw new UsageError(
          `Unknown flag ${showArg(arg)} for "${spec.name}": expected one of ${
            flagList(spec)
          }. Run "${PROGRAM} ${spec.name} --help"`,
        );
      }
    } else {
      throw new UsageError(
        `Unexpected argument ${
          showArg(arg)
        } for "${spec.name}": expected only flags (${
          flagList(spec)
        }). Run "${PROGRAM} ${spec.name} --help"`,
      );
    }
    const option = options[name];
    if (!option || !Object.hasOwn(options, name)) {
      throw new UsageError(
        `Unknown flag ${
          showArg(`--${name}`)
        } for "${spec.name}": expected one of ${
          flagList(spec)
        }. Run "${PROGRAM} ${spec.name} --help"`,
      );
    }
    if (option.type === "boolean") {
      if (inline !== undefined) {
        throw new UsageError(
          `Flag --${name} takes no value, found ${showArg(inline)}`,
        );
      }
      values[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[index + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-")) {
        throw new UsageError(
          `Flag --${name} expects a value ${
            option.valueName ?? "<value>"
          }, found ${next === undefined ? "none" : showArg(next)}`,
        );
      }
      value = next;
      index++;
    }
    values[name] = value;
  }
  const help = values.help === true;
  delete values.help;
  return { help, values };
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
