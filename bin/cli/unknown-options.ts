// citty passes options a command does not declare through silently, and
// arguments it has no place for too: a typo such as `boot --kernal F` (or
// `--cpu 1` for `--cpus 1`) would run with the defaults, and `scenarios
// basic_execution` would run every scenario: for a benchmark a wrong answer
// rather than an error. This finds the first such argument before the
// command runs; and a value given to an option that takes none.
import type { ArgsDef, CommandDef } from "citty";
import { CommandLineError } from "./command-error.js";

/** Throws a usage error (exit 2) naming the first argument `command` (`bencher-run <name>`) has no place for. */
export async function refuseUnknownOptions(name: string, command: CommandDef, rawArgs: readonly string[]): Promise<void> {
  const unknown = unknownArgument(rawArgs, await commandArgs(command));
  if (unknown !== undefined) throw new CommandLineError(`${unknown} (see bencher-run ${name} --help)`);
}

/** The options and arguments `command` declares (citty lets them be given lazily). */
export async function commandArgs(command: CommandDef): Promise<ArgsDef> {
  return (typeof command.args === "function" ? await command.args() : await command.args) ?? {};
}

/**
 * What is wrong with the first argument in `rawArgs` (a subcommand's
 * arguments) that `args` has no place for: "unknown option --x" for an
 * option it does not declare, `unexpected argument "x"` for a positional
 * argument beyond those it declares, "--x takes no value" for a value
 * given to a boolean. Undefined if there is none.
 */
export function unknownArgument(rawArgs: readonly string[], args: ArgsDef): string | undefined {
  const { strings, booleans, positionals } = optionNames(args);
  let seen = 0;
  let afterDashes = false; // after --, everything is positional, whatever it looks like
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i];
    if (arg === "--" && !afterDashes) {
      afterDashes = true;
      continue;
    }
    if (afterDashes || !arg.startsWith("-") || arg === "-") {
      if (++seen > positionals) return `unexpected argument ${JSON.stringify(arg)}`;
      continue;
    }
    const named = arg.replace(/^--?/, "");
    const name = named.split("=", 1)[0];
    if (strings.has(name)) {
      if (!named.includes("=")) i++; // its value, which may itself start with "-"
      continue;
    }
    if (booleans.has(name) || (name.startsWith("no-") && booleans.has(name.slice(3)))) {
      // citty would take any value as true (--force=no forces): only --x and --no-x say it, as in pipeline.
      if (named.includes("=")) return `${arg.split("=", 1)[0]} takes no value`;
      continue;
    }
    return `unknown option ${arg.split("=", 1)[0]}`;
  }
  return undefined;
}

/** The names (aliases included, without dashes) of the options that take a value and of those that do not; how many positionals. */
export function optionNames(args: ArgsDef): { strings: Set<string>; booleans: Set<string>; positionals: number } {
  const strings = new Set<string>();
  const booleans = new Set<string>();
  let positionals = 0;
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") {
      positionals++;
      continue;
    }
    const alias = "alias" in def ? def.alias : undefined;
    const names = [name, ...(alias === undefined ? [] : Array.isArray(alias) ? alias : [alias])];
    for (const n of names) (def.type === "boolean" ? booleans : strings).add(n);
  }
  return { strings, booleans, positionals };
}
