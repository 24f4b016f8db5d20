// The content-addressed cache of base images, under cacheRoot()/rootfs, kept
// by the coordinator alone (no stage is ever given it):
//   <key>.ext4 | <key>.squashfs   the image, read-only (0444), the runner's
//   <key>.json                    what it was built from, for `cache ls`
//   tmp/                          finished builds on their way in
// An image enters the cache only by link(2) from tmp/ once it is complete,
// so a build killed mid-way or failing on a full disk is never a cache
// entry; link never replaces an existing entry, so concurrent builds of one
// key cannot corrupt each other (the first wins).
// An image's mtime is its last use: lookups touch it, eviction takes the
// oldest first.
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync, chownSync, closeSync, fsyncSync, linkSync, lstatSync, openSync, readdirSync, readFileSync, realpathSync, renameSync,
  rmSync, statSync, unlinkSync, utimesSync, writeFileSync, type Stats,
} from "node:fs";
import { join } from "node:path";
import { cacheRoot } from "../paths.js";
import { MKE2FS_OPTIONS } from "../../stages/mkrootfs/ext4.js";
import { isDigest } from "../../stages/mkrootfs/input.js";
import type { RootfsType } from "../../stages/mkrootfs/request.js";
import { MKSQUASHFS_OPTIONS } from "../../stages/mkrootfs/squashfs.js";
import { buildToolIdentity } from "../../stages/mkrootfs/tool-identity.js";
import { UNPACK_VERSION } from "../../stages/unpack/version.js";
import { makeDirectory } from "../fs/make-directory.js";
import { copySparse } from "../fs/copy-sparse.js";
import { unprivilegedStageIds } from "../sandbox/stage-identity.js";
import type { ImageAccounts } from "../../stages/mkrootfs/accounts.js";
import type { RunConfig } from "../../stages/unpack/unpack.js";

/** Bump when the stage's output changes for the same input (new options, fixes in the plan). 2: squashfs without the build's clock. 3: the ext4 UUID from the digest, not the key. */
export const MKROOTFS_VERSION = 3;

/** The cache's default size limit (bytes of disk actually used; images are sparse). */
export const DEFAULT_CACHE_MAX_BYTES = 20 * 1024 ** 3;
/**
 * A file in tmp/ unchanged this long was left by a coordinator killed while
 * moving an image in: a rename is instant and a copy (from another file
 * system) writes all along.
 */
export const STALE_TEMP_MS = 10 * 60 * 1000;
/** Automatic eviction spares images used this recently: a run may be about to open one. */
const RECENT_USE_MS = 10 * 60 * 1000;

const KEY = /^[0-9a-f]{64}$/;
const IMAGE_NAME = /^([0-9a-f]{64})\.(ext4|squashfs)$/;

/**
 * Who vouches that `digest` names the tree being built. `verifiedLayers`:
 * the coordinator read the digest from the image itself (its documents
 * checked against their digests) and hashed every layer blob against these
 * digests, so the bytes unpack read are exactly these, and any build from
 * them is the same tree: a compromised unpack can spoil only the entry of
 * the very bytes that compromised it. (The config digest alone would not
 * do: another image can carry the same config over other layers, which
 * only unpack, decompressing them, would find out.) Otherwise only a
 * stage's word vouches for the tree: `claimedBy` keys such an entry apart,
 * by what the stage was given (a registry reference pinned to a digest
 * before unpack read a layer, `host/name@sha256:…`, whose `digest` is that
 * pin: bin/pipeline/registry-pin.ts; or `mkrootfs --input DIR`).
 */
export type DigestOrigin = { verifiedLayers: string[] } | { claimedBy: string };

/** The origin of a digest an unpacked directory's config.json names, handed to `mkrootfs --input` by hand: claimed by that directory. */
export function claimedByDirectory(dir: string): DigestOrigin {
  return { claimedBy: `mkrootfs --input ${realpathSync(dir)}` };
}

