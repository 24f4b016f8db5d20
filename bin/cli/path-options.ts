// Paths typed on the command line, checked once for every subcommand before
// it runs. An empty one was taken as not given (`boot --kernel ""` booted
// the default kernel, `mkrootfs --out ""` left the image in the cache) or
// as the working directory (`image --out ""`: "already exists"). A name
// that is not UTF-8 reaches Node already changed, each bad byte made U+FFFD,
// so the command would have written or read another file than the one named.
// An option names a path when its help says so: its valueHint (`--out=<file>`).
import type { ArgsDef, CommandDef } from "citty";
import { CommandLineError } from "./command-error.js";
import { commandArgs } from "./unknown-options.js";

/** Value hints of options naming a path (on the host, or in the guest): refused empty or not UTF-8. */
const PATH_HINTS = new Set(["file", "dir", "path", "file.json"]);
/** An image is a path or a registry reference, so not UTF-8 is refused too; an empty one has unpack's own error, which says what it may be. */
const IMAGE_HINT = "image";

/** Throws a usage error (exit 2) naming the first path option in `rawArgs` (a subcommand's arguments) that is empty or not UTF-8. */
export async function refuseBadPaths(command: CommandDef, rawArgs: readonly string[]): Promise<void> {
  const args = await commandArgs(command);
  const { parseArgs } = await import("citty"); // loaded by now: bin/bencher-run.ts loads it once NO_COLOR is settled
  const problem = badPath(args, parseArgs([...rawArgs], args));
  if (problem !== undefined) throw new CommandLineError(problem);
}

/** What is wrong with the first path option of `parsed` (citty's parse against `args`), as the error's line; undefined if nothing is. */
export function badPath(args: ArgsDef, parsed: Record<string, unknown>): string | undefined {
  for (const [name, def] of Object.entries(args)) {
    const hint = "valueHint" in def ? def.valueHint : undefined;
    const value = parsed[name];
    if (hint === undefined || typeof value !== "string" || (!PATH_HINTS.has(hint) && hint !== IMAGE_HINT)) continue;
    // As the help names it: --out, or DESCRIPTION for a positional argument.
    const typed = def.type === "positional" ? name.toUpperCase() : `--${name}`;
    if (value === "" && hint !== IMAGE_HINT) return `${typed}: empty path`;
    if (value.includes("\uFFFD")) return `${typed} ${value}: not valid UTF-8 (Node cannot pass such a name through: rename it)`;
  }
  return undefined;
}
