// citty passes options a command does not declare through silently: a typo
// such as `boot --kernal F` (or `--cpu 1` for `--cpus 1`) would run with the
// defaults, for a benchmark a wrong answer rather than an error. This finds
// the first option a command does not declare, before the command runs.
import type { ArgsDef, CommandDef } from "citty";
import { CommandError } from "./command-error.js";

/** Throws a usage error (exit 2) naming the first option `command` (`bencher-run <name>`) does not declare. */
export async function refuseUnknownOptions(name: string, command: CommandDef, rawArgs: readonly string[]): Promise<void> {
  const args = typeof command.args === "function" ? await command.args() : await command.args;
  const unknown = unknownOption(rawArgs, args ?? {});
  if (unknown !== undefined) throw new CommandError(`unknown option ${unknown} (see bencher-run ${name} --help)`, 2);
}

/** The first option in `rawArgs` (a subcommand's arguments) that `args` does not declare, as typed; undefined if none. */
export function unknownOption(rawArgs: readonly string[], args: ArgsDef): string | undefined {
  const strings = new Set<string>();
  const booleans = new Set<string>();
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const alias = "alias" in def ? def.alias : undefined;
    const names = [name, ...(alias === undefined ? [] : Array.isArray(alias) ? alias : [alias])];
    for (const n of names) (def.type === "boolean" ? booleans : strings).add(n);
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i];
    if (arg === "--") return undefined; // what follows is not ours to parse
    if (!arg.startsWith("-") || arg === "-") continue; // a positional argument or an option's value
    const named = arg.replace(/^--?/, "");
    const name = named.split("=", 1)[0];
    if (strings.has(name)) {
      if (!named.includes("=")) i++; // its value, which may itself start with "-"
      continue;
    }
    if (booleans.has(name) || (name.startsWith("no-") && booleans.has(name.slice(3)))) continue;
    return arg.split("=", 1)[0];
  }
  return undefined;
}
