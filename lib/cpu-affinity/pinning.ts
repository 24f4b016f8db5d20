// Pinning a VM's vCPU threads to host CPUs: vCPU i runs on cpus[i % n], and
// the VMM's other threads (the main thread with the device loop, libuv's
// pool, V8's helpers) are kept off those CPUs when the host has any left
// over, so a benchmark in the guest never shares its CPU with the VMM.
// Plans and checks only: the system calls are in sched-affinity.ts.
import { readFileSync } from "node:fs";
import { CpuListError, formatCpuList, parseCpuList } from "./cpu-list.js";

export interface CpuPinning {
  /** Host CPU of each vCPU thread, by vCPU index. */
  vcpuCpus: number[];
  /** CPUs the VMM's other threads were kept to; null when none were left over (they share the vCPUs' CPUs). */
  vmmCpus: number[] | null;
}

/** What the host offers: `allowed` is this process's affinity; `online` the CPUs that exist, when known. */
export interface HostCpus {
  allowed: readonly number[];
  online?: readonly number[];
}

/**
 * Why `cpus` cannot be used here, or null when they can. One clause, no
 * flag name: "CPU 5 does not exist (this host has CPUs 0-1)".
 */
export function cpusProblem(cpus: readonly number[], host: HostCpus): string | null {
  if (cpus.length === 0) return "names no CPU";
  const allowed = new Set(host.allowed);
  for (const cpu of cpus) {
    if (host.online && !host.online.includes(cpu)) return `CPU ${cpu} does not exist or is offline (this host has CPUs ${formatCpuList(host.online)})`;
    if (!allowed.has(cpu)) return `CPU ${cpu} is not one this process may use (allowed: ${formatCpuList(host.allowed)})`;
  }
  return null;
}

/** The pinning for `vcpus` vCPUs on `cpus`, given the CPUs this process may use (checked by the caller). */
export function planPinning(cpus: readonly number[], vcpus: number, allowed: readonly number[]): CpuPinning {
  const vcpuCpus = Array.from({ length: vcpus }, (_, i) => cpus[i % cpus.length]!);
  const taken = new Set(cpus);
  const left = allowed.filter((cpu) => !taken.has(cpu));
  return { vcpuCpus, vmmCpus: left.length > 0 ? left : null };
}

/** The CPUs that exist, from /sys (absent inside a stage's sandbox: undefined then). */
export function onlineCpus(sysRoot = "/sys"): number[] | undefined {
  try {
    return parseCpuList(readFileSync(`${sysRoot}/devices/system/cpu/online`, "utf8").trim());
  } catch {
    return undefined;
  }
}

/** The CPUs this process's main thread may use (what sched_getaffinity gives it), from /proc. */
export function allowedCpus(procRoot = "/proc"): number[] {
  const status = readFileSync(`${procRoot}/self/status`, "utf8");
  const list = /^Cpus_allowed_list:\s*(\S+)$/m.exec(status);
  if (!list) throw new Error(`${procRoot}/self/status has no Cpus_allowed_list`);
  return parseCpuList(list[1]!).sort((a, b) => a - b);
}

/** This process's CPUs and the host's, for cpusProblem(). */
export function hostCpus(): HostCpus {
  return { allowed: allowedCpus(), online: onlineCpus() };
}

/** A --cpus value, parsed and checked against this host; a CpuListError says what is wrong. */
export function parseHostCpuList(text: string, host: HostCpus = hostCpus()): number[] {
  const cpus = parseCpuList(text);
  const problem = cpusProblem(cpus, host);
  if (problem) throw new CpuListError(problem);
  return cpus;
}

/** One line for logs: "vCPU 0 → CPU 1; VMM threads on CPU 0". */
export function describePinning(p: CpuPinning): string {
  const vcpus = p.vcpuCpus.map((cpu, i) => `vCPU ${i} → CPU ${cpu}`).join(", ");
  return `${vcpus}; ${p.vmmCpus ? `VMM threads kept on CPU ${formatCpuList(p.vmmCpus)}` : "no CPU left over: VMM threads share them"}`;
}
