// Benchmark: our mkrootfs (scan, mkfs.ext4 -d, one debugfs batch, cache
// commit) against `mkfs.ext4 -d` run directly on the same tree, in one run.
// Prints wall times, the ratio (target: at most 1.2) and what a cache hit
// costs in milliseconds.
//
//   node dist/bench/mkrootfs.js              a small tree (~1,000 files, ~60 MB), for CI
//   node dist/bench/mkrootfs.js --big        ~20,000 files, ~1.5 GB
//   node dist/bench/mkrootfs.js --tree DIR   a real tree (hard-linked into place, e.g. --tree /usr)
//   options: --runs N (default 5; the best run counts), --keep (keep the work directory)
//
// Generated trees are cached under cacheRoot()/bench so repeated runs skip writing them.
import { execFileSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cacheRoot } from "../lib/paths.js";
import { claimedByDirectory, lookupCached } from "../lib/rootfs-cache/cache.js";
import { MKE2FS_OPTIONS } from "../stages/mkrootfs/ext4.js";
import { cachedRootImageInProcess } from "../lib/rootfs-cache/in-process.js";
import { findTool } from "../stages/mkrootfs/tools.js";

interface TreeSize {
  name: string;
  files: number;
  /** The largest file class is capped at this many bytes. */
  maxFile: number;
}
const SMALL: TreeSize = { name: "small", files: 1000, maxFile: 2 << 20 };
const BIG: TreeSize = { name: "big", files: 20_000, maxFile: 4 << 20 };
const TREE_VERSION = 2; // bump when the generated content changes
const MTIME = 1_700_000_000;

/** A small deterministic PRNG (mulberry32), so every run builds the same tree. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** File sizes shaped like a distribution image: mostly small, a few large. */
function fileSize(random: () => number, max: number): number {
  const r = random();
  if (r < 0.7) return Math.floor(random() * 4096);
  if (r < 0.9) return 4096 + Math.floor(random() * 60 * 1024);
  if (r < 0.99) return 64 * 1024 + Math.floor(random() * 960 * 1024);
  return Math.min(max, (1 << 20) + Math.floor(random() * 15 * (1 << 20)));
}

/** Writes an unpacked image directory (rootfs/, metadata.jsonl, config.json) with `size.files` files. */
function generateTree(dir: string, size: TreeSize): void {
  const rootfs = join(dir, "rootfs");
  const random = prng(42);
  const key = createHash("sha256").update("bench").digest();
  const metadata: string[] = [];
  for (let i = 0; i < size.files; i++) {
    const sub = join("usr", `d${i % 20}`, `e${Math.floor(i / 20) % 25}`);
    mkdirSync(join(rootfs, sub), { recursive: true });
    const path = join(sub, `file-${i}`);
    const bytes = fileSize(random, size.maxFile);
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(i, 12);
    writeFileSync(join(rootfs, path), createCipheriv("aes-256-ctr", key, iv).update(Buffer.alloc(bytes)));
    // Whole seconds, as unpack sets them from layer tar headers.
    utimesSync(join(rootfs, path), MTIME, MTIME);
    if (i % 50 === 0) symlinkSync(`file-${i}`, join(rootfs, `${path}.link`));
    if (i % 100 === 1) linkSync(join(rootfs, path), join(rootfs, `${path}.hard`));
    if (i % 200 === 0) metadata.push(JSON.stringify({ path: `/${path}`, uid: 1000 + (i % 7), gid: 1000, mode: 0o4755 }));
  }
  mkdirSync(join(rootfs, "dev"));
  metadata.push(JSON.stringify({ path: "/dev/null", kind: "chardev", rdev: [1, 3], mode: 0o666 }));
  writeFileSync(join(dir, "metadata.jsonl"), metadata.join("\n") + "\n");
  writeConfig(dir, `bench-${size.name}-v${TREE_VERSION}`);
}

function writeConfig(dir: string, seed: string): void {
  const digest = `sha256:${createHash("sha256").update(seed).digest("hex")}`;
  writeFileSync(join(dir, "config.json"), JSON.stringify({ digest, env: [], workingDir: "/", entrypoint: null, cmd: null, user: "", platform: "linux/amd64" }));
}

