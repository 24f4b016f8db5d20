// The whole pipeline (image → unpack → mkrootfs → boot → collect) as the
// end-to-end, steadiness and concurrency benchmarks run it: one call of
// runPipeline(options) from bin/pipeline-run.ts, in a child process of its
// own (bench/lib/pipeline-child.ts) so its time and peak memory are measured
// like every other process here. Until bin/pipeline-run.ts exists, those
// benchmarks print "skipped: pipeline not available".
import { existsSync } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../lib/paths.js";
import { spawnMeasured } from "./measure.js";
import type { Sample } from "./suite.js";

/** What the benchmarks ask of runPipeline. */
export interface PipelineOptions {
  /** An OCI layout directory (or anything `bencher-run unpack` accepts). */
  image: string;
  /** Host CPUs for the vCPU threads (`--cpus`). */
  cpus?: number[];
  vcpus?: number;
  /** `--quiet-cpus`: the command on tickless vCPUs 1..n-1, vCPU 0 keeps the housekeeping. */
  quietCpus?: boolean;
}

/** What the benchmarks read from runPipeline's result (tolerant of Buffer or string output). */
export interface PipelineOutcome {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The runner's own failure, when it reported one. */
  error?: string;
  /** Whether the root image came from the cache. */
  cached?: boolean;
  /** The pipeline's own timings (PipelineMetrics: wallMs, prepareMs, bootMs, runMs, kernelBootMs, vmMs, …). */
  metrics?: Record<string, unknown>;
}

/** The compiled bin/pipeline-run.ts; BENCH_PIPELINE_MODULE points the benchmarks at another module with the same export (e.g. to try the plumbing). */
export const PIPELINE_MODULE = process.env.BENCH_PIPELINE_MODULE ?? join(projectRoot, "dist/bin/pipeline-run.js");
const CHILD = join(projectRoot, "dist/bench/lib/pipeline-child.js");

export const PIPELINE_UNAVAILABLE = "skipped: pipeline not available";
/** Said once under the tables when any benchmark was skipped for want of the pipeline. */
export const PIPELINE_UNAVAILABLE_NOTE = "pipeline not available: bin/pipeline-run.ts (exporting runPipeline) is not built yet";

/** True when bin/pipeline-run.ts is built and exports runPipeline. */
export async function pipelineAvailable(): Promise<boolean> {
  if (!existsSync(PIPELINE_MODULE)) return false;
  const mod = (await import(PIPELINE_MODULE)) as { runPipeline?: unknown };
  return typeof mod.runPipeline === "function";
}

/** Runs one pipeline in a child process: wall time, peak RSS (largest process), and what the guest's command printed. */
export async function runPipelineMeasured(options: PipelineOptions, timeoutMs = 15 * 60_000, onStart?: (pid: number) => void): Promise<Sample & PipelineOutcome> {
  const p = spawnMeasured(process.execPath, [CHILD, JSON.stringify(options)], { stdio: ["ignore", "pipe", "pipe"] });
  if (p.child.pid !== undefined) onStart?.(p.child.pid);
  let out = "";
  let err = "";
  p.child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  p.child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => p.stop(), timeoutMs);
  const m = await p.done.finally(() => clearTimeout(timer));
  await new Promise((r) => setImmediate(r));
  let outcome: PipelineOutcome;
  try {
    outcome = JSON.parse(out.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new Error(`pipeline ${m.signal ? `killed by ${m.signal}` : `exited with ${m.exitCode}`}: ${err.trim().split("\n").slice(-2).join(" / ") || "no result"}`);
  }
  return { seconds: m.seconds, peakKiB: m.peakKiB, ...outcome };
}
