// bencher-run boot: boot a kernel (and optionally a root image) in our VMM.
import { defineCommand } from "citty";
import { closeSync, existsSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BootRequest } from "../../stages/boot/request.js";
import type { BootResult } from "../../stages/boot/boot.js";
import { withRunWorkdir } from "../../lib/workdir/run-workdir.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { parseBootResult } from "../../stages/boot/result.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { inputPath, outputFile, wholeNumberIn } from "../cli/paths.js";
import { removeSocketAndDir, socketPath, waitedPath } from "../cli/socket-dir.js";
import { moveFile } from "../cli/move-file.js";
import { CommandError, CommandLineError } from "../cli/command-error.js";
import { findKernel } from "../doctor/guest-artifacts.js";
import { cpusProblem, hostCpus } from "../../lib/cpu-affinity/pinning.js";
import { formatCpuList, parseCpuList } from "../../lib/cpu-affinity/cpu-list.js";
import { guestInitramfs } from "../../guest-init/initramfs.js";
import { DEFAULT_VSOCK_PORT } from "../../stages/collect/request.js";
import { returnFromStage } from "../../lib/sandbox/stage-identity.js";
import { interruptedBy, interruptExitCode } from "../../lib/workdir/interrupts.js";
import { MAX_MEMORY_MIB, MAX_TIMEOUT_MS, MAX_VCPUS, MIN_MEMORY_MIB } from "../../stages/boot/limits.js";

/** The descriptor number the boot stage sees /dev/kvm as (the sandbox passes it as fd 3). */
const KVM_FD_IN_STAGE = 3;