/** The generated tree for `size`, built once and kept under cacheRoot()/bench. */
function cachedTree(size: TreeSize, benchCache: string): string {
  const dir = join(benchCache, `mkrootfs-${size.name}-v${TREE_VERSION}`);
  if (existsSync(join(dir, "config.json"))) return dir;
  const temp = `${dir}.partial-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  console.log(`generating the ${size.name} tree (once) in ${dir}`);
  generateTree(temp, size);
  rmSync(dir, { recursive: true, force: true });
  renameSync(temp, dir);
  return dir;
}

/** An unpacked image directory around a real tree, hard-linked (or copied) into `work`. */
function treeFromDirectory(source: string, work: string): string {
  const dir = join(work, "tree");
  mkdirSync(dir);
  try {
    execFileSync("cp", ["-al", source, join(dir, "rootfs")], { stdio: "ignore" });
  } catch {
    rmSync(join(dir, "rootfs"), { recursive: true, force: true });
    execFileSync("cp", ["-a", source, join(dir, "rootfs")], { stdio: "inherit" });
  }
  writeFileSync(join(dir, "metadata.jsonl"), "");
  writeConfig(dir, `tree:${source}`);
  return dir;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      big: { type: "boolean", default: false },
      large: { type: "boolean", default: false },
      tree: { type: "string" },
      runs: { type: "string", default: "5" },
      keep: { type: "boolean", default: false },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive whole number, not ${values.runs}`);
  const benchCache = join(cacheRoot(), "bench");
  const work = mkdtempSync(join(tmpdir(), "bench-mkrootfs-"));
  process.env.BENCHER_RUN_CACHE = join(work, "cache"); // a cache of our own: every build is cold
  try {
    const input = values.tree ? treeFromDirectory(values.tree, work) : cachedTree(values.big || values.large ? BIG : SMALL, benchCache);
    const rootfs = join(input, "rootfs");
    const files = Number(execFileSync("sh", ["-c", 'find "$1" | wc -l', "sh", rootfs], { encoding: "utf8" }).trim());
    const bytes = Number(execFileSync("du", ["-sb", rootfs], { encoding: "utf8" }).split("\t")[0]);
    console.log(`tree: ${input} (${files} entries, ${(bytes / 2 ** 20).toFixed(0)} MiB)`);

    // Warm the page cache once so no contestant pays for the first read of the tree.
    const build = () => cachedRootImageInProcess(input, mkdtempSync(join(work, "staging-")), { origin: claimedByDirectory(input) });
    const first = await build();
    // The plain runs get a file of our disk size: without -b, mke2fs would read a bare block count as KiB.
    const sizedImage = () => {
      rmSync(plainImage, { force: true });
      writeFileSync(plainImage, "");
      truncateSync(plainImage, first.bytes);
    };
    const mkfs = findTool("mkfs.ext4");
    const plainImage = join(work, "plain.ext4");

    const timings = { plain: Infinity, sameOptions: Infinity, ours: Infinity };
    for (let run = 0; run < runs; run++) {
      // Plain mkfs.ext4 -d (defaults, journal included) at the size we chose.
      sizedImage();
      let t = performance.now();
      execFileSync(mkfs, ["-q", "-F", "-d", rootfs, plainImage], { stdio: ["ignore", "ignore", "inherit"] });
      timings.plain = Math.min(timings.plain, performance.now() - t);
      // mkfs.ext4 -d with the options we use (no journal): what our extra work costs.
      sizedImage();
      t = performance.now();
      execFileSync(mkfs, ["-q", "-F", ...MKE2FS_OPTIONS, "-d", rootfs, plainImage], { stdio: ["ignore", "ignore", "inherit"] });
      timings.sameOptions = Math.min(timings.sameOptions, performance.now() - t);
      // Ours, cold: an empty cache each time.
      rmSync(join(work, "cache"), { recursive: true, force: true });
      t = performance.now();
      await build();
      timings.ours = Math.min(timings.ours, performance.now() - t);
    }
    rmSync(plainImage, { force: true });

    // Cache hits: the coordinator's whole cached build, and the lookup it does before unpack.
    let hit = Infinity;
    let lookup = Infinity;
    for (let i = 0; i < 20; i++) {
      let t = performance.now();
      const result = await build();
      hit = Math.min(hit, performance.now() - t);
      if (!result.cached) throw new Error("expected a cache hit");
      t = performance.now();
      lookupCached(result.cacheKey);
      lookup = Math.min(lookup, performance.now() - t);
    }
    const image = lookupCached(first.cacheKey)!;
    console.log(`image: ${(image.bytes / 2 ** 20).toFixed(0)} MiB disk, ${(statSync(image.image).blocks * 512 / 2 ** 20).toFixed(0)} MiB on disk`);
    console.log(`mkfs.ext4 -d (defaults):          ${seconds(timings.plain)}`);
    console.log(`mkfs.ext4 -d (our options):       ${seconds(timings.sameOptions)}`);
    console.log(`mkrootfs (cold, cache commit):    ${seconds(timings.ours)}`);
    const ratio = timings.ours / timings.plain;
    console.log(`ratio vs mkfs.ext4 -d:            ${ratio.toFixed(2)} (target ≤ 1.2: ${ratio <= 1.2 ? "met" : "MISSED"})`);
    console.log(`ratio vs same-options mkfs:       ${(timings.ours / timings.sameOptions).toFixed(2)}`);
    console.log(`cache hit: cached build ${hit.toFixed(2)} ms, lookupCached ${lookup.toFixed(3)} ms`);
  } finally {
    if (values.keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench/mkrootfs: ${(err as Error).message}`);
  process.exit(1);
});
