// Steadiness: the same fixed integer loop (bench/cpu-loop) N times straight
// on the host and N times inside the VM (one pipeline run whose command loops
// over the binary), each side's coefficient of variation, and issue 8's rule:
// the VM's CV may be at most one percentage point worse than the host's.
import { join } from "node:path";
import { cpuLoopBinary, parseCpuLoopOutput } from "../cpu-loop/build.js";
import { cachedImage, cpuLoopImage } from "../lib/images.js";
import { measureCommand } from "../lib/measure.js";
import { PIPELINE_UNAVAILABLE, pipelineAvailable, runPipelineMeasured } from "../lib/pipeline.js";
import { coefficientOfVariation, median, steadyEnough, STEADINESS_ALLOWANCE } from "../lib/stats.js";
import { emptyResult, type BenchContext, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatPercent, formatSeconds } from "../lib/table.js";

const FULL_REPEATS = 30;
const QUICK_REPEATS = 5;

export interface SteadinessSide {
  /** Each run's elapsed time as the loop itself measured it, ns. */
  ns: number[];
  cv: number;
  medianNs: number;
}

function side(ns: number[]): SteadinessSide {
  return { ns, cv: coefficientOfVariation(ns), medianNs: median(ns) };
}

export async function hostRuns(binary: string, repeats: number): Promise<number[]> {
  const ns: number[] = [];
  for (let i = 0; i < repeats; i++) ns.push(...parseCpuLoopOutput((await measureCommand(binary, [])).stdout));
  return ns;
}

export const steadinessSuite: Suite = {
  name: "steadiness",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const repeats = ctx.quick ? QUICK_REPEATS : FULL_REPEATS;
    const binary = cpuLoopBinary();
    ctx.log(`steadiness: cpu-loop ${repeats} times on the host`);
    const host = side(await hostRuns(binary, repeats));

    let vm: SteadinessSide | undefined;
    let vmWhy: string | undefined;
    if (!(await pipelineAvailable())) vmWhy = PIPELINE_UNAVAILABLE;
    else if (!ctx.takeBoots(1)) vmWhy = "skipped: needs 1 boot, over the boot budget";
    else {
      try {
        ctx.log(`steadiness: cpu-loop ${repeats} times in the VM (one pipeline run)`);
        const image = await cachedImage(`cpu-loop-${repeats}-${binary.split("/").at(-2)}`, () => cpuLoopImage(binary, repeats), ctx.log);
        const r = await runPipelineMeasured({ image });
        const ns = parseCpuLoopOutput(r.stdout);
        if (r.exitCode !== 0 || ns.length !== repeats) throw new Error(`exit code ${r.exitCode}, ${ns.length} of ${repeats} timings`);
        vm = side(ns);
      } catch (err) {
        vmWhy = `failed: ${(err as Error).message.split("\n")[0]}`;
      }
    }

    const verdict = vm ? (steadyEnough(host.cv, vm.cv) ? "yes" : "NO") : "–";
    const row = (name: string, s: SteadinessSide | undefined) =>
      s ? [name, String(s.ns.length), formatSeconds(s.medianNs / 1e9), formatPercent(s.cv)] : [name, "–", "–", "–"];
    result.tables.push({
      title: `Steadiness: cpu-loop (fixed integer work), coefficient of variation; VM CV ≤ host CV + ${STEADINESS_ALLOWANCE * 100} point: ${verdict}`,
      headers: ["where", "runs", "median", "CV"],
      rows: [row("host, directly", host), row("in the VM (bencher-run pipeline)", vm)],
      data: { host, vm: vm ?? null, vmSkipped: vmWhy ?? null, allowance: STEADINESS_ALLOWANCE, steadyEnough: vm ? steadyEnough(host.cv, vm.cv) : null, binary: join(binary) },
    });
    if (vmWhy) result.notes.push(`steadiness, in the VM: ${vmWhy}`);
    return result;
  },
};
