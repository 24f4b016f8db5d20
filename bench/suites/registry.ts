// A registry image run again: its root image is cached, so what a run by tag
// costs before the VM is learning what the tag names now. Ours is the
// coordinator's preparation in process (prepareRootImage: the sandboxed
// unpack starts, tells the digest the tag names, and is stopped), beside
// `skopeo inspect --raw`, a command that only resolves the tag, on the same
// loopback registry; and a run by digest, which needs no registry at all.
// Both sides alternate which goes first.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { prepareRootImage } from "../../bin/pipeline/root-image.js";
import { RunWorkdir } from "../../lib/workdir/run-workdir.js";
import { pushWithSkopeo, startRegistry } from "../../lib/reference/registry-server.js";
import { cachedImage, mixedImage } from "../lib/images.js";
import { measureCommand } from "../lib/measure.js";
import { emptyResult, failedRow, type BenchContext, type Sample, type Suite, type SuiteResult } from "../lib/suite.js";
import { formatBytes } from "../lib/table.js";

const IMAGE_BYTES = 8 << 20;

/** prepareRootImage for `ref` in a fresh run directory, timed; `cached` says whether the root image came from the cache. */
async function prepareOnce(ref: string, runs: string): Promise<Sample & { cached: boolean }> {
  const workdir = RunWorkdir.create({ root: runs });
  try {
    const started = performance.now();
    const root = await prepareRootImage(ref, "ext4", undefined, workdir, {});
    return { seconds: (performance.now() - started) / 1000, cached: root.cached };
  } finally {
    workdir.dispose();
  }
}

export const registrySuite: Suite = {
  name: "registry",
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const result = emptyResult();
    const byTag = `registry image by tag, root image cached (${formatBytes(IMAGE_BYTES)} image)`;
    const byDigest = "registry image by digest, root image cached";
    const dir = join(ctx.work, "registry");
    mkdirSync(dir, { recursive: true });
    // A cache of its own: the user's is left as it was.
    const savedCache = process.env.BENCHER_RUN_CACHE;
    process.env.BENCHER_RUN_CACHE = join(dir, "cache");
    let registry: Awaited<ReturnType<typeof startRegistry>> | undefined;
    try {
      const image = await cachedImage(`mixed-${IMAGE_BYTES}`, () => mixedImage(IMAGE_BYTES), ctx.log);
      registry = await startRegistry();
      const tag = `${registry.host}/bench/mixed:v1`;
      await pushWithSkopeo(image, tag);
      ctx.log(`${byTag}: building its root image once`);
      if ((await prepareOnce(tag, join(dir, "runs"))).cached) throw new Error("expected a cold build in an empty cache");

      const ours: Sample[] = [];
      const skopeo: Sample[] = [];
      const runs = Math.max(ctx.runs, 3);
      for (let run = 0; run < runs; run++) {
        ctx.log(`${byTag}: run ${run + 1}/${runs}`);
        for (const who of run % 2 === 0 ? ["ours", "skopeo"] : ["skopeo", "ours"]) {
          if (who === "skopeo") {
            const r = await measureCommand("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${tag}`]);
            skopeo.push({ seconds: r.seconds, peakKiB: r.peakKiB });
            continue;
          }
          const r = await prepareOnce(tag, join(dir, "runs"));
          if (!r.cached) throw new Error("expected the cached root image");
          ours.push(r);
        }
      }
      result.rows.push({
        benchmark: byTag,
        ours: { label: "prepareRootImage(), in process", samples: ours },
        peer: { label: "skopeo inspect --raw (resolves the tag only)", samples: skopeo },
      });

      const digest = (await measureCommand("skopeo", ["inspect", "--format", "{{.Digest}}", "--tls-verify=false", `docker://${tag}`])).stdout.trim();
      const pinned: Sample[] = [];
      for (let run = 0; run < runs; run++) {
        const r = await prepareOnce(`${registry.host}/bench/mixed@${digest}`, join(dir, "runs"));
        if (!r.cached) throw new Error("expected the cached root image");
        pinned.push(r);
      }
      result.rows.push({ benchmark: byDigest, ours: { label: "prepareRootImage(), in process", samples: pinned } });
    } catch (err) {
      result.rows.push(failedRow(byTag, err));
    } finally {
      await registry?.stop();
      if (savedCache === undefined) delete process.env.BENCHER_RUN_CACHE;
      else process.env.BENCHER_RUN_CACHE = savedCache;
    }
    return result;
  },
};