export interface CacheKeyInput {
  /** The image digest (the config digest, config.json's `digest`; a pinned registry reference's own digest). */
  digest: string;
  origin: DigestOrigin;
  fs: RootfsType;
  /** ext4 disk size; undefined is "content plus default headroom". */
  diskMiB?: number;
  /** The build tool's identity (default: the installed one, see tool-identity.ts). */
  tool?: string;
}

export interface CachedImage {
  key: string;
  image: string;
  fs: RootfsType;
  /** The image's size as a disk (apparent size). */
  bytes: number;
  /** Disk space it really takes (it is sparse). */
  diskBytes: number;
  lastUsed: Date;
  /** From the sidecar, when present. */
  digest?: string;
  /** The image's platform ("linux/amd64"), from the sidecar when it records one. */
  platform?: string;
  /** The image's user and group names (from the sidecar; images cached before they were recorded have none). */
  accounts?: ImageAccounts;
  /** Who vouched for the digest (from the sidecar; images cached before it was recorded have none). */
  origin?: DigestOrigin;
  /** How to run the image, when the sidecar records it (a registry image's: its hit comes before any unpack). */
  runConfig?: RunConfig;
}

export function rootfsCacheDir(): string {
  return join(cacheRoot(), "rootfs");
}

/** The cache key of an image built from `input`: a sha256 over everything that changes the result. */
export function cacheKey(input: CacheKeyInput): string {
  if (!isDigest(input.digest)) throw new Error(`cache key: ${JSON.stringify(input.digest)} is not an image digest`);
  const identity = {
    stage: "mkrootfs",
    version: MKROOTFS_VERSION,
    digest: input.digest,
    origin: input.origin,
    fs: input.fs,
    diskMiB: input.fs === "ext4" ? input.diskMiB ?? null : null,
    options: input.fs === "ext4" ? MKE2FS_OPTIONS : MKSQUASHFS_OPTIONS,
    tool: input.tool ?? buildToolIdentity(input.fs),
    unpack: UNPACK_VERSION,
  };
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex");
}

function imagePath(key: string, fs: RootfsType): string {
  return join(rootfsCacheDir(), `${key}.${fs}`);
}

function describe(key: string, fs: RootfsType, path: string, st: Stats): CachedImage {
  return { key, image: path, fs, bytes: st.size, diskBytes: st.blocks * 512, lastUsed: st.mtime };
}

/** The cached image for `key`, or null. A hit counts as a use (LRU). Costs a stat and a utimes. */
export function lookupCached(key: string): CachedImage | null {
  if (!KEY.test(key)) throw new Error(`cache lookup: ${JSON.stringify(key)} is not a cache key`);
  for (const fs of ["ext4", "squashfs"] as const) {
    const path = imagePath(key, fs);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (!st || !isSoundEntry(st)) continue;
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // evicted this instant
      // A cache we may read but not write (shared, read-only): still a hit.
    }
    return { ...describe(key, fs, path, st), lastUsed: now, ...runDetails(readSidecar(join(rootfsCacheDir(), `${key}.json`))) };
  }
  return null;
}

/**
 * Only an entry as commit() leaves it is booted: a regular file, the
 * runner's (or root's, in a cache shared read-only), writable by no one and
 * with no other name. Anything else was not put there by bencher-run
 * (a stage given the cache by an older version, say) and counts as absent.
 */
function isSoundEntry(st: Stats): boolean {
  return st.isFile() && (st.uid === process.getuid?.() || st.uid === 0) && (st.mode & 0o222) === 0 && st.nlink === 1;
}

/** What a cache entry's sidecar records about it. */
export interface CacheEntryAbout {
  digest: string;
  origin: DigestOrigin;
  diskMiB?: number;
  accounts?: ImageAccounts;
  platform?: string;
  runConfig?: RunConfig;
}

