// The mkrootfs stage: an unpacked image directory → a cached ext4 (or
// squashfs) base image. Order of work: cache lookup (no scanning on a hit),
// metadata and tree scan, size, build into a temp file, commit.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, closeSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, basename, resolve } from "node:path";
import type { StageContext } from "../../lib/ipc/stage.js";
import { cacheKey, commitToCache, createCacheTempFile, lookupCached, pruneAfterInsert } from "./cache.js";
import { buildExt4 } from "./ext4.js";
import { openUnpackedImage } from "./input.js";
import { readMetadata } from "./metadata.js";
import { readImageAccounts, type ImageAccounts } from "./accounts.js";
import { planRootfs } from "./plan.js";
import type { MkrootfsRequest, RootfsType } from "./request.js";
import { chooseExt4Geometry } from "./size.js";
import { buildSquashfs } from "./squashfs.js";
import { runTool, lastLine } from "./tools.js";

export interface MkrootfsResult {
  /** The image to boot: the cached base image (read-only), or `out` when the request named one. */
  image: string;
  fs: RootfsType;
  /** The image's size (for ext4, the disk size). */
  bytes: number;
  cacheKey: string;
  /** True when the image came from the cache without building. */
  cached: boolean;
  /** The image's user and group names, for the runner's --user check (absent for images cached before they were recorded). */
  accounts?: ImageAccounts;
}

export type MkrootfsContext = Pick<StageContext, "progress" | "log" | "signal">;

const silent: MkrootfsContext = { progress() {}, log() {}, signal: new AbortController().signal };

export async function mkrootfs(req: MkrootfsRequest, ctx: Partial<MkrootfsContext> = {}): Promise<MkrootfsResult> {
  const { progress, log, signal } = { ...silent, ...ctx };
  const input = openUnpackedImage(req.input);
  // Built all the same (a root image is only files), but nothing in it could run in our x86_64 VMs.
  if (input.platform !== undefined && !/^linux\/amd64(\/|$)/.test(input.platform)) {
    log("warn", `the image is for ${input.platform}: bencher-run's VMs are linux/amd64, where its programs cannot run`);
  }
  if (req.out !== undefined && !statSync(dirname(resolve(req.out)), { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`out: ${dirname(resolve(req.out))} is not an existing directory`);
  }
  const key = cacheKey({ digest: input.digest, fs: req.fs, diskMiB: req.diskMiB });

  if (req.cache) {
    const hit = lookupCached(key);
    if (hit) {
      log("info", `cache hit ${key.slice(0, 12)} for ${input.digest}`);
      const image = req.out ? await copyOut(hit.image, req.out, signal) : hit.image;
      progress(1, "cached");
      return { image, fs: req.fs, bytes: hit.bytes, cacheKey: key, cached: true, ...(hit.accounts ? { accounts: hit.accounts } : {}) };
    }
  }

  progress(0, "scanning rootfs");
  const metadata = readMetadata(input.metadataFile);
  const plan = planRootfs(input.rootfs, metadata);
  const accounts = readImageAccounts(input.rootfs);
  signal.throwIfAborted();
  const target = req.cache ? createCacheTempFile(key) : createTempBeside(req.out!);
  try {
    const warn = (message: string) => log("warn", message);
    if (req.fs === "ext4") {
      const geometry = chooseExt4Geometry(plan.usage, plan.changes, req.diskMiB);
      log("info", `${plan.usage.entries} entries, ${geometry.neededMiB} MiB needed, disk ${(geometry.blocks * 4096) / 2 ** 20} MiB, ${geometry.inodes} inodes, ${plan.changes.length} metadata changes`);
      await buildExt4(plan, { rootfs: input.rootfs, target, geometry, uuid: uuidFrom(key), signal, progress, warn });
    } else {
      await buildSquashfs(plan, { rootfs: input.rootfs, target, signal, progress, warn });
    }
    signal.throwIfAborted();
    progress(0.95, "storing image");
    if (!req.cache) {
      renameSync(target, req.out!);
      return { image: resolve(req.out!), fs: req.fs, bytes: statSync(req.out!).size, cacheKey: key, cached: false, accounts };
    }
    const entry = commitToCache(target, key, req.fs, { digest: input.digest, diskMiB: req.diskMiB, accounts, platform: input.platform });
    const pruned = pruneAfterInsert(key);
    if (pruned.removed.length > 0) log("info", `cache: evicted ${pruned.removed.length} least recently used images (${Math.round(pruned.freedBytes / 2 ** 20)} MiB)`);
    const image = req.out ? await copyOut(entry.image, req.out, signal) : entry.image;
    progress(1, "done");
    return { image, fs: req.fs, bytes: entry.bytes, cacheKey: key, cached: false, accounts };
  } finally {
    rmSync(target, { force: true });
  }
}

/** A new empty file next to `out`, so the final rename stays on one file system. */
function createTempBeside(out: string): string {
  const path = join(dirname(resolve(out)), `.${basename(out)}.${randomBytes(6).toString("hex")}.partial`);
  closeSync(openSync(path, "wx", 0o644));
  return path;
}

/** Copies a cached image to `out` keeping it sparse (and reflinked where the file system can), writable for its owner. */
async function copyOut(image: string, out: string, signal: AbortSignal): Promise<string> {
  const temp = createTempBeside(out);
  try {
    const result = await runTool("cp", ["--sparse=always", "--reflink=auto", image, temp], signal);
    if (result.exitCode !== 0) throw new Error(`copying the image to ${out} failed: ${lastLine(result.stderr)}`);
    chmodSync(temp, 0o644);
    renameSync(temp, out);
  } finally {
    rmSync(temp, { force: true });
  }
  return resolve(out);
}

/** A UUID derived from the cache key: equal inputs give byte-for-byte comparable images. */
function uuidFrom(key: string): string {
  const hex = createHash("sha256").update(`uuid:${key}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
