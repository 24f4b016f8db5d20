// unpack beside `umoci unpack`, mkrootfs beside plain `mkfs.ext4 -d` on the
// same tree, and what a cached mkrootfs costs. Both sides run in the same
// loop, alternating which goes first so neither always meets a warmer page
// cache.
import { mkdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cachedRootImageInProcess } from "../../lib/rootfs-cache/in-process.js";
import { claimedByDirectory } from "../../lib/rootfs-cache/cache.js";
import { findTool } from "../../stages/mkrootfs/tools.js";
import { bencherRun } from "../lib/bencher-cli.js";
import { IMAGE_TAG, cachedImage, mixedImage } from "../lib/images.js";
import { measureCommand } from "../lib/measure.js";
import { emptyResult, failedRow, type BenchContext, type Sample, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatBytes } from "../lib/table.js";

const FULL_IMAGE_BYTES = 256 << 20;
const QUICK_IMAGE_BYTES = 8 << 20;

export async function unpackOnce(image: string, out: string): Promise<Sample> {
  const r = await bencherRun(["unpack", "--image", image, "--out", out]);
  return { seconds: r.seconds, peakKiB: r.peakKiB };
}

export async function umociOnce(image: string, out: string): Promise<Sample> {
  const r = await measureCommand("umoci", ["unpack", "--rootless", "--image", `${image}:${IMAGE_TAG.split(":")[1]}`, out]);
  return { seconds: r.seconds, peakKiB: r.peakKiB };
}

/** A cold `bencher-run mkrootfs` (a fresh, empty cache); returns the image's size too. */
export async function mkrootfsColdOnce(input: string, cache: string): Promise<Sample & { bytes: number; image: string }> {
  rmSync(cache, { recursive: true, force: true });
  const r = await bencherRun(["mkrootfs", "--input", input], { cache });
  if (r.json.cached) throw new Error("mkrootfs: expected a cold build, got a cache hit");
  return { seconds: r.seconds, peakKiB: r.peakKiB, bytes: Number(r.json.bytes), image: String(r.json.image) };
}

/** Plain `mkfs.ext4 -d` into a file of `bytes` (the size our image got). */
export async function mkfsOnce(rootfs: string, file: string, bytes: number): Promise<Sample> {
  rmSync(file, { force: true });
  writeFileSync(file, "");
  truncateSync(file, bytes);
  const r = await measureCommand(findTool("mkfs.ext4"), ["-q", "-F", "-d", rootfs, file]);
  rmSync(file, { force: true });
  return { seconds: r.seconds, peakKiB: r.peakKiB };
}

/** The cache hit without the CLI's and the sandbox's process start-ups: what the coordinator itself pays. A hit never builds, so the staging directory stays unused. */
async function inProcessHits(input: string, cache: string): Promise<Sample[]> {
  const stagingDir = join(cache, "unused-staging");
  const saved = process.env.BENCHER_RUN_CACHE;
  process.env.BENCHER_RUN_CACHE = cache;
  try {
    const hits: Sample[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      const r = await cachedRootImageInProcess(input, stagingDir, { origin: claimedByDirectory(input) }); // as the CLI keys it
      if (!r.cached) throw new Error("expected an in-process cache hit");
      hits.push({ seconds: (performance.now() - t) / 1000 });
    }
    return hits;
  } finally {
    if (saved === undefined) delete process.env.BENCHER_RUN_CACHE;
    else process.env.BENCHER_RUN_CACHE = saved;
  }
}

export const stagesSuite: Suite = {
  name: "stages",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const bytes = ctx.quick ? QUICK_IMAGE_BYTES : FULL_IMAGE_BYTES;
    const size = formatBytes(bytes);
    const unpackName = `unpack (${size} image)`;
    const mkfsName = `mkrootfs, cold (${size} image)`;
    const hitName = "mkrootfs, cache hit";
    const dir = join(ctx.work, "stages");
    mkdirSync(dir, { recursive: true });

    let unpacked: string;
    try {
      const image = await cachedImage(`mixed-${bytes}`, () => mixedImage(bytes), ctx.log);
      const ours: Sample[] = [];
      const umoci: Sample[] = [];
      unpacked = join(dir, "unpacked");
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`${unpackName}: run ${run + 1}/${ctx.runs}`);
        const oursFirst = run % 2 === 0;
        for (const who of oursFirst ? ["ours", "umoci"] : ["umoci", "ours"]) {
          const out = join(dir, `${who}-${run}`);
          if (who === "ours") ours.push(await unpackOnce(image, out));
          else umoci.push(await umociOnce(image, out));
          rmSync(out, { recursive: true, force: true });
        }
      }
      // One more of ours, kept: the tree both mkrootfs sides start from.
      await unpackOnce(image, unpacked);
      result.rows.push({
        benchmark: unpackName,
        ours: { label: "bencher-run unpack", samples: ours },
        peer: { label: "umoci unpack --rootless", samples: umoci },
      });
    } catch (err) {
      result.rows.push(failedRow(unpackName, err), { benchmark: mkfsName, skipped: "skipped: unpack failed" }, { benchmark: hitName, skipped: "skipped: unpack failed" });
      return result;
    }

    const cache = join(dir, "cache");
    try {
      const ours: Sample[] = [];
      const plain: Sample[] = [];
      for (let run = 0; run < ctx.runs; run++) {
        ctx.log(`${mkfsName}: run ${run + 1}/${ctx.runs}`);
        const made = await mkrootfsColdOnce(unpacked, cache);
        ours.push(made);
        plain.push(await mkfsOnce(join(unpacked, "rootfs"), join(dir, "plain.ext4"), made.bytes));
      }
      result.rows.push({
        benchmark: mkfsName,
        ours: { label: "bencher-run mkrootfs", samples: ours },
        peer: { label: "mkfs.ext4 -d", samples: plain },
      });
    } catch (err) {
      result.rows.push(failedRow(mkfsName, err), { benchmark: hitName, skipped: "skipped: mkrootfs failed" });
      return result;
    }

    try {
      // The cache now holds the last cold build.
      const hits: Sample[] = [];
      for (let run = 0; run < Math.max(ctx.runs, 3); run++) {
        const r = await bencherRun(["mkrootfs", "--input", unpacked], { cache });
        if (!r.json.cached) throw new Error("expected a cache hit");
        hits.push({ seconds: r.seconds, peakKiB: r.peakKiB });
      }
      result.rows.push({ benchmark: hitName, ours: { label: "bencher-run mkrootfs (cached)", samples: hits } });
      result.rows.push({ benchmark: `${hitName}, in process`, ours: { label: "cachedRootImage(), in process", samples: await inProcessHits(unpacked, cache) } });
    } catch (err) {
      result.rows.push(failedRow(hitName, err));
    }
    rmSync(cache, { recursive: true, force: true });
    return result;
  },
};
