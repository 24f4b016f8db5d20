// QEMU's microvm machine as a reference VMM: tests boot our kernel with it to
// check the guest side independently of our own VMM, and benchmarks compare
// against it. Not used by the product itself.
import { execa } from "execa";
import { isNestedPvmHost } from "../../kernel/cmdline.js";

export interface QemuBootOptions {
  kernel: string;
  initramfs: string;
  cmdline: string;
  memoryMiB?: number;
  vcpus?: number;
  timeoutMs?: number;
  /** Use KVM (default) or QEMU's software CPU (tcg). */
  accel?: "kvm" | "tcg";
}

export interface QemuBootResult {
  console: string;
  exitCode: number | undefined;
  timedOut: boolean;
  wallMs: number;
}

/** CPU model for KVM on a nested PVM host: an Intel vendor keeps Linux off the AMD fnclex path the host cannot emulate. */
export function qemuCpuModel(accel: "kvm" | "tcg" = "kvm"): string {
  if (accel === "tcg") return "max";
  return isNestedPvmHost() ? "qemu64,vendor=GenuineIntel,-xsave,-popcnt,-cx16" : "host";
}

export async function bootWithQemu(options: QemuBootOptions): Promise<QemuBootResult> {
  const accel = options.accel ?? "kvm";
  const started = Date.now();
  const result = await execa(
    "qemu-system-x86_64",
    [
      ...(accel === "kvm" ? ["-enable-kvm"] : ["-accel", "tcg"]),
      "-M", "microvm,acpi=off",
      "-cpu", qemuCpuModel(accel),
      "-m", String(options.memoryMiB ?? 256),
      "-smp", String(options.vcpus ?? 1),
      "-kernel", options.kernel,
      "-initrd", options.initramfs,
      "-append", options.cmdline,
      "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
    ],
    { reject: false, timeout: options.timeoutMs ?? 600_000, stdin: "ignore", all: true, stripFinalNewline: false },
  );
  return {
    console: result.all ?? "",
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    wallMs: Date.now() - started,
  };
}