/**
 * The cache directory, made if need be and the runner's own. A cache from
 * before the stage stopped writing here belonged to the stage uid, so
 * anything in it may have been planted (keys are computable): it is
 * emptied, not just taken back (its entries' keys are all stale anyway).
 * Call it before the first lookup.
 */
export function ownCacheDir(): string {
  const dir = rootfsCacheDir();
  makeDirectory(dir, 0o755);
  if (process.getuid?.() === 0 && statSync(dir).uid === unprivilegedStageIds().uid) {
    chownSync(dir, 0, 0); // first: from here on the stage uid cannot add anything
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  makeDirectory(join(dir, "tmp")); // now: a cache that cannot take an image fails before the build, not after
  return dir;
}

/**
 * Takes a finished image a stage built (in the run's work directory) into
 * the cache under `key`: moved (or copied, from another file system) into
 * tmp/, made the runner's and read-only, then linked into place. Call it
 * only once the stage has ended: its sandbox's processes are gone with it,
 * so nothing of the stage holds the file open. If another build of the key
 * got there first, keeps theirs. `file` is gone afterwards either way.
 */
export function adoptIntoCache(file: string, key: string, fs: RootfsType, about: CacheEntryAbout): CachedImage {
  const st = lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new Error(`${file}: the built image is not a regular file${st?.isSymbolicLink() ? " (a symlink)" : ""}`);
  // Another name would outlive the run (a kept work directory) and reach the entry.
  if (st.nlink !== 1) throw new Error(`${file}: the built image has ${st.nlink} names; a cache entry may have no other`);
  const dir = join(ownCacheDir(), "tmp");
  const temp = join(dir, `${key}.${process.pid}.${randomBytes(6).toString("hex")}.partial`);
  try {
    try {
      renameSync(file, temp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
      const fd = openSync(temp, "wx", 0o600);
      try {
        const why = copySparse(file, fd);
        if (why !== undefined) throw new Error(`copying the built image into the cache (${dir}): ${why}`);
      } finally {
        closeSync(fd);
      }
      rmSync(file, { force: true });
    }
    if (process.getuid?.() === 0) chownSync(temp, 0, 0);
    return commit(temp, key, fs, about);
  } finally {
    rmSync(temp, { force: true });
    rmSync(file, { force: true });
  }
}

/** Links a finished image from tmp/ into place, with its sidecar, read-only and on disk. */
function commit(temp: string, key: string, fs: RootfsType, about: CacheEntryAbout): CachedImage {
  const final = imagePath(key, fs);
  const sidecar = join(rootfsCacheDir(), `${key}.json`);
  // On disk before it is visible (the tools sync on close, so this is cheap),
  // and read-only: boot overlays each run's writes (docs/architecture.md).
  const fd = openSync(temp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, 0o444);
  const sidecarTemp = `${temp}.json`;
  const sidecarContent: Sidecar = {
    key, fs, digest: about.digest, origin: about.origin, diskMiB: about.diskMiB ?? null, version: MKROOTFS_VERSION, created: new Date().toISOString(),
    ...(about.accounts ? { accounts: about.accounts } : {}),
    ...(about.platform ? { platform: about.platform } : {}),
    ...(about.runConfig ? { runConfig: about.runConfig } : {}),
  };
  writeFileSync(sidecarTemp, JSON.stringify(sidecarContent) + "\n");
  try {
    let won = true;
    try {
      linkSync(temp, final);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        // Another build of the key won the race, keep theirs; but an entry
        // lookups skip as unsound (planted, or changed since) is replaced,
        // never handed back to be booted. rename replaces even a symlink itself.
        const there = lstatSync(final, { throwIfNoEntry: false });
        if (there && isSoundEntry(there)) won = false;
        else renameSync(temp, final);
      } else if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") {
        renameSync(temp, final); // a file system without hard links: rename is atomic too (the last writer wins)
      } else {
        throw err;
      }
    }
    // The sidecar describes the image in place: ours only if ours went in.
    if (won) renameSync(sidecarTemp, sidecar);
  } finally {
    rmSync(sidecarTemp, { force: true });
  }
  const now = new Date();
  utimesSync(final, now, now);
  const st = statSync(final);
  syncDir(rootfsCacheDir());
  return { ...describe(key, fs, final, st), ...runDetails(readSidecar(sidecar)) };
}

