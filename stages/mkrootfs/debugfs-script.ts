// Turns the plan into one debugfs command file, so ownership, modes, device
// nodes, xattrs and sub-second mtimes cost one debugfs process, not one per
// file. debugfs parses lines with the `ss` library: a token in double quotes
// may hold spaces, and "" inside quotes is a literal quote. There is no escape
// for a newline, so paths with control characters never get here (a line
// break would let an image inject commands such as `write` or `dump`, which
// read and write host files).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { isScriptSafe, splitParent } from "../../lib/rootfs-metadata/image-path.js";
import type { EntryChange, RootfsPlan } from "./plan.js";
import { S_IFDIR, S_IFLNK } from "./scan.js";

/**
 * The longest script line debugfs reads whole: it reads lines with fgets into
 * a BUFSIZ (8192) buffer, so a longer line is cut and its rest read as a
 * command of its own, where a leading "!" runs a shell. Quoting doubles every
 * '"', so a 4 KiB path of quotes with a crafted xattr name could get there.
 */
export const MAX_DEBUGFS_LINE = 8190;

export interface DebugfsScript {
  text: string;
  commands: number;
  /** Entries whose sub-second mtime could not be set (names no script can hold). */
  skippedMtimes: number;
}

/** Quotes a path or name for debugfs. */
export function debugfsQuote(text: string): string {
  if (!isScriptSafe(text)) throw new Error(`internal: unsafe debugfs argument ${JSON.stringify(text)}`);
  return `"${text.replaceAll('"', '""')}"`;
}

/** ext4 keeps a timestamp's bits 32-33 and the nanoseconds in the `_extra` field: nsec << 2 | epoch. */
export function timeExtra(sec: number, nsec: number): number {
  const epoch = Math.floor((sec - (sec | 0)) / 2 ** 32) & 3;
  return nsec * 4 + epoch;
}

/**
 * Builds the script. Xattr values go into files under `valueDir` (debugfs
 * `ea_set -f`), so binary values need no quoting.
 */
export function buildDebugfsScript(plan: RootfsPlan, valueDir: string): DebugfsScript {
  const lines: string[] = [];
  let skippedMtimes = 0;
  let valueFiles = 0;
  let current = "/";
  const add = (...words: (string | number)[]) => {
    const line = words.join(" ");
    if (Buffer.byteLength(line) > MAX_DEBUGFS_LINE) {
      throw new Error(`rootfs: cannot set the metadata of ${JSON.stringify(current.slice(0, 200))}${current.length > 200 ? "…" : ""}: its name and xattr names are too long for debugfs once quoted`);
    }
    lines.push(line);
  };

  // mke2fs -d gives the root directory 0755 and the current time, whatever the source says.
  add("sif", '"/"', "mode", octal(S_IFDIR | plan.root.perm));
  add("sif", '"/"', "mtime", `@${plan.root.mtime.sec}`);
  add("sif", '"/"', "mtime_extra", timeExtra(plan.root.mtime.sec, plan.root.mtime.nsec));

  for (const change of plan.changes) {
    if (!isScriptSafe(change.path) || !change.exactName) {
      if (needsMoreThanMtime(change)) {
        throw new Error(`rootfs: cannot set owner, mode or xattrs of ${JSON.stringify(change.path)}: its name has control characters or is not UTF-8`);
      }
      skippedMtimes++;
      continue;
    }
    current = change.path;
    const path = debugfsQuote(change.path);
    if (change.create) {
      const [parent, name] = splitParent(change.path);
      const { kind, rdev } = change.create;
      add("cd", debugfsQuote(parent));
      add("mknod", debugfsQuote(name), ...(kind === "fifo" ? ["p"] : [kind === "chardev" ? "c" : "b", rdev[0], rdev[1]]));
      add("cd", '"/"');
      add("sif", path, "mode", octal(change.type | change.perm));
      if (change.uid !== 0) add("sif", path, "uid", change.uid);
      if (change.gid !== 0) add("sif", path, "gid", change.gid);
      // mknod stamps the node with the build's clock: the image's time instead, so equal images build equal.
      if (change.mtime) {
        add("sif", path, "mtime", `@${change.mtime.sec}`);
        if (change.mtime.nsec !== 0) add("sif", path, "mtime_extra", timeExtra(change.mtime.sec, change.mtime.nsec));
      }
    } else if (change.source) {
      if (change.type !== S_IFLNK && change.perm !== change.source.perm) add("sif", path, "mode", octal(change.type | change.perm));
      if (change.uid !== change.source.uid) add("sif", path, "uid", change.uid);
      if (change.gid !== change.source.gid) add("sif", path, "gid", change.gid);
      if (change.mtime) add("sif", path, "mtime_extra", timeExtra(change.mtime.sec, change.mtime.nsec));
    }
    for (const [name, value] of change.xattrs) {
      const file = join(valueDir, `xattr-${valueFiles++}`);
      writeFileSync(file, value);
      add("ea_set", "-f", debugfsQuote(file), path, debugfsQuote(name));
    }
  }
  return { text: lines.join("\n") + "\n", commands: lines.length, skippedMtimes };
}

function needsMoreThanMtime(change: EntryChange): boolean {
  if (change.create || change.xattrs.length > 0 || !change.source) return true;
  const permDiffers = change.type !== S_IFLNK && change.perm !== change.source.perm;
  return permDiffers || change.uid !== change.source.uid || change.gid !== change.source.gid;
}

function octal(mode: number): string {
  return "0" + mode.toString(8);
}
