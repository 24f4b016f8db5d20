// Builds the read-only squashfs image with mksquashfs. Owners, modes and
// device nodes come from a pseudo-definitions file (-pf). squashfs-tools 4.5
// reads one definition per line, takes a backslash as "the next character is
// part of the name", and runs a command for `f` definitions, so (as for
// debugfs) no path with a control character may reach it.
//
// Device nodes and FIFOs are made with the timestamped definitions (C, B, I):
// their metadata.jsonl mtime, else the root's, as debugfs gives them in ext4,
// never the build's clock; the superblock's time is the root's too. squashfs times are unsigned 32-bit seconds, so a
// later mtime is clamped (mksquashfs itself would wrap it round to 1970+).
//
// Xattrs from metadata.jsonl cannot be added: pseudo xattr definitions came
// with squashfs-tools 4.6. They are reported, not silently dropped.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isScriptSafe } from "../../lib/rootfs-metadata/image-path.js";
import type { EntryChange, RootfsPlan } from "./plan.js";
import { S_IFLNK } from "./scan.js";
import { lastLine, runTool } from "./tools.js";

/** Everything that shapes the image besides the tree; part of the cache key. gzip: the guest kernel's squashfs always has zlib. */
export const MKSQUASHFS_OPTIONS = ["-noappend", "-comp", "gzip", "-exit-on-error", "-no-progress", "-quiet"] as const;

/** The latest time a squashfs inode can hold. */
export const SQUASHFS_MAX_TIME = 2 ** 32 - 1;

function squashfsTime(sec: number): number {
  return Math.max(0, Math.min(sec, SQUASHFS_MAX_TIME));
}

/** Escapes a path for a pseudo-definitions file: backslash before backslash, quote and space. */
export function pseudoQuote(path: string): string {
  if (!isScriptSafe(path)) throw new Error(`internal: unsafe pseudo file name ${JSON.stringify(path)}`);
  return path.replace(/[\\" ]/g, (c) => `\\${c}`);
}

export interface PseudoFile {
  text: string;
  droppedXattrs: number;
}

export function buildPseudoFile(plan: RootfsPlan): PseudoFile {
  const lines: string[] = [];
  let droppedXattrs = 0;
  for (const change of plan.changes) {
    droppedXattrs += change.xattrs.length;
    if (change.path === "/") continue; // set with -root-* options
    const line = pseudoLine(change, plan.root.mtime.sec);
    if (line === null) continue;
    if (!isScriptSafe(change.path) || !change.exactName) {
      throw new Error(`rootfs: cannot set owner or mode of ${JSON.stringify(change.path)}: its name has control characters or is not UTF-8`);
    }
    lines.push(line);
  }
  return { text: lines.join("\n") + "\n", droppedXattrs };
}

function pseudoLine(change: EntryChange, rootSec: number): string | null {
  const name = () => pseudoQuote(change.path);
  const perm = change.perm.toString(8);
  if (change.create) {
    const { kind, rdev } = change.create;
    const time = squashfsTime(change.mtime?.sec ?? rootSec);
    if (kind === "fifo") return `${name()} I ${time} ${perm} ${change.uid} ${change.gid} f`;
    return `${name()} ${kind === "chardev" ? "C" : "B"} ${time} ${perm} ${change.uid} ${change.gid} ${rdev[0]} ${rdev[1]}`;
  }
  const source = change.source!;
  const permDiffers = change.type !== S_IFLNK && change.perm !== source.perm;
  if (!permDiffers && change.uid === source.uid && change.gid === source.gid) return null;
  // `m` sets mode, uid and gid together; a symlink keeps its 0777.
  const mode = change.type === S_IFLNK ? "777" : perm;
  return `${name()} m ${mode} ${change.uid} ${change.gid}`;
}

export interface SquashfsBuildOptions {
  rootfs: string;
  target: string;
  signal?: AbortSignal;
  progress?: (fraction: number, message: string) => void;
  warn?: (message: string) => void;
}

export async function buildSquashfs(plan: RootfsPlan, options: SquashfsBuildOptions): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "mkrootfs-squashfs-"));
  try {
    const pseudo = buildPseudoFile(plan);
    if (pseudo.droppedXattrs > 0) {
      options.warn?.(`${pseudo.droppedXattrs} xattrs from metadata.jsonl were not stored: this mksquashfs cannot add xattrs (use ext4 to keep them)`);
    }
    const pseudoFile = join(scratch, "pseudo");
    writeFileSync(pseudoFile, pseudo.text);
    const root = plan.root;
    options.progress?.(0.1, "mksquashfs");
    const result = await runTool(
      "mksquashfs",
      [
        options.rootfs, options.target,
        ...MKSQUASHFS_OPTIONS,
        "-root-mode", root.perm.toString(8),
        "-root-uid", String(root.uid),
        "-root-gid", String(root.gid),
        // The superblock's time too, as ext4's comes from the root's: equal inputs give equal images.
        "-mkfs-time", String(squashfsTime(root.mtime.sec)),
        "-pf", pseudoFile,
      ],
      options.signal,
    );
    if (result.exitCode !== 0) throw new Error(`mksquashfs failed: ${lastLine(result.stderr || result.stdout)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
