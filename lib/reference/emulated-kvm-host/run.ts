// Runs a shell script on an emulated hardware-KVM host: a Linux machine under
// QEMU's software CPU (TCG), whose emulated AMD CPU has SVM with nested paging,
// so its kernel's kvm-amd gives a /dev/kvm like a user's machine, not this
// machine's nested PVM one. Its root is this machine's own file tree (9p,
// read-only), so the script runs the project, Node and every tool as they are
// here; one host directory is shared writable for what the script leaves.
import { execa } from "execa";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../paths.js";
import { locateHostKernel } from "./host-kernel.js";
import { EXIT_LINE, hostInitramfs } from "./initramfs.js";

export interface EmulatedKvmHostOptions {
  /** A shell script on this machine, run with sh on the emulated host, in `cwd`. */
  script: string;
  /** A directory of this machine, writable on the emulated host at the same path. */
  shared: string;
  /** Default: the project root. */
  cwd?: string;
  /** Default 3072: room for the script's own VMs. */
  memoryMiB?: number;
  /** Default 2. */
  cpus?: number;
  timeoutMs?: number;
}

export interface EmulatedKvmHostRun {
  /** The script's exit status; undefined if the host never said (timeout, crash). */
  exitCode: number | undefined;
  /** The host's serial console: its kernel's warnings, the init's lines, and the script's output. */
  console: string;
  timedOut: boolean;
  wallMs: number;
}

export async function runOnEmulatedKvmHost(opts: EmulatedKvmHostOptions): Promise<EmulatedKvmHostRun> {
  const cwd = opts.cwd ?? projectRoot;
  for (const [what, path] of [["script", opts.script], ["shared directory", opts.shared], ["cwd", cwd]]) {
    if (!path.startsWith("/") || /\s/.test(path)) throw new Error(`emulated KVM host: ${what} ${path}: must be an absolute path without spaces (it goes on a kernel command line)`);
  }
  if (!statSync(opts.shared).isDirectory()) throw new Error(`emulated KVM host: shared directory ${opts.shared}: not a directory`);
  const kernel = locateHostKernel();
  const scratch = mkdtempSync(join(tmpdir(), "emulated-kvm-host-"));
  // As root, files keep their owners both ways; otherwise QEMU reads and writes as this user.
  const security = process.getuid?.() === 0 ? "passthrough" : "none";
  const started = Date.now();
  try {
    const initramfs = join(scratch, "initramfs.cpio");
    writeFileSync(initramfs, hostInitramfs(kernel));
    const result = await execa("qemu-system-x86_64", [
      "-accel", "tcg", "-cpu", "max", "-M", "q35",
      "-m", String(opts.memoryMiB ?? 3072), "-smp", String(opts.cpus ?? 2),
      "-kernel", kernel.vmlinuz, "-initrd", initramfs,
      "-append", `console=ttyS0 quiet panic=-1 ekh.script=${opts.script} ekh.shared=${opts.shared} ekh.cwd=${cwd}`,
      "-virtfs", `local,path=/,mount_tag=hostroot,security_model=${security},readonly=on,multidevs=remap`,
      "-virtfs", `local,path=${opts.shared},mount_tag=shared,security_model=${security},multidevs=remap`,
      "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot",
    ], { reject: false, timeout: opts.timeoutMs ?? 20 * 60_000, stdin: "ignore", all: true });
    const text = result.all ?? "";
    const exit = EXIT_LINE.exec(text);
    return { exitCode: exit ? Number(exit[1]) : undefined, console: text, timedOut: result.timedOut, wallMs: Date.now() - started };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