/** What a run of a cached image needs besides the image (from its sidecar): the image's names, and how to run it if recorded. */
export function runDetails(about: Pick<CachedImage, "accounts" | "runConfig"> | undefined): Pick<CachedImage, "accounts" | "runConfig"> {
  return { ...(about?.accounts ? { accounts: about.accounts } : {}), ...(about?.runConfig ? { runConfig: about.runConfig } : {}) };
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort: durability across a host crash, not correctness
  }
}

/** Every image in the cache, most recently used first. */
export function listCache(): CachedImage[] {
  const dir = rootfsCacheDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const images: CachedImage[] = [];
  for (const name of names) {
    const match = IMAGE_NAME.exec(name);
    if (!match) continue;
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue; // evicted meanwhile
    const image = describe(match[1], match[2] as RootfsType, path, st);
    const sidecar = readSidecar(join(dir, `${match[1]}.json`));
    if (sidecar?.digest) image.digest = sidecar.digest;
    if (sidecar?.platform) image.platform = sidecar.platform;
    if (sidecar?.origin) image.origin = sidecar.origin;
    images.push(image);
  }
  return images.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime());
}

/** What `<key>.json` says about a cached image. */
interface Sidecar {
  key: string;
  fs: RootfsType;
  digest: string;
  origin: DigestOrigin;
  diskMiB: number | null;
  version: number;
  created: string;
  accounts?: ImageAccounts;
  /** config.json's platform; images cached before it was recorded have none. */
  platform?: string;
  /** config.json itself, for an image found in the cache before it is unpacked (a registry image's). */
  runConfig?: RunConfig;
}

/** The sidecar's fields that are well-formed; undefined if it is missing or unreadable. */
function readSidecar(path: string): { digest?: string; accounts?: ImageAccounts; platform?: string; origin?: DigestOrigin; runConfig?: RunConfig } | undefined {
  let about: Partial<Record<keyof Sidecar, unknown>>;
  try {
    about = JSON.parse(readFileSync(path, "utf8")) as typeof about;
  } catch {
    return undefined;
  }
  const names = (v: unknown): v is string[] | null => v === null || (Array.isArray(v) && v.every((n) => typeof n === "string"));
  const a = about.accounts as Partial<ImageAccounts> | undefined;
  const o = about.origin as { claimedBy?: unknown; verifiedLayers?: unknown } | undefined;
  const origin: DigestOrigin | undefined =
    typeof o?.claimedBy === "string" ? { claimedBy: o.claimedBy }
    : Array.isArray(o?.verifiedLayers) && o.verifiedLayers.every((d) => typeof d === "string") ? { verifiedLayers: o.verifiedLayers as string[] }
    : undefined;
  return {
    ...(origin ? { origin } : {}),
    ...(typeof about.digest === "string" ? { digest: about.digest } : {}),
    ...(typeof about.platform === "string" ? { platform: about.platform } : {}),
    ...(a && typeof a === "object" && names(a.users) && names(a.groups) ? { accounts: { users: a.users, groups: a.groups } } : {}),
    // Its fields are checked where it is used, as config.json's are (bin/pipeline/root-image.ts).
    ...(typeof about.runConfig === "object" && about.runConfig !== null && !Array.isArray(about.runConfig) ? { runConfig: about.runConfig as RunConfig } : {}),
  };
}

export interface PruneOptions {
  /** Keep at most this many bytes of disk in the cache (default DEFAULT_CACHE_MAX_BYTES; 0 empties it). */
  maxBytes?: number;
  /** Never evict these keys (the image a run is about to use). */
  keep?: string[];
  /** Spare images used within this many ms (default 0: the CLI's explicit prune). */
  sparedIfUsedWithinMs?: number;
}

