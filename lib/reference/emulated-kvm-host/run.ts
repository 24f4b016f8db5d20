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
import { fileURLToPath } from "node:url";
import { projectRoot } from "../../paths.js";
import { locateHostKernel } from "./host-kernel.js";
import { EXIT_LINE, HEARTBEAT, hostInitramfs } from "./initramfs.js";

/** A host that has not written its heartbeat for this long (boot included) is stalled. */
const STALL_MS = 90_000;

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
  /** Default STALL_MS; the first heartbeat comes once the host has booted. */
  stallMs?: number;
  /**
   * Fresh hosts to run the script on after one stalls (default 1): a stall
   * is QEMU's software CPU failing (README.md), not the script. The script
   * must be safe to run again; each try gets `timeoutMs`.
   */
  stallRetries?: number;
}

export interface EmulatedKvmHostRun {
  /** The script's exit status; undefined if the host never said (timeout, crash). */
  exitCode: number | undefined;
  /** The host's serial console: its kernel's warnings, the init's lines, and the script's output. */
  console: string;
  timedOut: boolean;
  /**
   * The (last) host stopped writing its heartbeat and was ended: its kernel
   * livelocked, which QEMU's software CPU does now and then (README.md).
   */
  stalled: boolean;
  /** Hosts that stalled, the retried ones included. */
  stalls: number;
  /** The last host's, from QEMU's start. */
  wallMs: number;
}

export async function runOnEmulatedKvmHost(opts: EmulatedKvmHostOptions): Promise<EmulatedKvmHostRun> {
  const cwd = opts.cwd ?? projectRoot;
  const idleVm = fileURLToPath(new URL("./idle-vm.js", import.meta.url));
  for (const [what, path] of [["script", opts.script], ["shared directory", opts.shared], ["cwd", cwd], ["project", idleVm]]) {
    if (!path.startsWith("/") || /\s/.test(path)) throw new Error(`emulated KVM host: ${what} ${path}: must be an absolute path without spaces (it goes on a kernel command line)`);
  }
  if (!statSync(opts.shared).isDirectory()) throw new Error(`emulated KVM host: shared directory ${opts.shared}: not a directory`);
  const kernel = locateHostKernel();
  const scratch = mkdtempSync(join(tmpdir(), "emulated-kvm-host-"));
  // A caller that ends on a signal with process.exit skips the finally below (execa stops QEMU then).
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  process.once("exit", removeScratch);
  // As root, files keep their owners both ways; otherwise QEMU reads and writes as this user.
  const security = process.getuid?.() === 0 ? "passthrough" : "none";
  try {
    const initramfs = join(scratch, "initramfs.cpio");
    writeFileSync(initramfs, hostInitramfs(kernel));
    const qemuArgs = [
      "-accel", "tcg", "-cpu", "max", "-M", "q35",
      "-m", String(opts.memoryMiB ?? 3072), "-smp", String(opts.cpus ?? 2),
      "-kernel", kernel.vmlinuz, "-initrd", initramfs,
      // maxcpus=1: the init brings the others up once the idle VM is held (initramfs.ts);
      // noreplace-smp: the kernel then leaves its lock prefixes as they are.
      "-append", `console=ttyS0 quiet panic=-1 maxcpus=1 noreplace-smp ekh.script=${opts.script} ekh.shared=${opts.shared} ekh.cwd=${cwd} ekh.idle=${idleVm}`,
      "-virtfs", `local,path=/,mount_tag=hostroot,security_model=${security},readonly=on,multidevs=remap`,
      "-virtfs", `local,path=${opts.shared},mount_tag=shared,security_model=${security},multidevs=remap`,
      "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot",
    ];
    let stalls = 0;
    for (;;) {
      const run = await bootOnce(qemuArgs, opts);
      if (!run.stalled || stalls >= (opts.stallRetries ?? 1)) return { ...run, stalls: stalls + (run.stalled ? 1 : 0) };
      stalls++;
    }
  } finally {
    process.removeListener("exit", removeScratch);
    removeScratch();
    rmSync(join(opts.shared, HEARTBEAT), { force: true });
  }
}

/** One host, from QEMU's start to its end: the script's status, or a stall or a timeout. */
async function bootOnce(qemuArgs: string[], opts: EmulatedKvmHostOptions): Promise<Omit<EmulatedKvmHostRun, "stalls">> {
  const started = Date.now();
  const heartbeat = join(opts.shared, HEARTBEAT);
  rmSync(heartbeat, { force: true });
  const qemu = execa("qemu-system-x86_64", qemuArgs, { reject: false, timeout: opts.timeoutMs ?? 20 * 60_000, stdin: "ignore", all: true });
  let stalled = false;
  const watch = setInterval(() => {
    const lastBeat = statSync(heartbeat, { throwIfNoEntry: false })?.mtimeMs ?? started;
    if (Date.now() - lastBeat > (opts.stallMs ?? STALL_MS)) {
      stalled = true;
      qemu.kill("SIGKILL");
    }
  }, 1000);
  const result = await qemu.finally(() => clearInterval(watch));
  const text = result.all ?? "";
  const exit = EXIT_LINE.exec(text);
  return { exitCode: exit ? Number(exit[1]) : undefined, console: text, timedOut: result.timedOut, stalled, wallMs: Date.now() - started };
}

/** Why a run did not end with its script's status, then the console's tail: for a failing test's message. */
export function describeEndedRun(run: EmulatedKvmHostRun, tailChars = 2000): string {
  const how = run.stalled ? "the emulated host stalled (no heartbeat) and was ended"
    : run.timedOut ? "the emulated host ran out of time"
    : run.exitCode === undefined ? "the emulated host ended without the script's status"
    : `the script ended with status ${run.exitCode}`;
  return `${how} after ${Math.round(run.wallMs / 1000)} s; its console ends:\n${run.console.slice(-tailChars)}`;
}

/** Says on stderr that hosts stalled and the script ran again, so a log shows it even when the test passes. */
export function reportStalls(run: EmulatedKvmHostRun): void {
  if (run.stalls > 0) console.error(`emulated KVM host: ${run.stalls} host(s) stalled and were ended (QEMU's software CPU, see lib/reference/emulated-kvm-host/README.md)${run.stalled ? "" : "; the script then ran on a fresh one"}`);
}
