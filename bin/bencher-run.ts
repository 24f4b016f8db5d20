// The bencher-run command line. Each subcommand lives in bin/commands/.
// Errors end as one line on stderr: "bencher-run: <what went wrong>".
import type { CommandDef } from "citty";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../lib/paths.js";
import { describeError } from "../lib/ipc/errors.js";
import { closeInheritedOnExec } from "../lib/native/cloexec.js";
import { interruptedBy, interruptExitCode } from "../lib/workdir/interrupts.js";
import { CommandError, CommandLineError, USAGE_EXIT_STATUS } from "./cli/command-error.js";
import { commandArgs, optionNames, refuseUnknownOptions } from "./cli/unknown-options.js";
import { asksForHelp, isHelpFlag } from "./cli/help-request.js";
import { refuseBadPaths } from "./cli/path-options.js";
import { RUNNER_FAILURE_EXIT_STATUS } from "../stages/collect/exit-status.js";

// Descriptors inherited from whoever started us (a shell's `exec 200<file`)
// are not close-on-exec: spawn, unshare, bwrap and setpriv would pass them on
// to every sandboxed stage. Mark them all before anything runs.
closeInheritedOnExec();

// A reader that goes away early (`bencher-run cache ls | head`) is not an
// error of ours: stop quietly, as other command-line tools do.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// Help text without colour codes when it goes to a file or a pipe (citty reads NO_COLOR when loaded).
if (!process.stdout.isTTY) process.env.NO_COLOR = "1";
const { defineCommand, runCommand, runMain, showUsage } = await import("citty");

const version = (JSON.parse(readFileSync(join(projectRoot, "package.json"), "utf8")) as { version: string }).version;
const load = (name: string) => async () => (await import(`./commands/${name}.js`)).default as CommandDef;

export const main = defineCommand({
  meta: { name: "bencher-run", version, description: "Run a benchmark packaged as an OCI image in an isolated KVM virtual machine" },
  subCommands: {
    pipeline: load("pipeline"),
    unpack: load("unpack"),
    mkrootfs: load("mkrootfs"),
    boot: load("boot"),
    collect: load("collect"),
    doctor: load("doctor"),
    scenarios: load("scenarios"),
    cache: load("cache"),
    image: load("image"),
  },
});

// `bencher-run help [COMMAND]` is `bencher-run [COMMAND] --help`, as in git and npm.
const rawArgs = process.argv[2] === "help" ? [...process.argv.slice(3, 4), "--help"] : process.argv.slice(2);
const wantsHelp =
  (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) || (rawArgs.some(isHelpFlag) && (await helpRequested(rawArgs)));

/** Whether a --help or -h in `rawArgs` asks for help (not an option's value, nor part of pipeline's guest command). */
async function helpRequested([name, ...rest]: string[]): Promise<boolean> {
  if (name === undefined || name.startsWith("-")) return true; // the top level's help
  if (!Object.hasOwn(main.subCommands ?? {}, name)) return false; // an unknown command: its usage error, not help
  if (name === "pipeline") {
    const { pipelineFlagTakesValue, startsPipelineCommand } = await import("./pipeline/cli-args.js");
    return asksForHelp(rest, pipelineFlagTakesValue, startsPipelineCommand);
  }
  const command = await load(name)();
  const { strings } = optionNames(await commandArgs(command));
  return asksForHelp(rest, (flag) => strings.has(flag.replace(/^--?/, "")));
}

if (process.argv[2] === "help" && process.argv.length > 4) {
  process.stderr.write(`bencher-run: help takes one command at most, not ${JSON.stringify(process.argv[4])} too (see bencher-run --help)\n`);
  process.exitCode = USAGE_EXIT_STATUS;
} else if (rawArgs.length === 0) {
  // No command is a usage error (exit 2, as the README says of those): the list of commands, then why.
  await showUsage(main);
  process.stderr.write("bencher-run: no command given (see the commands above)\n");
  process.exitCode = USAGE_EXIT_STATUS;
} else if (wantsHelp) {
  await runMain(main, { rawArgs });
} else {
  try {
    const [name, ...rest] = rawArgs;
    if (name.startsWith("-")) throw new CommandLineError(`unknown option ${name.split("=", 1)[0]}: a command comes first, its options after it (see bencher-run --help)`);
    // Every subcommand but pipeline, which parses its own options strictly (bin/pipeline/cli-args.ts).
    if (name !== "pipeline" && Object.hasOwn(main.subCommands ?? {}, name)) {
      const command = await load(name)();
      await refuseUnknownOptions(name, command, rest);
      await refuseBadPaths(command, rest);
    }
    await runCommand(main, { rawArgs });
  } catch (err) {
    // Stopped by Ctrl-C/SIGTERM: the stages' own "stopped" errors are a consequence, not the news.
    const signal = interruptedBy();
    process.stderr.write(`bencher-run: ${signal ? `interrupted by ${signal}` : oneLine(err)}\n`);
    process.exitCode = signal ? interruptExitCode(signal) : exitCodeFor(err, rawArgs[0]);
  }
}

function oneLine(err: unknown): string {
  if (isCittyUsageError(err)) return `${stripAnsi((err as Error).message)} (see ${helpCommandFor(rawArgs[0])})`;
  return describeError(err);
}

/** The help that lists the options of the subcommand typed (a missing --socket is collect's), or the top level's. */
function helpCommandFor(name: string | undefined): string {
  return name !== undefined && Object.hasOwn(main.subCommands ?? {}, name) ? `bencher-run ${name} --help` : "bencher-run --help";
}

function exitCodeFor(err: unknown, command: string | undefined): number {
  // pipeline and collect exit with the guest command's status: their own
  // failures (bad input included) exit 125, as docker run's do, so that a
  // script can tell them from a benchmark that exited 1 or 2.
  if (command === "pipeline" || command === "collect") return RUNNER_FAILURE_EXIT_STATUS;
  if (err instanceof CommandError) return err.exitCode;
  if (isCittyUsageError(err)) return USAGE_EXIT_STATUS;
  return 1;
}

function isCittyUsageError(err: unknown): boolean {
  return err instanceof Error && err.name === "CLIError";
}

function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}
