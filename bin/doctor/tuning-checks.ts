// Host settings that make benchmark timings jitter, read from /proc and /sys
// under `root` (a fake tree in tests). Advice, never failures: each check
// shows the current value and, when it is not what steady benchmarks want,
// the exact command that changes it (until the next reboot). A setting this
// kernel or VM does not expose is "n/a", not an error.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatCpuList, parseCpuList } from "../../lib/cpu-affinity/cpu-list.js";
import type { CheckResult } from "./check.js";

/** The trimmed content of root/path, or null when it cannot be read. */
function read(root: string, path: string): string | null {
  try {
    return readFileSync(join(root, path), "utf8").trim();
  } catch {
    return null;
  }
}

/** The selected word of a sysfs choice list: "always [madvise] never" → "madvise". */
export function selected(choices: string): string {
  return /\[([^\]]+)\]/.exec(choices)?.[1] ?? choices;
}

const notAvailable = (name: string, what: string): CheckResult => ({ name, status: "n/a", value: null, detail: `not available (${what})` });

/** Whether any swap is in use: /proc/swaps has a line beyond its header. */
function hasSwap(root: string): boolean | null {
  const swaps = read(root, "proc/swaps");
  return swaps === null ? null : swaps.split("\n").length > 1;
}

export const SWAPPINESS_MAX = 10;

export function checkSwappiness(root = "/"): CheckResult {
  const name = "vm.swappiness";
  const value = read(root, "proc/sys/vm/swappiness");
  if (value === null) return notAvailable(name, "no /proc/sys/vm/swappiness");
  if (Number(value) <= SWAPPINESS_MAX) return { name, status: "ok", value, detail: value };
  if (hasSwap(root) === false) return { name, status: "ok", value, detail: `${value} (no swap in use, so nothing can be swapped out)` };
  return {
    name, status: "warn", value,
    detail: `${value}: the kernel may swap out a benchmark's (or the VMM's) memory under pressure`,
    fix: `sudo sysctl -w vm.swappiness=${SWAPPINESS_MAX}`,
  };
}

const THP = "sys/kernel/mm/transparent_hugepage";

/** `madvise` gives huge pages only to memory that asks (the VMM's guest RAM): no khugepaged churn elsewhere. */
export function checkThpEnabled(root = "/"): CheckResult {
  const name = "transparent huge pages";
  const raw = read(root, `${THP}/enabled`);
  if (raw === null) return notAvailable(name, `no /${THP}/enabled: kernel without THP`);
  const value = selected(raw);
  const fix = `echo madvise | sudo tee /${THP}/enabled`;
  if (value === "madvise") return { name, status: "ok", value, detail: "madvise (huge pages only where asked for, e.g. guest memory)" };
  if (value === "always") return { name, status: "warn", value, detail: "always: khugepaged rearranges every process's memory in the background, which shows as jitter", fix };
  return { name, status: "warn", value, detail: `${value}: guest memory cannot get huge pages (more TLB misses in the guest)`, fix };
}

/** `always` makes page faults stall on memory compaction. */
export function checkThpDefrag(root = "/"): CheckResult {
  const name = "transparent huge pages defrag";
  const raw = read(root, `${THP}/defrag`);
  if (raw === null) return notAvailable(name, `no /${THP}/defrag: kernel without THP`);
  const value = selected(raw);
  if (value !== "always") return { name, status: "ok", value, detail: value };
  return {
    name, status: "warn", value,
    detail: "always: a page fault may stall while the kernel compacts memory",
    fix: `echo defer+madvise | sudo tee /${THP}/defrag`,
  };
}

export const PERF_PARANOID_MAX = 1;

/** ≤ 1 lets an unprivileged benchmark (or perf stat beside it) count CPU events, kernel included. */
export function checkPerfEventParanoid(root = "/"): CheckResult {
  const name = "kernel.perf_event_paranoid";
  const value = read(root, "proc/sys/kernel/perf_event_paranoid");
  if (value === null) return notAvailable(name, "no /proc/sys/kernel/perf_event_paranoid: kernel without perf events");
  if (Number(value) <= PERF_PARANOID_MAX) return { name, status: "ok", value, detail: value };
  return {
    name, status: "warn", value,
    detail: `${value}: unprivileged benchmarks cannot count CPU events (perf stat, hardware counters)`,
    fix: `sudo sysctl -w kernel.perf_event_paranoid=${PERF_PARANOID_MAX}`,
  };
}

const CPU = "sys/devices/system/cpu";

