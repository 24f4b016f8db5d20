// The initramfs that runs syscall-check as PID 1 (issue 9's proof that a guest
// process can make system calls on this host).
import { readFileSync } from "node:fs";
import { writeNewc } from "../../lib/initramfs/newc.js";

/** Exactly what syscall-check.c expects to read back from the file. */
export const FIXTURE_TEXT = "bencher-run syscall-check fixture\n";

export function syscallCheckInitramfs(binaryPath: string): Buffer {
  return writeNewc([
    { type: "dir", path: "dev" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1 },
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/syscall-check.txt", data: Buffer.from(FIXTURE_TEXT) },
    { type: "file", path: "init", data: readFileSync(binaryPath), mode: 0o755 },
  ]);
}
