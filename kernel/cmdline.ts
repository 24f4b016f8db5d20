// The guest kernel command line, including what a nested PVM host needs.
// Facts behind each piece: ../shared/docs/kvm-on-these-machines.md and
// kernel/README.md.
import { existsSync } from "node:fs";

/** /dev/kvm here is the nested kvm_pvm module, not hardware virtualization. */
export function isNestedPvmHost(): boolean {
  return existsSync("/sys/module/kvm_pvm");
}

/**
 * CPU features the guest kernel must not use on a nested PVM host: their
 * instructions fail in the host's CPL0 emulator (cmpxchg16b, popcnt,
 * clac/stac, ...) or trap to a slow VMM assist. Most important first:
 * Linux 6.1 reads `clearcpuid=` into a 128-byte buffer and silently drops
 * whatever does not fit (see CLEARCPUID_MAX).
 * Not xsave: user mode runs there with the host's CPUID and XCR0 (AVX on,
 * whatever the guest kernel sets), so only a kernel that switches tasks'
 * state with XSAVE keeps one task's vector registers from the next (with
 * fxsave, glibc's AVX string functions saw other tasks' upper YMM halves).
 */
export const PVM_CLEARED_CPU_FEATURES: readonly string[] = [
  "cx16", "popcnt",
  // The VMM assists XSAVE and XRSTOR in their standard form only.
  "xsaveopt", "xsavec", "smap", "smep", "pcid", "invpcid", "fsgsbase", "movbe",
  "rdrand", "rdseed", "bmi1", "bmi2", "sse4_2", "sse4_1", "aes", "pclmulqdq",
  // erms/fsrm make the kernel copy and clear memory with `rep movsb/stosb`,
  // which the host emulates one byte per step: without them it uses
  // `rep movsq/stosq`, 8 bytes per step. Measured in a guest moving 2 MB
  // through a pipe: 11-23 s with them, 5-6 s without; guest output over
  // vsock 24-27 s vs 6 s. (Also clearing rep_good, for unrolled `mov`
  // loops, was no better: 6.5-11 s.)
  "erms", "fsrm",
];

/** arch/x86/kernel/cpu/common.c: `char arg[128]` for the clearcpuid value. */
export const CLEARCPUID_MAX = 127;

/**
 * Arguments added only on a nested PVM host: `bencher_pvm_host` switches on
 * our kernel patch (user syscalls serviced from exception handlers), the rest
 * keep the guest kernel away from instructions the host cannot emulate.
 */
export const PVM_HOST_ARGS: readonly string[] = [
  "bencher_pvm_host",
  "nopti",
  "mitigations=off",
  // Write-protecting the kernel image splits and rewrites its page tables:
  // 5.5 s of emulated work per boot here, for hardening a one-workload guest
  // does not need.
  "rodata=off",
  // A 1-vCPU guest rewrites every `lock` prefix in its text at boot (the
  // SMP-to-UP alternatives), one emulated text_poke_early per site: 2.4 s
  // here, 0.7 s without. The prefixes staying costs nothing measurable.
  "noreplace-smp",
  // The per-CPU areas on 4 KiB pages instead of one 2 MiB block per CPU,
  // which the kernel zeroes whole before handing back the unused part:
  // setup_per_cpu_areas 1.5 s -> 0.4 s here.
  "percpu_alloc=page",
  `clearcpuid=${PVM_CLEARED_CPU_FEATURES.join(",")}`,
];

/** Every boot of our kernel, whichever VMM: serial console, reboot through the keyboard controller (the VMM ends the VM on reset), no hang on panic. */
export const BASE_ARGS: readonly string[] = ["console=ttyS0", "reboot=k", "panic=-1"];

/**
 * QEMU cannot assist xsave/xrstor, so under QEMU on a nested PVM host the
 * guest kernel switches FPU state with fxsave: x87 and SSE only. User code
 * that uses AVX there can see another task's upper YMM halves.
 */
export const QEMU_PVM_HOST_ARGS: readonly string[] = ["noxsave"];

/** The command line for QEMU, the reference VMM of tests and benchmarks (our VMM builds its own: stages/boot/loader/cmdline.ts). */
export function guestCmdline(extra: readonly string[] = [], pvmHost = isNestedPvmHost()): string {
  return [...BASE_ARGS, "quiet", ...(pvmHost ? [...PVM_HOST_ARGS, ...QEMU_PVM_HOST_ARGS] : []), ...extra].join(" ");
}
