// An error a command reports as one line, with the exit status to use.
export class CommandError extends Error {
  override name = "CommandError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** The one-line error of a stage subcommand whose stage is not there yet. */
export function notBuiltYet(what: string): never {
  throw new CommandError(`${what}: not built yet`);
}