/** Opens /dev/kvm for the boot stage; a one-line error with the fix when it cannot. */
export function openKvm(): number {
  try {
    return openSync("/dev/kvm", "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CommandError("/dev/kvm: not present (no KVM on this host; see bencher-run doctor)");
    if (code === "EACCES") throw new CommandError("/dev/kvm: permission denied (add yourself to the kvm group; see bencher-run doctor)");
    throw new CommandError(`/dev/kvm: ${(err as Error).message}`);
  }
}

/** --cpus LIST, checked against this host before any stage starts. */
export function cpusArg(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  let cpus: number[];
  try {
    cpus = parseCpuList(value);
  } catch (err) {
    throw new CommandLineError(`--cpus ${value}: ${(err as Error).message}`);
  }
  // A list that is well formed but names CPUs this host lacks is the host's answer, not a usage error.
  const problem = cpusProblem(cpus, hostCpus());
  if (problem) throw new CommandError(`--cpus ${value}: ${problem}`);
  return cpus;
}

/**
 * For scripts: 0 when the guest ended the VM itself (power-off, reset) and its
 * kernel did not panic; 128+n when interrupted by signal n; 1 for any other
 * end (deadline, triple fault, KVM or VMM error).
 */
function bootExitStatus(result: BootResult): number {
  const signal = interruptedBy();
  if (signal) return interruptExitCode(signal);
  return (result.exitReason === "power-off" || result.exitReason === "reset") && !result.panic ? 0 : 1;
}

export default defineCommand({
  meta: { name: "boot", description: "Boot the guest kernel in bencher-run's VMM (optionally with an initramfs and a root image)" },
  args: {
    kernel: { type: "string", description: "vmlinux or bzImage (default: the built guest kernel)", valueHint: "file" },
    initramfs: { type: "string", description: "newc cpio initramfs", valueHint: "file" },
    "guest-init": { type: "boolean", description: "Boot bencher-run's guest-init, the initramfs collect talks to (with --vsock: on port 1024 unless --cmdline has bencher.port=PORT)" },
    disk: { type: "string", description: "Root image as /dev/vda; writes go to a throw-away overlay", valueHint: "file" },
    "disk-read-only": { type: "boolean", description: "Attach the disk read-only (no overlay)" },
    cmdline: { type: "string", description: "Appended to the kernel command line" },
    vcpus: { type: "string", description: "Virtual CPUs (default 1)" },
    cpus: { type: "string", description: "Pin vCPU i to host CPU LIST[i % n] (e.g. 1, 2-3, 1,3); the VMM's other threads keep off them", valueHint: "LIST" },
    "memory-mib": { type: "string", description: `Guest memory in MiB (default 256; up to ${MAX_MEMORY_MIB} and what the host has available)` },
    timeout: { type: "string", description: "Stop the VM after this many seconds (default 600; time held by --wait-for counts)", valueHint: "s" },
    "console-log": { type: "string", description: "Save the serial console to this file", valueHint: "file" },
    vsock: { type: "string", description: "virtio-vsock bridged to Unix sockets (Firecracker's way): a guest connection to port P reaches <path>_P (collect's --socket); a host client connects to <path> and writes \"CONNECT <port>\\n\"", valueHint: "path" },
    "wait-for": { type: "string", description: "Set the VM up at once, start its vCPUs only once this path exists (collect's socket: then the two can start in any order)", valueHint: "path" },
    ...commonArgs,
  },
  async run({ args }) {
    // The command line first (exit 2), then the files and the host it names (exit 1).
    if (args["guest-init"] && args.initramfs) throw new CommandLineError("--guest-init and --initramfs: give one of them (guest-init is an initramfs)");
    if (args["disk-read-only"] && !args.disk) throw new CommandLineError("--disk-read-only: there is no --disk to attach read-only");
    const vcpus = wholeNumberIn("vcpus", args.vcpus, 1, MAX_VCPUS);
    const memoryMiB = wholeNumberIn("memory-mib", args["memory-mib"], MIN_MEMORY_MIB, MAX_MEMORY_MIB);
    const timeoutS = wholeNumberIn("timeout", args.timeout, 1, MAX_TIMEOUT_MS / 1000);
    const cpus = cpusArg(args.cpus);
    const kernel = args.kernel ? inputPath("kernel", args.kernel, "file") : findKernel();
    const userInitramfs = args.initramfs ? inputPath("initramfs", args.initramfs, "file") : undefined;
    const disk = args.disk ? inputPath("disk", args.disk, "file") : undefined;
    const consoleOut = args["console-log"] ? outputFile("console-log", args["console-log"]) : undefined;
    const vsock = args.vsock ? socketPath("vsock", args.vsock) : undefined;
    let kvmFd: number | undefined;
    try {
      // The directory the path will appear in must exist (and be seen by the stage) before the VM is made.
      const waited = args["wait-for"] ? waitedPath("wait-for", args["wait-for"]) : undefined;
      const waitFor = waited?.path;
      kvmFd = openKvm();
      const result = await withRunWorkdir({ root: args.workdir, keep: args.keep }, async (workdir) => {
        const dir = workdir.stageDir("boot");
        let initramfs = userInitramfs;
        if (args["guest-init"]) {
          initramfs = join(workdir.stageDir("guest"), "initramfs.cpio");
          writeFileSync(initramfs, guestInitramfs(), { mode: 0o644 });
        }
        // guest-init finds collect at the host port on its command line: collect's default unless the user named one.
        const portArg = args["guest-init"] && vsock && !/(^|\s)bencher\.port=/.test(args.cmdline ?? "") ? `bencher.port=${DEFAULT_VSOCK_PORT}` : undefined;
        const request: BootRequest = {
          kernel,
          initramfs,
          cmdline: [args.cmdline, portArg].filter(Boolean).join(" ") || undefined,
          vcpus: vcpus ?? 1,
          memoryMiB: memoryMiB ?? 256,
          timeoutMs: (timeoutS ?? 600) * 1000,
          kvmFd: KVM_FD_IN_STAGE,
          // The stage cannot see /sys: tell it what kind of KVM host this is.
          pvmHost: existsSync("/sys/module/kvm_pvm"),
          consoleLog: join(dir, "console.log"),
          ...(cpus ? { cpus } : {}),
          ...(vsock ? { vsockUds: vsock.path } : {}),
          ...(waitFor ? { holdUntilExists: waitFor } : {}),
        };
        if (disk) request.disk = args["disk-read-only"] ? { path: disk, readOnly: true } : { path: disk, overlay: join(dir, "overlay") };
        const booted = await callSandboxedStage<BootResult>("boot", request, {
          readOnly: [kernel, ...(initramfs ? [initramfs] : []), ...(disk ? [disk] : []), ...(waited && waited.dir !== vsock?.dir ? [waited.dir] : [])],
          writable: [dir, ...(vsock ? [vsock.dir] : [])],
          kvmFd,
        }, createReporter({ verbose: args.verbose }), (raw) => parseBootResult(raw, request.consoleLog));
        if (consoleOut && existsSync(join(dir, "console.log"))) {
          moveFile(join(dir, "console.log"), consoleOut, `--console-log ${args["console-log"]}`);
          returnFromStage(consoleOut); // the stage wrote it as its own uid
          return { ...booted, consoleLog: consoleOut };
        }
        return { ...booted, consoleLog: undefined };
      });
      printResult(args.json ?? false, { stage: "boot", ...result }, [
        `VM ended: ${result.exitReason}${result.detail ? ` (${result.detail})` : ""} after ${result.wallMs} ms${result.heldMs ? ` (held ${result.heldMs} ms before that, waiting for ${waitFor})` : ""}`,
        ...(result.panic ? [`the guest kernel panicked: ${result.panic}`] : []),
        ...(result.pinning ? [`vCPU threads on host CPU ${result.pinning.vcpuCpus.join(", ")}; VMM threads on ${result.pinning.vmmCpus ? `CPU ${formatCpuList(result.pinning.vmmCpus)}` : "the same CPUs (none left over)"}`] : []),
      ]);
      process.exitCode = bootExitStatus(result);
      if (vsock) removeSocketAndDir(vsock);
    } catch (err) {
      if (vsock) removeSocketAndDir(vsock);
      throw err;
    } finally {
      if (kvmFd !== undefined) closeSync(kvmFd);
    }
  },
});
