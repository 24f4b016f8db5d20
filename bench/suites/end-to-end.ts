// The whole pipeline on the busybox echo image, cold (an image whose root
// image is not cached yet: a fresh label per run changes its digest) and with
// its root image cached. The peer is what a user would chain by hand: umoci
// unpack + mkfs.ext4 -d + QEMU microvm booting to guest-init (QEMU's time is
// the one the boot suite measured in this same invocation).
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { ECHO_TEXT, IMAGE_TAG, echoImage } from "../lib/images.js";
import { PIPELINE_UNAVAILABLE, pipelineAvailable, runPipelineMeasured } from "../lib/pipeline.js";
import { median } from "../lib/stats.js";
import { emptyResult, failedRow, type BenchContext, type Sample, type SmallTable, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatSeconds } from "../lib/table.js";
import { QEMU_BOOT_KEY } from "./boot.js";
import { mkfsOnce, umociOnce } from "./stages.js";

/** The image (already run once, so its root image is cached) later suites can reuse. */
export const CACHED_ECHO_KEY = "cached-echo-image";

export interface EchoRun extends Sample {
  cached?: boolean;
  metrics?: Record<string, unknown>;
}

/** Runs the pipeline and checks the guest said what the image's command says. */
export async function echoPipeline(image: string, onStart?: (pid: number) => void): Promise<EchoRun> {
  const r = await runPipelineMeasured({ image }, undefined, onStart);
  if (r.exitCode !== 0 || !r.stdout.includes(ECHO_TEXT)) {
    const why = r.error ? `: ${r.error.split("\n")[0]}` : "";
    throw new Error(`pipeline on the echo image: exit code ${r.exitCode}, stdout ${JSON.stringify(r.stdout.slice(0, 80))}${why}`);
  }
  return { seconds: r.seconds, peakKiB: r.peakKiB, cached: r.cached, metrics: r.metrics };
}

/** The pipeline's own account of where the time went, medians over the runs. */
const PHASES: Array<[key: string, label: string]> = [
  ["prepareMs", "prepare (unpack + mkrootfs)"],
  ["kernelBootMs", "VM start to the kernel's /init"],
  ["bootMs", "VM start to guest-init READY"],
  ["runMs", "the command itself (in the guest)"],
  ["vmMs", "the VM's whole life"],
  ["wallMs", "the whole run"],
];

function phaseMedian(runs: EchoRun[], key: string): number | undefined {
  const xs = runs.map((r) => r.metrics?.[key]).filter((x): x is number => typeof x === "number");
  return xs.length ? median(xs) / 1000 : undefined;
}

function breakdown(cold: EchoRun[], cached: EchoRun[]): SmallTable {
  return {
    title: "End to end, where the time goes (the pipeline's own metrics; medians)",
    headers: ["", "cold", "root image cached"],
    rows: PHASES.map(([key, label]) => [label, formatSeconds(phaseMedian(cold, key)), formatSeconds(phaseMedian(cached, key))]),
    data: { cold: cold.map((r) => r.metrics ?? null), cached: cached.map((r) => r.metrics ?? null) },
  };
}

export const endToEndSuite: Suite = {
  name: "end-to-end",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const cold = "end to end, busybox echo, cold";
    const cached = "end to end, busybox echo, root image cached";
    if (!(await pipelineAvailable())) {
      result.rows.push({ benchmark: cold, skipped: PIPELINE_UNAVAILABLE }, { benchmark: cached, skipped: PIPELINE_UNAVAILABLE });
      return result;
    }
    const denied = ctx.bootsDenied(2 * ctx.runs);
    if (denied) {
      result.rows.push({ benchmark: cold, skipped: denied }, { benchmark: cached, skipped: denied });
      return result;
    }
    const dir = join(ctx.work, "end-to-end");
    mkdirSync(dir, { recursive: true });
    const qemu = ctx.shared.get(QEMU_BOOT_KEY) as number[] | undefined;
    const qemuSeconds = qemu?.length ? median(qemu) : undefined;
    const images: string[] = [];
    let coldRuns: EchoRun[] = [];
    try {
      const ours: EchoRun[] = [];
      const peer: Sample[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`${cold}: run ${run + 1}/${ctx.runs}`);
        const image = join(dir, `echo-${run}`);
        await buildImage(echoImage(`${process.pid}-${Date.now()}-${run}`), { format: "oci-dir", out: image, tag: IMAGE_TAG });
        images.push(image);
        const run1 = await echoPipeline(image);
        if (run1.cached === true) throw new Error("a cold run found its root image in the cache");
        ours.push(run1);
        if (qemuSeconds !== undefined) {
          const rootfs = join(dir, `umoci-${run}`);
          const unpacked = await umociOnce(image, rootfs);
          const made = await mkfsOnce(join(rootfs, "rootfs"), join(dir, "plain.ext4"), 64 << 20);
          rmSync(rootfs, { recursive: true, force: true });
          const peaks = [unpacked.peakKiB, made.peakKiB].filter((p): p is number => p !== undefined);
          peer.push({ seconds: unpacked.seconds + made.seconds + qemuSeconds, ...(peaks.length ? { peakKiB: Math.max(...peaks) } : {}) });
        }
      }
      coldRuns = ours;
      result.rows.push({
        benchmark: cold,
        ours: { label: "bencher-run pipeline", samples: ours },
        ...(peer.length ? { peer: { label: "umoci + mkfs.ext4 -d + QEMU", samples: peer } } : {}),
      });
    } catch (err) {
      result.rows.push(failedRow(cold, err), { benchmark: cached, skipped: "skipped: the cold run failed" });
      return result;
    }
    try {
      // The first cold image has been run once: its root image is in the cache now.
      const image = images[0];
      ctx.shared.set(CACHED_ECHO_KEY, image);
      const ours: EchoRun[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`${cached}: run ${run + 1}/${ctx.runs}`);
        const r = await echoPipeline(image);
        if (r.cached === false) throw new Error("the root image was not cached on a second run of the same image");
        ours.push(r);
      }
      result.tables.push(breakdown(coldRuns, ours));
      result.rows.push({
        benchmark: cached,
        ours: { label: "bencher-run pipeline", samples: ours },
        ...(qemu?.length ? { peer: { label: "QEMU (boot to guest-init)", samples: qemu.map((seconds) => ({ seconds })) } } : {}),
      });
    } catch (err) {
      result.rows.push(failedRow(cached, err));
    }
    if (qemuSeconds === undefined) result.notes.push("end to end: no peer column: the boot suite measured no QEMU boot in this invocation");
    return result;
  },
};
