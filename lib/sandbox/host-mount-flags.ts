// The per-mount flags of the host mount a path lives on. A bind remount inside
// a user namespace must repeat the flags the kernel locked on the source
// (nosuid, nodev, noexec, atime), or it fails with EPERM; so the sandbox
// copies them from /proc/self/mountinfo.
import { readFileSync } from "node:fs";
import { isUnder } from "./mount-plan.js";

const KEPT = new Set(["nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime"]);

interface MountEntry { mountPoint: string; options: string[] }

export function readMountTable(text = readFileSync("/proc/self/mountinfo", "utf8")): MountEntry[] {
  return text.split("\n").filter(Boolean).map((line) => {
    const fields = line.split(" ");
    return { mountPoint: unescapeMountinfo(fields[4]), options: fields[5].split(",") };
  });
}

/** The lockable flags of the mount holding `path` (the deepest mount point above it; the last one wins). */
export function hostMountFlags(path: string, table = readMountTable()): string[] {
  let best: MountEntry | undefined;
  for (const entry of table) {
    if (isUnder(path, entry.mountPoint) && (!best || entry.mountPoint.length >= best.mountPoint.length)) best = entry;
  }
  return (best?.options ?? []).filter((o) => KEPT.has(o));
}

function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
