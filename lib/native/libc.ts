// The C library through koffi: one handle for every module that calls it
// (the VMM's ioctl/mmap wrappers, CPU affinity, doctor's KVM check), and the
// one error such calls throw: the call, strerror and errno on one line.
import koffi, { type LibraryHandle } from "koffi";

let handle: LibraryHandle | undefined;
let strerror: ((errnum: number) => string) | undefined;

/** libc.so.6, loaded at first use. */
export function libc(): LibraryHandle {
  return (handle ??= koffi.load("libc.so.6"));
}

/** errno as the last call through koffi left it. */
export function lastErrno(): number {
  return koffi.errno();
}

export class SyscallError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    strerror ??= libc().func("const char *strerror(int errnum)") as (errnum: number) => string;
    super(`${call} failed: ${strerror(errno)} (errno ${errno})`);
  }
}
