// What a caller asks of the mkrootfs stage, checked field by field: requests
// arrive over the stage pipe as untyped msgpack.
import { isPlainObject } from "../../lib/ipc/errors.js";

export type RootfsType = "ext4" | "squashfs";

export interface MkrootfsRequest {
  /** An unpacked image directory: `rootfs/`, `metadata.jsonl`, `config.json` (see docs/architecture.md). */
  input: string;
  /** Where to write the image (a new file in an existing directory). */
  out: string;
  fs: RootfsType;
  /** ext4 only: the disk size in MiB; by default the content plus headroom for the benchmark's writes. */
  diskMiB?: number;
}

/** ext4 cannot hold more on a 4 KiB-block, 64-bit file system than this many MiB (64 ZiB); we stop far below. */
export const MAX_DISK_MIB = 16 * 1024 * 1024; // 16 TiB

const FIELDS = new Set(["input", "out", "fs", "diskMiB"]);

/** Validates a raw request; throws an Error with a one-line message naming the bad field. */
/** Why a disk size cannot go with a squashfs root: the stage, the pipeline and the command line all say it so. */
export const SQUASHFS_DISK_SIZE = "applies to ext4 only (squashfs is read-only and sized by its content)";

export function parseMkrootfsRequest(raw: unknown): MkrootfsRequest {
  if (!isPlainObject(raw)) throw new Error("mkrootfs request: expected an object");
  for (const key of Object.keys(raw)) {
    // The stage never sees the cache: the caller keeps it (lib/rootfs-cache/).
    if (key === "cache") throw new Error("mkrootfs request: cache is no longer a stage field: the stage builds into out, and the caller caches (lib/rootfs-cache/cached-build.ts)");
    if (!FIELDS.has(key)) throw new Error(`mkrootfs request: unknown field ${JSON.stringify(key)}`);
  }
  const { input, out, fs, diskMiB } = raw;
  if (typeof input !== "string" || input === "") throw new Error("mkrootfs request: input must be a non-empty path");
  if (typeof out !== "string" || out === "") throw new Error("mkrootfs request: out must be a non-empty path (where to write the image)");
  if (fs !== undefined && fs !== "ext4" && fs !== "squashfs") {
    throw new Error(`mkrootfs request: fs must be "ext4" or "squashfs", not ${JSON.stringify(fs)}`);
  }
  if (diskMiB !== undefined) {
    if (typeof diskMiB !== "number" || !Number.isInteger(diskMiB) || diskMiB < 1 || diskMiB > MAX_DISK_MIB) {
      throw new Error(`mkrootfs request: diskMiB must be a whole number of MiB between 1 and ${MAX_DISK_MIB}, not ${JSON.stringify(diskMiB)}`);
    }
    if (fs === "squashfs") throw new Error(`mkrootfs request: diskMiB ${SQUASHFS_DISK_SIZE}`);
  }
  const request: MkrootfsRequest = { input, out, fs: fs ?? "ext4" };
  if (diskMiB !== undefined) request.diskMiB = diskMiB;
  return request;
}
