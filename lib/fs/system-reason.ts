// Why a file system call failed, in the system's words ("permission
// denied"), without the code and the paths Node adds to its message: an
// error that names what the user typed has no room for another path.
export function systemReason(err: unknown): string {
  const message = (err as Error | undefined)?.message;
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(message ?? "");
  return m ? m[1]! : String(message ?? err);
}
