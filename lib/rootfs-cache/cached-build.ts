// A root image through the cache, as the coordinator gets one: a hit costs a
// stat; on a miss the mkrootfs stage builds into a file in the run's work
// directory (it is never given the cache), and once it has ended the file is
// adopted into the cache under the key computed here, from the digest and
// its origin the coordinator vouches for. So a compromised stage can spoil
// only the entry it was asked to build, and never touch one already there.
import { join } from "node:path";
import type { ImageAccounts } from "../../stages/mkrootfs/accounts.js";
import type { RootfsType } from "../../stages/mkrootfs/request.js";
import type { RunConfig } from "../../stages/unpack/unpack.js";
import { adoptIntoCache, cacheKey, lookupCached, ownCacheDir, pruneAfterInsert, runDetails, type DigestOrigin } from "./cache.js";

export interface WantedRootImage {
  digest: string;
  /** `{verifiedLayers}` only for layer blobs the caller hashed itself; anything else is `{claimedBy}` (cache.ts). */
  origin: DigestOrigin;
  fs: RootfsType;
  diskMiB?: number | undefined;
  /** config.json's platform, recorded for `cache ls`. */
  platform?: string | undefined;
  /**
   * config.json, recorded when a later run must find the image before it
   * unpacks it (a registry image's, keyed by its pinned reference);
   * its digest (the image ID) is then the one `cache ls` shows.
   */
  runConfig?: RunConfig | undefined;
}

export interface CachedRootImage {
  /** The read-only base image in the cache. */
  image: string;
  fs: RootfsType;
  bytes: number;
  cacheKey: string;
  /** True when it was in the cache already. */
  cached: boolean;
  accounts?: ImageAccounts;
  runConfig?: RunConfig;
}

/** What the build callback's stage made: the file it was told to write, and the image's names. */
export interface BuiltImage {
  image: string;
  accounts?: ImageAccounts;
}

/**
 * `build(out)` runs the stage to write the image to `out` (a file in
 * `stagingDir`, a directory the stage may write) and resolves once it has
 * ended. `onEvicted` hears of images the cache dropped to stay in bounds.
 */
export async function cachedRootImage(
  wanted: WantedRootImage,
  stagingDir: string,
  build: (out: string) => Promise<BuiltImage>,
  onEvicted: (count: number, bytes: number) => void = () => {},
): Promise<CachedRootImage> {
  const key = cacheKey(wanted);
  ownCacheDir(); // before the lookup: a cache an older version gave the stage uid is emptied first
  const hit = lookupCached(key);
  if (hit) return { image: hit.image, fs: wanted.fs, bytes: hit.bytes, cacheKey: key, cached: true, ...runDetails(hit) };
  const out = join(stagingDir, `image.${wanted.fs}`);
  const made = await build(out);
  const entry = adoptIntoCache(out, key, wanted.fs, {
    digest: wanted.runConfig?.digest ?? wanted.digest, origin: wanted.origin,
    ...(wanted.diskMiB !== undefined ? { diskMiB: wanted.diskMiB } : {}),
    ...(made.accounts ? { accounts: made.accounts } : {}),
    ...(wanted.platform !== undefined ? { platform: wanted.platform } : {}),
    ...(wanted.runConfig !== undefined ? { runConfig: wanted.runConfig } : {}),
  });
  const pruned = pruneAfterInsert(key);
  if (pruned.removed.length > 0) onEvicted(pruned.removed.length, pruned.freedBytes);
  // The entry's own details: another build of the key may have won the race in.
  return { image: entry.image, fs: wanted.fs, bytes: entry.bytes, cacheKey: key, cached: false, ...runDetails(entry) };
}
