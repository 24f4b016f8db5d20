// Pinning a VM's vCPU threads to host CPUs: vCPU i runs on cpus[i % n], and
// the VMM's other threads (the main thread with the device loop, libuv's
// pool, V8's helpers) are kept off those CPUs when the host has any left
// over, so a benchmark in the guest never shares its CPU with the VMM.
import { readFileSync } from "node:fs";
import { formatCpuList, parseCpuList } from "./cpu-list.js";
import { getAffinity, processThreadIds, setAffinity, threadId } from "./sched-affinity.js";

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

/** This process's CPUs and the host's, for cpusProblem(). */
export function hostCpus(): HostCpus {
  return { allowed: getAffinity(), online: onlineCpus() };
}

/**
 * Moves every thread of this process onto `cpus` and returns how to put each
 * back. The calling thread goes first, so threads it starts from now on
 * (vCPU workers, libuv's pool) inherit `cpus` until they narrow themselves.
 */
export function keepProcessOn(cpus: readonly number[]): () => void {
  const before = new Map<number, number[]>();
  const move = (tid: number) => {
    try {
      before.set(tid, getAffinity(tid));
      setAffinity(cpus, tid);
    } catch (err) {
      // A thread that ended between the listing and the call is no matter.
      if (tid === 0) throw err;
    }
  };
  move(0);
  const self = threadId();
  for (const tid of processThreadIds()) if (tid !== self) move(tid);
  return () => {
    for (const [tid, cpus] of before) {
      try {
        setAffinity(cpus, tid);
      } catch {
        // ended meanwhile
      }
    }
  };
}

/** One line for logs: "vCPU 0 → CPU 1; VMM threads on CPU 0". */
export function describePinning(p: CpuPinning): string {
  const vcpus = p.vcpuCpus.map((cpu, i) => `vCPU ${i} → CPU ${cpu}`).join(", ");
  return `${vcpus}; ${p.vmmCpus ? `VMM threads kept on CPU ${formatCpuList(p.vmmCpus)}` : "no CPU left over: VMM threads share them"}`;
}
