// The guest kernel command line: ours, then the caller's, then the masks a
// nested PVM host needs (../shared/docs/kvm-on-these-machines.md).
import { layout } from "./layout.js";

export interface VirtioMmioSlot { addr: number; size: number; irq: number }

/** CPU features the nested PVM host's instruction emulator cannot run at CPL0. */
export const PVM_HOST_CPU_MASKS = [
  "smap", "smep", "xsave", "pcid", "invpcid", "fsgsbase", "popcnt", "bmi1", "bmi2", "movbe", "rdrand", "rdseed",
  "lzcnt", "abm", "erms", "fsrm", "avx", "avx2", "avx512f", "sse4_2", "sse4_1", "aes", "pclmulqdq", "cx16",
];

export function pvmHostCmdline(): string {
  // bencher_pvm_host: our kernel patch services user `syscall` from #GP/#UD/#PF.
  return `noxsave nopti mitigations=off clearcpuid=${PVM_HOST_CPU_MASKS.join(",")} bencher_pvm_host`;
}

export function buildCmdline(opts: { extra?: string; virtio: readonly VirtioMmioSlot[]; pvmHost: boolean }): string {
  // reboot=k: Linux resets through the i8042, which ends the VM.
  const parts = ["console=ttyS0", "reboot=k", "panic=-1", "i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd"];
  for (const d of opts.virtio) {
    parts.push(`virtio_mmio.device=${d.size >= 1024 && d.size % 1024 === 0 ? `${d.size / 1024}K` : d.size}@0x${d.addr.toString(16)}:${d.irq}`);
  }
  if (opts.pvmHost) parts.push(pvmHostCmdline());
  if (opts.extra && opts.extra.trim()) parts.push(opts.extra.trim());
  const cmdline = parts.join(" ");
  if (cmdline.length + 1 > layout.cmdlineMax) throw new Error(`kernel command line is ${cmdline.length} bytes, at most ${layout.cmdlineMax - 1}`);
  if (cmdline.includes("\0")) throw new Error("kernel command line contains a NUL byte");
  return cmdline;
}
