// Recognises a guest kernel panic in the console output. With `panic=-1` on
// the command line the kernel resets at once after panicking, which the VMM
// would otherwise report as an ordinary reset: the console is the only place
// that says the guest crashed.
const PANIC_LINE = /Kernel panic - not syncing: ?([^\r\n]*)/;

/** The panic message ("sysrq triggered crash", "Attempted to kill init! ..."), or undefined when the console shows none. */
export function kernelPanicMessage(consoleText: string): string | undefined {
  const match = PANIC_LINE.exec(consoleText);
  if (!match) return undefined;
  return match[1].trim() || "(no message)";
}
