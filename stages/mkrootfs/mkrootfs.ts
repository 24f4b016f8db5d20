// The mkrootfs stage: an unpacked image directory → an ext4 (or squashfs)
// image at `out`. Order of work: metadata and tree scan, size, build into a
// temp file beside `out`, rename. The stage never sees the root-image cache:
// the coordinator looks up and fills it (lib/rootfs-cache/).
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join, basename, resolve } from "node:path";
import type { StageContext } from "../../lib/ipc/stage.js";
import { buildExt4 } from "./ext4.js";
import { openUnpackedImage } from "./input.js";
import { readMetadata } from "./metadata.js";
import { readImageAccounts, type ImageAccounts } from "./accounts.js";
import { planRootfs } from "./plan.js";
import { discountHoles } from "./scan.js";
import type { MkrootfsRequest, RootfsType } from "./request.js";
import { chooseExt4Geometry } from "./size.js";
import { buildSquashfs } from "./squashfs.js";

export interface MkrootfsResult {
  /** The image built: the request's `out`, as an absolute path. */
  image: string;
  fs: RootfsType;
  /** The image's size (for ext4, the disk size). */
  bytes: number;
  /** The image's user and group names, for the runner's --user check. */
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
  const out = resolve(req.out);
  if (!statSync(dirname(out), { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`out: ${dirname(out)} is not an existing directory`);
  }

  progress(0, "scanning rootfs");
  const metadata = readMetadata(input.metadataFile);
  const plan = planRootfs(input.rootfs, metadata);
  // Rare (a sparse file, or inline data): the FFI that tells them apart loads only then.
  if (plan.usage.unallocated.length > 0) discountHoles(plan.usage, (await import("../../lib/fs/holds-data.js")).holdsData);
  const accounts = readImageAccounts(input.rootfs);
  signal.throwIfAborted();
  const target = createTempBeside(out);
  try {
    const warn = (message: string) => log("warn", message);
    if (req.fs === "ext4") {
      const geometry = chooseExt4Geometry(plan.usage, plan.changes, req.diskMiB);
      log("info", `${plan.usage.entries} entries, ${geometry.neededMiB} MiB needed, disk ${(geometry.blocks * 4096) / 2 ** 20} MiB, ${geometry.inodes} inodes, ${plan.changes.length} metadata changes`);
      await buildExt4(plan, { rootfs: input.rootfs, target, geometry, uuid: uuidFor(input.digest, req.diskMiB), signal, progress, warn });
    } else {
      await buildSquashfs(plan, { rootfs: input.rootfs, target, signal, progress, warn });
    }
    signal.throwIfAborted();
    progress(0.95, "storing image");
    renameSync(target, out);
    progress(1, "done");
    return { image: out, fs: req.fs, bytes: statSync(out).size, accounts };
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

/** A UUID derived from what shapes the image: equal inputs give byte-for-byte comparable images. */
function uuidFor(digest: string, diskMiB: number | undefined): string {
  const hex = createHash("sha256").update(`uuid:${digest}:${diskMiB ?? "auto"}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
