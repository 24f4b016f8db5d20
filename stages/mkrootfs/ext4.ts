// Builds the ext4 image: `mke2fs -d` copies the tree (contents, modes, links,
// timestamps), then one `debugfs -w -f` run applies what an unprivileged
// process could not put on the host (owners, devices, FIFOs, xattrs) and
// what mke2fs drops (sub-second mtimes, the root directory's mode and time).
//
// Options and why:
// - no journal: every run's writes go to a throw-away copy-on-write overlay
//   (see docs/architecture.md), so there is nothing to recover after a
//   crash, and a journal would double the guest's metadata writes.
// - -m 0: the benchmark may run as a non-root user; no blocks held back.
// - the image file is created sparse and mke2fs "discards" it (punches
//   holes), after which it skips zeroing inode tables and marks them zeroed:
//   the guest kernel then has no lazy init to do, and unused space costs no disk.
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildDebugfsScript } from "./debugfs-script.js";
import type { RootfsPlan } from "./plan.js";
import type { Ext4Geometry } from "./size.js";
import { BLOCK } from "./scan.js";
import { lastLine, runTool } from "./tools.js";

/** Everything that shapes the image besides the tree and the size; part of the cache key. */
export const MKE2FS_OPTIONS = ["-t", "ext4", "-b", String(BLOCK), "-I", "256", "-m", "0", "-O", "^has_journal"] as const;

export interface Ext4BuildOptions {
  rootfs: string;
  /** An existing empty file; it is sized and written in place. */
  target: string;
  geometry: Ext4Geometry;
  /** Fixed UUID (and directory hash seed) so equal inputs give equal images. */
  uuid: string;
  signal?: AbortSignal;
  progress?: (fraction: number, message: string) => void;
  warn?: (message: string) => void;
}

export async function buildExt4(plan: RootfsPlan, options: Ext4BuildOptions): Promise<void> {
  const { rootfs, target, geometry, uuid, signal } = options;
  const root = plan.root;
  options.progress?.(0.1, "mkfs.ext4 -d");
  sizeDisk(target, geometry);
  // libext2fs's clock: mke2fs stamps the root directory (and the superblock) with it,
  // so the root's mtime needs no debugfs pass, and equal inputs give equal images.
  const clock: Record<string, string> = root.mtime.sec > 0 ? { E2FSPROGS_FAKE_TIME: String(root.mtime.sec) } : {};
  const mkfs = await runTool(
    "mkfs.ext4",
    [
      "-q", "-F",
      ...MKE2FS_OPTIONS,
      "-N", String(geometry.inodes),
      "-U", uuid,
      "-E", `root_owner=${root.uid}:${root.gid},hash_seed=${uuid}`,
      "-d", rootfs,
      target,
      String(geometry.blocks),
    ],
    signal,
    clock,
  );
  if (mkfs.exitCode !== 0) {
    const message = lastLine(mkfs.stderr);
    if (/Could not allocate|No free space|too many inodes|Could not allocate inode/i.test(mkfs.stderr)) {
      throw new Error(`disk of ${(geometry.blocks * BLOCK) / (1024 * 1024)} MiB is too small for the image's content (mkfs.ext4: ${message})`);
    }
    throw new Error(`mkfs.ext4 failed: ${message}`);
  }

  // mke2fs gave the root 0755 and the clock's time; often that is all the plan asks for.
  const rootDone = root.perm === 0o755 && root.mtime.nsec === 0 && root.mtime.sec > 0;
  if (plan.changes.length === 0 && rootDone) return;
  options.progress?.(0.7, "applying metadata with debugfs");
  const scratch = mkdtempSync(join(tmpdir(), "mkrootfs-debugfs-"));
  try {
    const script = buildDebugfsScript(plan, scratch);
    if (script.skippedMtimes > 0) {
      options.warn?.(`${script.skippedMtimes} entries have names debugfs cannot address (control characters or not UTF-8); their sub-second mtimes were dropped`);
    }
    const scriptFile = join(scratch, "script");
    writeFileSync(scriptFile, script.text);
    const debugfs = await runTool("debugfs", ["-w", "-f", scriptFile, target], signal, clock);
    // debugfs exits 0 even when a command fails; anything on stderr past its banner is a failure.
    const problems = debugfs.stderr.split("\n").filter((line) => line.trim() !== "" && !/^debugfs \d/.test(line));
    if (debugfs.exitCode !== 0 || problems.length > 0) {
      throw new Error(`debugfs could not apply metadata: ${problems[0] ?? lastLine(debugfs.stderr)}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * The sparse disk file at its full size. A size the file system (or the
 * process's file-size limit) refuses is named with what the content needs,
 * the one line a user can act on: Node's "EFBIG: file too large, ftruncate"
 * named neither.
 */
function sizeDisk(target: string, geometry: Ext4Geometry): void {
  try {
    truncateSync(target, geometry.blocks * BLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EFBIG") throw err;
    const diskMiB = (geometry.blocks * BLOCK) / 2 ** 20;
    throw new Error(`disk of ${diskMiB} MiB is larger than one file may be where the image is built (EFBIG); the content needs ${geometry.neededMiB} MiB`);
  }
}
