// A root image through the cache with the stage function in-process (the
// CLI and pipeline tests cover the sandboxed stage): a staging directory of
// its own under `work` unless told, and a checked digest unless told.
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CachedRootImage } from "../../../lib/rootfs-cache/cached-build.js";
import type { DigestOrigin } from "../../../lib/rootfs-cache/cache.js";
import { cachedRootImageInProcess } from "../../../lib/rootfs-cache/in-process.js";
import type { RootfsType } from "../../../stages/mkrootfs/request.js";

/** The origin tests use for a checked image: a fixture directory has no layers to verify. */
export const VERIFIED: DigestOrigin = { verifiedLayers: [] };

export interface BuildOptions {
  fs?: RootfsType;
  diskMiB?: number;
  /** Default: verified layers (none here), as for a local image the pipeline read and hashed itself. */
  origin?: DigestOrigin;
  /** Where the stage writes (default: a new directory under `work`). */
  staging?: string;
}

/** The digest an unpacked directory's config.json names. */
export function configDigest(input: string): string {
  return (JSON.parse(readFileSync(join(input, "config.json"), "utf8")) as { digest: string }).digest;
}

export function buildCached(input: string, work: string, options: BuildOptions = {}): Promise<CachedRootImage> {
  const staging = options.staging ?? mkdtempSync(join(work, "staging-"));
  return cachedRootImageInProcess(input, staging, { fs: options.fs ?? "ext4", diskMiB: options.diskMiB, origin: options.origin ?? VERIFIED });
}
