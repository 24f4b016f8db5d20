// Steadiness: the same fixed integer loop (bench/cpu-loop) N times straight
// on the host and N times inside the VM (one pipeline run whose command loops
// over the binary), each side's coefficient of variation, and issue 8's rule:
// the VM's CV may be at most one percentage point worse than the host's.
// With two or more CPUs both sides also run pinned to the same CPU (the last
// this process may use): the host side through `taskset -c`, the VM through
// `--cpus` (the vCPU thread on that CPU, the VMM's other threads off it).
// First of all the VM runs with `--vcpus 2 --quiet-cpus` (the loop on a
// tickless vCPU, vCPU 0 keeping the guest kernel's housekeeping): the setup
// issue 8 recommends for steady timings, so the verdict compares it with the
// host run directly when it ran; else pinned with pinned.
import { join } from "node:path";
import { cpuLoopBinary, parseCpuLoopOutput } from "../cpu-loop/build.js";
import { cachedImage, cpuLoopImage } from "../lib/images.js";
import { measureCommand } from "../lib/measure.js";
import { PIPELINE_UNAVAILABLE, pipelineAvailable, runPipelineMeasured } from "../lib/pipeline.js";
import { coefficientOfVariation, median, steadyEnough, STEADINESS_ALLOWANCE } from "../lib/stats.js";
import { emptyResult, type BenchContext, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatPercent, formatSeconds } from "../lib/table.js";
import { allowedCpus } from "../../lib/cpu-affinity/pinning.js";

const FULL_REPEATS = 30;
const QUICK_REPEATS = 5;
const TASKSET = "/usr/bin/taskset";

export interface SteadinessSide {
  /** Each run's elapsed time as the loop itself measured it, ns. */
  ns: number[];
  cv: number;
  medianNs: number;
}

function side(ns: number[]): SteadinessSide {
  return { ns, cv: coefficientOfVariation(ns), medianNs: median(ns) };
}

/** The CPU both sides are pinned to: the last this process may use, when it may use two or more (one is left for everything else). */
export function pinningCpu(allowed: readonly number[] = allowedCpus()): number | undefined {
  return allowed.length >= 2 ? allowed.at(-1) : undefined;
}

/** `repeats` runs of the loop on the host, alternating unpinned and (when `cpu` is set) pinned with taskset, so both see the same machine state. */
export async function hostRuns(binary: string, repeats: number, cpu?: number): Promise<{ free: number[]; pinned: number[] }> {
  const free: number[] = [];
  const pinned: number[] = [];
  for (let i = 0; i < repeats; i++) {
    free.push(...parseCpuLoopOutput((await measureCommand(binary, [])).stdout));
    if (cpu !== undefined) pinned.push(...parseCpuLoopOutput((await measureCommand(TASKSET, ["-c", String(cpu), binary])).stdout));
  }
  return { free, pinned };
}

