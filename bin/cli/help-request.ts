// Whether a command line asks for help. --help or -h counts only where an
// option may stand: not as an option's value (`collect --out -h`), not after
// `--`, and not in the guest command pipeline takes after --entrypoint or
// --cmd (`pipeline --image I --cmd ls -h` runs `ls -h`, as docker run would).

export function isHelpFlag(arg: string): boolean {
  return arg === "--help" || arg === "-h";
}

/**
 * Whether `rawArgs` (a subcommand's arguments) hold a help flag among its
 * options. `takesValue(flag)` says which options consume the next argument;
 * `endsOptions(arg)` which arguments start the rest-of-line (besides `--`).
 */
export function asksForHelp(rawArgs: readonly string[], takesValue: (flag: string) => boolean, endsOptions: (arg: string) => boolean = () => false): boolean {
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--" || endsOptions(arg)) return false;
    if (isHelpFlag(arg)) return true;
    if (arg.startsWith("-") && !arg.includes("=") && takesValue(arg)) i++; // its value, whatever it looks like
  }
  return false;
}
