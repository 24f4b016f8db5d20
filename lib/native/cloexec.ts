// Marks every descriptor this process holds close-on-exec. Node opens its own
// descriptors with O_CLOEXEC, but descriptors inherited from whoever started
// the process (a shell's `exec 200</root/secret`, a scheduler's sockets) are
// not, and Node's spawn, unshare, bwrap and setpriv all pass such descriptors
// on: a sandboxed stage would receive them. A descriptor handed to a child on
// purpose (the boot stage's /dev/kvm in spawn's stdio) is dup2()ed into place
// in the child, which clears the flag there, so it still arrives.
//
// Which descriptors lack the flag is read from /proc/self/fdinfo (its "flags"
// show O_CLOEXEC), so the usual case, nothing to mark, costs a few small
// reads and not the ~45 ms of loading koffi.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const F_GETFD = 1;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_CLOEXEC = 0o2000000;

let fcntl: ((fd: number, cmd: number, ...args: unknown[]) => number) | undefined;

/** Open descriptors above 2 without close-on-exec. */
export function inheritableDescriptors(): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc/self/fd")) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2) continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${fd}`, "latin1");
    } catch {
      continue; // closed since (the directory listing's own descriptor)
    }
    const flags = /^flags:\s*([0-7]+)$/m.exec(info);
    if (!flags || !(parseInt(flags[1]!, 8) & O_CLOEXEC)) found.push(fd);
  }
  return found;
}

/** Sets FD_CLOEXEC on every open descriptor above 2; returns the descriptors that lacked it. */
export function closeInheritedOnExec(): number[] {
  const candidates = inheritableDescriptors();
  if (candidates.length === 0) return [];
  // koffi is required here, when needed, not imported with this module (libc.ts imports it at load).
  fcntl ??= (createRequire(import.meta.url)("koffi") as typeof import("koffi")).load("libc.so.6").func("int fcntl(int fd, int cmd, ...)") as (fd: number, cmd: number, ...args: unknown[]) => number;
  const marked: number[] = [];
  for (const fd of candidates) {
    const flags = fcntl(fd, F_GETFD);
    if (flags < 0 || flags & FD_CLOEXEC) continue; // closed since (the directory listing's own descriptor), or already marked
    if (fcntl(fd, F_SETFD, "int", flags | FD_CLOEXEC) === 0) marked.push(fd);
  }
  return marked;
}