/** The frequency governor of every CPU that has one; `performance` keeps clocks from wandering between runs. */
export function checkGovernor(root = "/"): CheckResult {
  const name = "CPU frequency governor";
  let cpus: string[];
  try {
    cpus = readdirSync(join(root, CPU)).filter((d) => /^cpu\d+$/.test(d));
  } catch {
    cpus = [];
  }
  const governors = new Map<string, number[]>();
  for (const cpu of cpus) {
    const g = read(root, `${CPU}/${cpu}/cpufreq/scaling_governor`);
    if (g !== null) governors.set(g, [...(governors.get(g) ?? []), Number(cpu.slice(3))]);
  }
  if (governors.size === 0) return notAvailable(name, "no cpufreq: the hypervisor or firmware sets the clock");
  const value = [...governors].map(([g, on]) => (governors.size === 1 ? g : `${g} on CPU ${formatCpuList(on)}`)).join(", ");
  if (governors.size === 1 && governors.has("performance")) return { name, status: "ok", value, detail: value };
  return {
    name, status: "warn", value,
    detail: `${value}: the clock follows the load, so the same work takes different times`,
    fix: `echo performance | sudo tee /${CPU}/cpu*/cpufreq/scaling_governor`,
  };
}

/** Turbo (Intel: intel_pstate/no_turbo; others: cpufreq/boost) lets the clock rise with temperature headroom, which varies. */
export function checkBoost(root = "/"): CheckResult {
  const name = "CPU turbo/boost";
  const noTurbo = read(root, `${CPU}/intel_pstate/no_turbo`);
  if (noTurbo !== null) {
    if (noTurbo === "1") return { name, status: "ok", value: "off", detail: "off (intel_pstate no_turbo=1)" };
    return { name, status: "warn", value: "on", detail: "on: the clock depends on temperature and on what other cores do", fix: `echo 1 | sudo tee /${CPU}/intel_pstate/no_turbo` };
  }
  const boost = read(root, `${CPU}/cpufreq/boost`);
  if (boost !== null) {
    if (boost === "0") return { name, status: "ok", value: "off", detail: "off (cpufreq boost=0)" };
    return { name, status: "warn", value: "on", detail: "on: the clock depends on temperature and on what other cores do", fix: `echo 0 | sudo tee /${CPU}/cpufreq/boost` };
  }
  return notAvailable(name, "neither intel_pstate/no_turbo nor cpufreq/boost is exposed");
}

/** Two hardware threads of one core share its execution units: a sibling's work slows the benchmark. */
export function checkSmt(root = "/"): CheckResult {
  const name = "SMT (hyper-threading)";
  const control = read(root, `${CPU}/smt/control`);
  if (control === null) return notAvailable(name, `no /${CPU}/smt/control`);
  if (control !== "on") return { name, status: "ok", value: control, detail: control === "notsupported" ? "not supported by this CPU (one thread per core)" : control };
  return {
    name, status: "warn", value: control,
    detail: "on: sibling threads share a core; give --cpus CPUs of different cores (lscpu -e), or turn SMT off",
    fix: `echo off | sudo tee /${CPU}/smt/control`,
  };
}

/** The NMI watchdog interrupts every CPU periodically (and holds a perf counter). */
export function checkNmiWatchdog(root = "/"): CheckResult {
  const name = "kernel.nmi_watchdog";
  const value = read(root, "proc/sys/kernel/nmi_watchdog");
  if (value === null) return notAvailable(name, "no /proc/sys/kernel/nmi_watchdog");
  if (value === "0") return { name, status: "ok", value, detail: "0 (off)" };
  return { name, status: "warn", value, detail: `${value}: periodic NMIs on every CPU, and one hardware counter taken`, fix: "sudo sysctl -w kernel.nmi_watchdog=0" };
}

/** Whether --cpus can keep the VMM's own threads off the vCPUs' CPUs: that needs a CPU left over. */
export function checkCpusForPinning(root = "/"): CheckResult {
  const name = "CPUs for --cpus";
  const status = read(root, "proc/self/status");
  const list = status === null ? null : /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1];
  if (!list) return notAvailable(name, "no Cpus_allowed_list in /proc/self/status");
  const cpus = parseCpuList(list).sort((a, b) => a - b);
  const isolated = read(root, `${CPU}/isolated`) ?? "";
  const iso = isolated ? `; isolated from the scheduler: ${isolated}` : "";
  if (cpus.length < 2) {
    return { name, status: "warn", value: list, detail: `only CPU ${list} is usable: pinned vCPUs share it with the VMM's own threads${iso}`, fix: "run on a host (or cgroup/cpuset) with at least 2 CPUs" };
  }
  const last = cpus.at(-1)!;
  return {
    name, status: "ok", value: list,
    detail: `${cpus.length} usable (${list}): e.g. --cpus ${last} runs the vCPU on CPU ${last} and the VMM on ${formatCpuList(cpus.slice(0, -1))}${iso}`,
  };
}

/** Every tuning check, in the order doctor prints them. */
export function tuningChecks(root = "/"): CheckResult[] {
  return [
    checkCpusForPinning(root),
    checkGovernor(root),
    checkBoost(root),
    checkSmt(root),
    checkSwappiness(root),
    checkThpEnabled(root),
    checkThpDefrag(root),
    checkPerfEventParanoid(root),
    checkNmiWatchdog(root),
  ];
}
