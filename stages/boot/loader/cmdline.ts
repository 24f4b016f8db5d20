// The guest kernel command line: ours, the virtio-mmio devices, the nested
// PVM host's masks (from kernel/cmdline.ts, one list for QEMU and us), the
// quiet-CPU arguments when asked for, then the caller's.
import { BASE_ARGS, PVM_HOST_ARGS } from "../../../kernel/cmdline.js";
import { layout } from "./layout.js";

export interface VirtioMmioSlot { addr: number; size: number; irq: number }

// BASE_ARGS has reboot=k: Linux resets through the i8042, which ends the VM.
// The i8042 options keep its probe short (no mouse port, no multiplexer, no PnP).
export const VMM_BASE_ARGS = [...BASE_ARGS, "i8042.noaux", "i8042.nomux", "i8042.nopnp", "i8042.dumbkbd"];

export function virtioMmioArg(d: VirtioMmioSlot): string {
  const size = d.size % 1024 === 0 ? `${d.size / 1024}K` : String(d.size);
  return `virtio_mmio.device=${size}@0x${d.addr.toString(16)}:${d.irq}`;
}

/**
 * Quiet CPUs (BootRequest.quietCpus): vCPU 0 keeps the guest kernel's
 * housekeeping (the periodic tick, RCU callbacks, device interrupts);
 * vCPUs 1..n-1 run without a timer tick while one task runs (nohz_full,
 * the kernel has CONFIG_NO_HZ_FULL), and guest-init keeps the command on
 * them (bencher.cpus, guest-init/PROTOCOL.md). Each tick interrupts the
 * benchmark: on a nested PVM host, where guest-kernel code is emulated, a
 * tick costs about 2 ms; on hardware KVM microseconds.
 */
export function quietCpuArgs(vcpus: number): string[] {
  if (!Number.isSafeInteger(vcpus) || vcpus < 2) throw new Error(`quiet CPUs need at least 2 vCPUs (vCPU 0 keeps the housekeeping), not ${vcpus}`);
  const quiet = vcpus === 2 ? "1" : `1-${vcpus - 1}`;
  return [`nohz_full=${quiet}`, `rcu_nocbs=${quiet}`, "irqaffinity=0", `bencher.cpus=${quiet}`];
}

export function buildCmdline(opts: { extra?: string; virtio: readonly VirtioMmioSlot[]; pvmHost: boolean; quietCpusOf?: number }): string {
  const parts = [...VMM_BASE_ARGS, ...opts.virtio.map(virtioMmioArg)];
  if (opts.pvmHost) parts.push(...PVM_HOST_ARGS);
  if (opts.quietCpusOf !== undefined) parts.push(...quietCpuArgs(opts.quietCpusOf));
  if (opts.extra && opts.extra.trim()) parts.push(opts.extra.trim());
  const cmdline = parts.join(" ");
  if (cmdline.length + 1 > layout.cmdlineMax) throw new Error(`kernel command line is ${cmdline.length} bytes, at most ${layout.cmdlineMax - 1}`);
  if (cmdline.includes("\0")) throw new Error("kernel command line contains a NUL byte");
  return cmdline;
}
