// The guest kernel command line, including what a nested PVM host needs.
// Facts behind each piece: ../shared/docs/kvm-on-these-machines.md and
// kernel/README.md.
import { existsSync } from "node:fs";

/** /dev/kvm here is the nested kvm_pvm module, not hardware virtualization. */
export function isNestedPvmHost(): boolean {
  return existsSync("/sys/module/kvm_pvm");
}

/** CPU features whose instructions the host's CPL0 emulator lacks (or that the kernel would use at CPL0 and fail on). */
const PVM_CLEARED_CPU_FEATURES = [
  "smap", "smep", "xsave", "pcid", "invpcid", "fsgsbase", "popcnt", "bmi1", "bmi2", "movbe",
  "rdrand", "rdseed", "lzcnt", "abm", "erms", "fsrm", "avx", "avx2", "avx512f", "sse4_2",
  "sse4_1", "aes", "pclmulqdq", "cx16",
];

/**
 * Arguments added only on a nested PVM host: `bencher_pvm_host` switches on
 * our kernel patch (user syscalls serviced from exception handlers), the rest
 * keep the guest kernel away from instructions the host cannot emulate.
 */
export const PVM_HOST_ARGS: readonly string[] = [
  "bencher_pvm_host",
  "noxsave",
  "nopti",
  "mitigations=off",
  // Write-protecting the kernel image splits and rewrites its page tables:
  // 5.5 s of emulated work per boot here, for hardening a one-workload guest
  // does not need.
  "rodata=off",
  `clearcpuid=${PVM_CLEARED_CPU_FEATURES.join(",")}`,
];

/** Always: serial console, reboot through the keyboard controller (the VMM ends the VM on reset), no hang on panic. */
export const BASE_ARGS: readonly string[] = ["console=ttyS0", "reboot=k", "panic=-1", "quiet"];

export function guestCmdline(extra: readonly string[] = [], pvmHost = isNestedPvmHost()): string {
  return [...BASE_ARGS, ...(pvmHost ? PVM_HOST_ARGS : []), ...extra].join(" ");
}
