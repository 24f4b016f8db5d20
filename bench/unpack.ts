// Benchmark: our unpack stage against `umoci unpack --rootless` on the same
// OCI image, in one run. Prints wall time, the ratio, and peak memory (VmHWM
// sampled from /proc every 20 ms).
//
//   node dist/bench/unpack.js            a small image (a few MB), for CI
//   node dist/bench/unpack.js --big      ~350 MB: 30,000 small files and 5 large ones
//   options: --runs N (default 3; the best run counts), --keep (keep outputs)
//
// The image is built once with lib/oci and cached under cacheRoot()/bench.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../lib/oci/build-image.js";
import type { EntryDescription, ImageDescription, LayerDescription } from "../lib/oci/description.js";
import { callStage } from "../lib/ipc/call.js";
import { cacheRoot, projectRoot } from "../lib/paths.js";

interface Size {
  name: string;
  layers: number;
  smallFilesPerLayer: number;
  largeFiles: number;
  largeBytes: number;
}

const SMALL: Size = { name: "small", layers: 2, smallFilesPerLayer: 500, largeFiles: 1, largeBytes: 2 << 20 };
const BIG: Size = { name: "big", layers: 3, smallFilesPerLayer: 10_000, largeFiles: 5, largeBytes: 40 << 20 };
const IMAGE_VERSION = 1; // bump when the generated content changes

/** Text-like content (compresses roughly like real files do). */
function textContent(seed: number, length: number): string {
  const line = `line ${seed} of some generated benchmark file content ${seed * 7919 % 10007}\n`;
  return line.repeat(Math.ceil(length / line.length)).slice(0, length);
}

function describe(size: Size): ImageDescription {
  const layers: LayerDescription[] = [];
  let n = 0;
  for (let l = 0; l < size.layers; l++) {
    const entries: EntryDescription[] = [];
    for (let i = 0; i < size.smallFilesPerLayer; i++, n++) {
      const dir = `/usr/share/bench/l${l}/d${Math.floor(i / 50)}`;
      const length = 256 + ((n * 2654435761) % 16_000);
      entries.push(
        n % 2 === 0
          ? { type: "file", path: `${dir}/f${i}.txt`, content: textContent(n, length), mode: 0o644 }
          : { type: "file", path: `${dir}/f${i}.bin`, random: { size: length, seed: n }, mode: 0o755 },
      );
      if (i % 100 === 0) entries.push({ type: "symlink", path: `${dir}/link${i}`, target: `f${i}.${n % 2 === 0 ? "txt" : "bin"}` });
    }
    layers.push({ compression: "gzip", entries });
  }
  const large: EntryDescription[] = [];
  for (let i = 0; i < size.largeFiles; i++) large.push({ type: "file", path: `/opt/large/blob${i}`, random: { size: size.largeBytes, seed: 1000 + i } });
  layers.push({ compression: "gzip", entries: large });
  return { layers, config: { cmd: ["/bin/sh"] } };
}

async function ensureImage(size: Size): Promise<string> {
  const dir = join(cacheRoot(), "bench", `unpack-${size.name}-v${IMAGE_VERSION}`);
  if (existsSync(join(dir, "index.json"))) return dir;
  mkdirSync(join(cacheRoot(), "bench"), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`building the ${size.name} benchmark image in ${dir}…\n`);
  await buildImage(describe(size), { format: "oci-dir", out: dir, tag: "bench:latest" });
  return dir;
}

/** Samples the child's peak resident memory until it exits. */
function watchMemory(child: ChildProcess): () => number {
  let peakKiB = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const match = /VmHWM:\s+(\d+) kB/.exec(status);
      if (match) peakKiB = Math.max(peakKiB, Number(match[1]));
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 20);
  child.once("exit", () => clearInterval(timer));
  return () => peakKiB;
}

interface Measurement {
  seconds: number;
  peakMiB: number;
}

async function runOurs(image: string, out: string): Promise<Measurement> {
  const start = performance.now();
  const child = spawn(process.execPath, [join(projectRoot, "dist/stages/unpack/main.js")], { stdio: ["pipe", "pipe", "inherit"] });
  const peak = watchMemory(child);
  await callStage(child, { image, out }, { stage: "unpack" });
  return { seconds: (performance.now() - start) / 1000, peakMiB: peak() / 1024 };
}

async function runUmoci(image: string, out: string): Promise<Measurement> {
  const start = performance.now();
  const child = spawn("umoci", ["unpack", "--rootless", "--image", `${image}:latest`, out], { stdio: ["ignore", "ignore", "inherit"] });
  const peak = watchMemory(child);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`umoci exited with ${code}`);
  return { seconds: (performance.now() - start) / 1000, peakMiB: peak() / 1024 };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const size = args.includes("--big") ? BIG : SMALL;
  const runsAt = args.indexOf("--runs");
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  const keep = args.includes("--keep");
  const image = await ensureImage(size);
  const work = mkdtempSync(join(tmpdir(), "bench-unpack-"));
  const best = { ours: { seconds: Infinity, peakMiB: 0 }, umoci: { seconds: Infinity, peakMiB: 0 } };
  try {
    for (let run = 1; run <= runs; run++) {
      // Alternate which goes first so neither always gets the warmer page cache.
      const order = run % 2 === 1 ? (["ours", "umoci"] as const) : (["umoci", "ours"] as const);
      for (const who of order) {
        const out = join(work, `${who}-${run}`);
        const m = who === "ours" ? await runOurs(image, out) : await runUmoci(image, out);
        process.stderr.write(`run ${run} ${who}: ${m.seconds.toFixed(2)} s, peak ${m.peakMiB.toFixed(0)} MiB\n`);
        if (m.seconds < best[who].seconds) best[who] = m;
        best[who].peakMiB = Math.max(best[who].peakMiB, m.peakMiB);
        if (!keep) rmSync(out, { recursive: true, force: true });
      }
    }
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  const ratio = best.ours.seconds / best.umoci.seconds;
  console.log(`unpack benchmark (${size.name} image, best of ${runs})`);
  console.log(`  bencher-run unpack: ${best.ours.seconds.toFixed(2)} s, peak memory ${best.ours.peakMiB.toFixed(0)} MiB`);
  console.log(`  umoci unpack:       ${best.umoci.seconds.toFixed(2)} s, peak memory ${best.umoci.peakMiB.toFixed(0)} MiB`);
  console.log(`  ratio (ours / umoci): ${ratio.toFixed(2)}${ratio <= 1 ? " (not slower than umoci)" : " (SLOWER than umoci)"}`);
  if (keep) console.log(`  outputs kept in ${work}`);
}

main().catch((err) => {
  console.error(`bench/unpack: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