export const steadinessSuite: Suite = {
  name: "steadiness",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const repeats = ctx.quick ? QUICK_REPEATS : FULL_REPEATS;
    const binary = cpuLoopBinary();
    const cpu = pinningCpu();
    if (cpu === undefined) result.notes.push("steadiness: one CPU only, so no pinned runs (--cpus needs a CPU left over for the VMM)");
    ctx.log(`steadiness: cpu-loop ${repeats} times on the host${cpu === undefined ? "" : `, unpinned and with taskset -c ${cpu}`}`);
    const hostSamples = await hostRuns(binary, repeats, cpu);
    const host = side(hostSamples.free);
    const hostPinned = cpu === undefined ? undefined : side(hostSamples.pinned);

    type Kind = "quiet" | "pinned" | "free";
    const vm: Record<Kind, SteadinessSide | undefined> = { quiet: undefined, pinned: undefined, free: undefined };
    const vmWhy: Record<Kind, string | undefined> = { quiet: undefined, pinned: undefined, free: undefined };
    const runOptions: Record<Kind, object> = { quiet: { vcpus: 2, quietCpus: true }, pinned: cpu === undefined ? {} : { cpus: [cpu] }, free: {} };
    const available = await pipelineAvailable();
    // In the order of the verdict's preference, as far as the boot budget allows.
    for (const kind of cpu === undefined ? (["quiet", "free"] as const) : (["quiet", "pinned", "free"] as const)) {
      vmWhy[kind] = available ? ctx.bootsDenied(1) : PIPELINE_UNAVAILABLE;
      if (vmWhy[kind] === undefined) {
        try {
          ctx.log(`steadiness: cpu-loop ${repeats} times in the VM (one pipeline run${kind === "pinned" ? `, --cpus ${cpu}` : kind === "quiet" ? ", --vcpus 2 --quiet-cpus" : ""})`);
          const image = await cachedImage(`cpu-loop-${repeats}-${binary.split("/").at(-2)}`, () => cpuLoopImage(binary, repeats), ctx.log);
          const r = await runPipelineMeasured({ image, ...runOptions[kind] });
          const ns = parseCpuLoopOutput(r.stdout);
          if (r.exitCode !== 0 || ns.length !== repeats) throw new Error(`exit code ${r.exitCode}, ${ns.length} of ${repeats} timings${r.error ? `: ${r.error}` : ""}`);
          vm[kind] = side(ns);
        } catch (err) {
          vmWhy[kind] = `failed: ${(err as Error).message.split("\n")[0]}`;
        }
      }
    }

    // The quiet-CPU run against the host directly; else like with like: pinned VM against pinned host.
    const [hostRef, vmRef] = vm.quiet ? [host, vm.quiet] : vm.pinned && hostPinned ? [hostPinned, vm.pinned] : [host, vm.free];
    const verdict = vmRef ? (steadyEnough(hostRef.cv, vmRef.cv) ? "yes" : "NO") : "–";
    const compared = vmRef ? (vmRef === vm.quiet ? " (--quiet-cpus vs host)" : vmRef === vm.pinned ? " (pinned vs pinned)" : " (unpinned)") : "";
    // A side that did not run shows dashes; the notes below the table say why.
    const row = (name: string, s: SteadinessSide | undefined) =>
      s ? [name, String(s.ns.length), formatSeconds(s.medianNs / 1e9), formatPercent(s.cv)] : [name, "–", "–", "–"];
    const rows = [row("host, directly", host)];
    if (cpu !== undefined) rows.push(row(`host, taskset -c ${cpu}`, hostPinned));
    rows.push(row("in the VM, --vcpus 2 --quiet-cpus", vm.quiet));
    rows.push(row("in the VM (bencher-run pipeline)", vm.free));
    if (cpu !== undefined) rows.push(row(`in the VM, --cpus ${cpu}`, vm.pinned));
    result.tables.push({
      title: `Steadiness: cpu-loop (fixed integer work), coefficient of variation; VM CV ≤ host CV + ${STEADINESS_ALLOWANCE * 100} point${compared}: ${verdict}`,
      headers: ["where", "runs", "median", "CV"],
      rows,
      data: {
        host, hostPinned: hostPinned ?? null, vm: vm.free ?? null, vmPinned: vm.pinned ?? null, vmQuiet: vm.quiet ?? null, cpu: cpu ?? null,
        vmSkipped: vmWhy.free ?? null, vmPinnedSkipped: vmWhy.pinned ?? null, vmQuietSkipped: vmWhy.quiet ?? null,
        allowance: STEADINESS_ALLOWANCE, steadyEnough: vmRef ? steadyEnough(hostRef.cv, vmRef.cv) : null, binary: join(binary),
      },
    });
    for (const kind of ["quiet", "pinned", "free"] as const) {
      if (vmWhy[kind]) result.notes.push(`steadiness, in the VM${kind === "pinned" ? ` with --cpus ${cpu}` : kind === "quiet" ? " with --vcpus 2 --quiet-cpus" : ""}: ${vmWhy[kind]}`);
    }
    return result;
  },
};
