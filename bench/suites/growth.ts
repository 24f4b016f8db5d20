// Cost of growth: unpack + mkrootfs against image size, and the pipeline run
// 1, 2, 4, 8 times at once, as two small tables so the shape of each curve
// shows.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bencherRun } from "../lib/bencher-cli.js";
import { cachedImage, echoImage, mixedImage } from "../lib/images.js";
import { watchTreeMemory } from "../lib/tree-memory.js";
import { PIPELINE_UNAVAILABLE, pipelineAvailable } from "../lib/pipeline.js";
import { median } from "../lib/stats.js";
import { emptyResult, type BenchContext, type Sample, type SmallTable, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatBytes, formatMiB, formatRatio, formatSeconds } from "../lib/table.js";
import { CACHED_ECHO_KEY, echoPipeline } from "./end-to-end.js";
import { mkrootfsColdOnce } from "./stages.js";

const FULL_SIZES = [10 << 20, 100 << 20, 1 << 30];
const QUICK_SIZES = [1 << 20, 10 << 20];
const FULL_LEVELS = [1, 2, 4, 8];
const QUICK_LEVELS = [1, 2];

interface SizePoint {
  bytes: number;
  files?: number;
  unpack: Sample[];
  mkrootfs: Sample[];
  error?: string;
}

const medianSeconds = (xs: Sample[]) => (xs.length ? median(xs.map((s) => s.seconds)) : undefined);
const maxPeak = (xs: Sample[]) => {
  const peaks = xs.map((s) => s.peakKiB).filter((p): p is number => p !== undefined);
  return peaks.length ? Math.max(...peaks) : undefined;
};

async function sizeCurve(ctx: BenchContext): Promise<SmallTable> {
  const dir = join(ctx.work, "growth");
  mkdirSync(dir, { recursive: true });
  const points: SizePoint[] = [];
  for (const bytes of ctx.quick ? QUICK_SIZES : FULL_SIZES) {
    const point: SizePoint = { bytes, unpack: [], mkrootfs: [] };
    points.push(point);
    try {
      const image = await cachedImage(`mixed-${bytes}`, () => mixedImage(bytes), ctx.log);
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`growth: ${formatBytes(bytes)} image, run ${run + 1}/${ctx.runs}`);
        const out = join(dir, "unpacked");
        const u = await bencherRun(["unpack", "--image", image, "--out", out]);
        point.unpack.push({ seconds: u.seconds, peakKiB: u.peakKiB });
        point.files = Number(u.json.files);
        point.mkrootfs.push(await mkrootfsColdOnce(out, join(dir, "cache")));
        rmSync(out, { recursive: true, force: true });
        rmSync(join(dir, "cache"), { recursive: true, force: true });
      }
    } catch (err) {
      point.error = (err as Error).message.split("\n")[0];
    }
  }
  const rows = points.map((p) => {
    if (p.error) return [formatBytes(p.bytes), "–", "–", "–", "–", "–", "failed (see below)"];
    const u = medianSeconds(p.unpack)!;
    const m = medianSeconds(p.mkrootfs)!;
    return [
      formatBytes(p.bytes), String(p.files ?? "–"),
      formatSeconds(u), formatMiB(maxPeak(p.unpack)),
      formatSeconds(m), formatMiB(maxPeak(p.mkrootfs)),
      `${(p.bytes / 2 ** 20 / (u + m)).toFixed(0)} MiB/s`,
    ];
  });
  return {
    title: "Cost of growth: image size (bencher-run unpack, then a cold bencher-run mkrootfs; medians, peak RSS of the largest process)",
    headers: ["files' size", "files", "unpack", "peak RSS", "mkrootfs", "peak RSS", "throughput"],
    rows,
    data: points,
  };
}

interface LevelPoint {
  pipelines: number;
  wallSeconds?: number;
  medianSeconds?: number;
  largestPeakKiB?: number;
  /** Peak of the summed resident memory of all N pipelines' processes. */
  memoryKiB?: number;
  skipped?: string;
}

async function concurrencyCurve(ctx: BenchContext): Promise<SmallTable> {
  const levels = ctx.quick ? QUICK_LEVELS : FULL_LEVELS;
  const points: LevelPoint[] = [];
  const available = await pipelineAvailable();
  let image = ctx.shared.get(CACHED_ECHO_KEY) as string | undefined;
  for (const n of levels) {
    if (!available) {
      points.push({ pipelines: n, skipped: PIPELINE_UNAVAILABLE });
      continue;
    }
    // Without the end-to-end suite's image, one run first puts a root image in the cache.
    const warmUp = image === undefined ? 1 : 0;
    const denied = ctx.bootsDenied(n + warmUp);
    if (denied) {
      points.push({ pipelines: n, skipped: denied });
      continue;
    }
    try {
      if (image === undefined) {
        image = await cachedImage("echo", () => echoImage(), ctx.log);
        ctx.log("growth: one pipeline run to cache the echo image's root image");
        await echoPipeline(image);
      }
      ctx.log(`growth: ${n} pipeline${n > 1 ? "s" : ""} at once`);
      const pids: number[] = [];
      const memory = watchTreeMemory(() => pids);
      const started = performance.now();
      const runs = await Promise.all(Array.from({ length: n }, () => echoPipeline(image!, (pid) => pids.push(pid))));
      const wallSeconds = (performance.now() - started) / 1000;
      points.push({ pipelines: n, wallSeconds, medianSeconds: medianSeconds(runs), largestPeakKiB: maxPeak(runs), memoryKiB: memory() });
    } catch (err) {
      points.push({ pipelines: n, skipped: `failed: ${(err as Error).message.split("\n")[0]}` });
    }
  }
  const single = points.find((p) => p.pipelines === 1)?.medianSeconds;
  const rows = points.map((p) =>
    p.skipped
      ? [String(p.pipelines), "–", "–", "–", "–", "–"]
      : [String(p.pipelines), formatSeconds(p.wallSeconds), formatSeconds(p.medianSeconds), formatRatio(single ? p.medianSeconds! / single : undefined), formatMiB(p.memoryKiB), formatMiB(p.largestPeakKiB)],
  );
  return {
    title: "Cost of growth: pipelines at once (busybox echo, root image cached)",
    headers: ["at once", "wall, all", "median each", "vs 1 at once", "memory, all (peak)", "largest process"],
    rows,
    data: points,
  };
}

export const growthSuite: Suite = {
  name: "growth",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const sizes = await sizeCurve(ctx);
    const levels = await concurrencyCurve(ctx);
    result.tables.push(sizes, levels);
    for (const p of sizes.data as SizePoint[]) if (p.error) result.notes.push(`growth, ${formatBytes(p.bytes)} image: failed: ${p.error}`);
    // One reason for all the levels skipped for the same reason.
    const reasons = new Map<string, number[]>();
    for (const p of levels.data as LevelPoint[]) if (p.skipped) reasons.set(p.skipped, [...(reasons.get(p.skipped) ?? []), p.pipelines]);
    for (const [why, ns] of reasons) result.notes.push(`growth, ${ns.join(", ")} pipelines at once: ${why}`);
    return result;
  },
};
