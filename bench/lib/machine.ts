// The machine a table was measured on, printed above it (the README quotes both).
import { existsSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";

export interface MachineInfo {
  cpu: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  kvm: string;
  node: string;
  date: string;
}

export function describeMachine(): MachineInfo {
  const kvm = !existsSync("/dev/kvm")
    ? "no /dev/kvm"
    : existsSync("/sys/module/kvm_pvm")
      ? "nested kvm_pvm (guest kernel emulated at CPL0)"
      : "hardware KVM";
  return {
    cpu: cpus()[0]?.model.trim() ?? "unknown",
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    kvm,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cpus} CPUs, ${m.memoryGiB} GiB, Linux ${m.kernel}, ${m.kvm}, Node ${m.node}, ${m.date}`;
}
