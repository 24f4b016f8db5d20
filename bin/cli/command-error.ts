// An error a command reports as one line, with the exit status to use.
// The rule for every command but pipeline and collect (which exit 125 for
// their own failures, as docker run does): 2 when the command line itself is
// wrong, whatever the files and the host (an unknown or missing option, a
// value the option cannot take, options that do not go together), 1 for
// anything else (a missing file, a refused image, a failed stage).
export const USAGE_EXIT_STATUS = 2;

export class CommandError extends Error {
  override name = "CommandError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** The command line itself is wrong: exit 2. */
export class CommandLineError extends CommandError {
  constructor(message: string) {
    super(message, USAGE_EXIT_STATUS);
  }
}

/** The one-line error of a stage subcommand whose stage is not there yet. */
export function notBuiltYet(what: string): never {
  throw new CommandError(`${what}: not built yet`);
}
