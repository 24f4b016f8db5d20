// Steadiness: the same fixed integer loop (bench/cpu-loop) N times straight
// on the host and N times inside the VM (one pipeline run whose command loops
// over the binary), each side's coefficient of variation, and issue 8's rule:
// the VM's CV may be at most one percentage point worse than the host's.
// With two or more CPUs both sides also run pinned to the same CPU (the last
// this process may use): the host side through `taskset -c`, the VM through
// `--cpus` (the vCPU thread on that CPU, the VMM's other threads off it).
// The verdict compares pinned with pinned when there is a pinned VM run.
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

    const vm: Record<"pinned" | "free", SteadinessSide | undefined> = { pinned: undefined, free: undefined };
    const vmWhy: Record<"pinned" | "free", string | undefined> = { pinned: undefined, free: undefined };
    const available = await pipelineAvailable();
    // The pinned run first: it is the one the verdict uses; the unpinned one only if the boot budget allows.
    for (const kind of cpu === undefined ? (["free"] as const) : (["pinned", "free"] as const)) {
      if (!available) vmWhy[kind] = PIPELINE_UNAVAILABLE;
      else if (!ctx.takeBoots(1)) vmWhy[kind] = "skipped: needs 1 boot, over the boot budget";
      else {
        try {
          ctx.log(`steadiness: cpu-loop ${repeats} times in the VM (one pipeline run${kind === "pinned" ? `, --cpus ${cpu}` : ""})`);
          const image = await cachedImage(`cpu-loop-${repeats}-${binary.split("/").at(-2)}`, () => cpuLoopImage(binary, repeats), ctx.log);
          const r = await runPipelineMeasured({ image, ...(kind === "pinned" ? { cpus: [cpu!] } : {}) });
          const ns = parseCpuLoopOutput(r.stdout);
          if (r.exitCode !== 0 || ns.length !== repeats) throw new Error(`exit code ${r.exitCode}, ${ns.length} of ${repeats} timings${r.error ? `: ${r.error}` : ""}`);
          vm[kind] = side(ns);
        } catch (err) {
          vmWhy[kind] = `failed: ${(err as Error).message.split("\n")[0]}`;
        }
      }
    }

    // Like with like: pinned VM against pinned host when there is one.
    const [hostRef, vmRef] = vm.pinned && hostPinned ? [hostPinned, vm.pinned] : [host, vm.free];
    const verdict = vmRef ? (steadyEnough(hostRef.cv, vmRef.cv) ? "yes" : "NO") : "–";
    const compared = vmRef ? (vmRef === vm.pinned ? " (pinned vs pinned)" : " (unpinned)") : "";
    // A side that did not run shows dashes; the notes below the table say why.
    const row = (name: string, s: SteadinessSide | undefined) =>
      s ? [name, String(s.ns.length), formatSeconds(s.medianNs / 1e9), formatPercent(s.cv)] : [name, "–", "–", "–"];
    const rows = [row("host, directly", host)];
    if (cpu !== undefined) rows.push(row(`host, taskset -c ${cpu}`, hostPinned));
    rows.push(row("in the VM (bencher-run pipeline)", vm.free));
    if (cpu !== undefined) rows.push(row(`in the VM, --cpus ${cpu}`, vm.pinned));
    result.tables.push({
      title: `Steadiness: cpu-loop (fixed integer work), coefficient of variation; VM CV ≤ host CV + ${STEADINESS_ALLOWANCE * 100} point${compared}: ${verdict}`,
      headers: ["where", "runs", "median", "CV"],
      rows,
      data: {
        host, hostPinned: hostPinned ?? null, vm: vm.free ?? null, vmPinned: vm.pinned ?? null, cpu: cpu ?? null,
        vmSkipped: vmWhy.free ?? null, vmPinnedSkipped: vmWhy.pinned ?? null,
        allowance: STEADINESS_ALLOWANCE, steadyEnough: vmRef ? steadyEnough(hostRef.cv, vmRef.cv) : null, binary: join(binary),
      },
    });
    for (const kind of ["pinned", "free"] as const) {
      if (vmWhy[kind]) result.notes.push(`steadiness, in the VM${kind === "pinned" ? ` with --cpus ${cpu}` : ""}: ${vmWhy[kind]}`);
    }
    return result;
  },
};