export interface PruneResult {
  removed: CachedImage[];
  /** Disk bytes freed, leftovers of killed builds included. */
  freedBytes: number;
  /** Disk bytes the cache still holds. */
  keptBytes: number;
}

/** Evicts least recently used images until the cache holds at most `maxBytes`; also clears leftovers of killed builds. */
export function pruneCache(options: PruneOptions = {}): PruneResult {
  const maxBytes = options.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  if (!Number.isFinite(maxBytes) || maxBytes < 0) throw new Error(`cache prune: maxBytes must be a number of bytes ≥ 0, not ${maxBytes}`);
  const keep = new Set(options.keep ?? []);
  const sparedAfter = Date.now() - (options.sparedIfUsedWithinMs ?? 0);
  let freedBytes = clearStaleTemps() + clearOrphanSidecars();
  const images = listCache();
  let total = images.reduce((sum, image) => sum + image.diskBytes, 0);
  const removed: CachedImage[] = [];
  // Oldest use first.
  for (const image of [...images].reverse()) {
    if (total <= maxBytes) break;
    if (keep.has(image.key) || ((options.sparedIfUsedWithinMs ?? 0) > 0 && image.lastUsed.getTime() > sparedAfter)) continue;
    try {
      unlinkSync(image.image);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    rmSync(join(rootfsCacheDir(), `${image.key}.json`), { force: true });
    total -= image.diskBytes;
    freedBytes += image.diskBytes;
    removed.push(image);
  }
  return { removed, freedBytes, keptBytes: total };
}

/** Builds' temp files in tmp/: builds running now, or killed ones not yet cleared. */
export interface UnfinishedBuilds {
  count: number;
  diskBytes: number;
  /** Of them, those unchanged for STALE_TEMP_MS: prune removes these. */
  stale: number;
}

export function unfinishedBuilds(): UnfinishedBuilds {
  const found = tempFiles();
  const cutoff = Date.now() - STALE_TEMP_MS;
  return {
    count: found.length,
    diskBytes: found.reduce((sum, f) => sum + f.st.blocks * 512, 0),
    stale: found.filter((f) => f.st.mtimeMs <= cutoff).length,
  };
}

function tempFiles(): Array<{ path: string; st: Stats }> {
  const dir = join(rootfsCacheDir(), "tmp");
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    return st ? [{ path: join(dir, name), st }] : [];
  });
}

/** Removes tmp/ files unchanged for STALE_TEMP_MS: builds that were killed. Returns the bytes freed. */
function clearStaleTemps(): number {
  let freed = 0;
  const cutoff = Date.now() - STALE_TEMP_MS;
  for (const { path, st } of tempFiles()) {
    if (st.mtimeMs > cutoff) continue;
    rmSync(path, { force: true, recursive: true });
    freed += st.blocks * 512;
  }
  return freed;
}

/** Removes sidecars whose image is gone (a build killed between writing the two). */
function clearOrphanSidecars(): number {
  const dir = rootfsCacheDir();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  const present = new Set(names);
  for (const name of names) {
    const match = /^([0-9a-f]{64})\.json$/.exec(name);
    if (match && !present.has(`${match[1]}.ext4`) && !present.has(`${match[1]}.squashfs`)) {
      const st = statSync(join(dir, name), { throwIfNoEntry: false });
      if (st && st.mtimeMs < Date.now() - STALE_TEMP_MS) rmSync(join(dir, name), { force: true });
    }
  }
  return 0;
}

/** The automatic eviction after a build: spares the new image and anything in use right now. */
export function pruneAfterInsert(key: string, maxBytes = DEFAULT_CACHE_MAX_BYTES): PruneResult {
  return pruneCache({ maxBytes, keep: [key], sparedIfUsedWithinMs: RECENT_USE_MS });
}
