// Test helper: reads an ext4 image with debugfs (no mount, no root), so tests
// compare what the image holds with what the source said.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface InodeInfo {
  ino: number;
  type: string;
  /** Permission bits (with setuid/setgid/sticky). */
  perm: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  mtimeSec: number;
  mtimeNsec: number;
  symlinkTarget?: string;
  rdev?: [number, number];
  xattrNames: string[];
}

/** e2fsprogs lives in /usr/sbin, which a non-root PATH may lack. */
function sbin(name: string): string {
  return [`/usr/sbin/${name}`, `/sbin/${name}`].find((path) => existsSync(path)) ?? name;
}
const DEBUGFS = sbin("debugfs");
export const debugfsPath = () => DEBUGFS;

function quote(path: string): string {
  return `"${path.replaceAll('"', '""')}"`;
}

export function debugfs(image: string, command: string): string {
  return execFileSync(DEBUGFS, ["-R", command, image], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `stat` of one path; throws when it does not exist. */
export function statPath(image: string, path: string): InodeInfo {
  const out = debugfs(image, `stat ${quote(path)}`);
  const head = /Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)/.exec(out);
  if (!head) throw new Error(`debugfs stat ${path}: ${out.trim() || "not found"}`);
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+).*Size: (\d+)/.exec(out)!;
  const links = /Links: (\d+)/.exec(out)!;
  const mtime = /\bmtime: 0x([0-9a-f]+):([0-9a-f]+)/.exec(out)!;
  const info: InodeInfo = {
    ino: Number(head[1]),
    type: head[2],
    perm: parseInt(head[3], 8),
    uid: Number(owner[1]),
    gid: Number(owner[2]),
    size: Number(owner[3]),
    links: Number(links[1]),
    mtimeSec: parseInt(mtime[1], 16) | 0,
    mtimeNsec: Math.floor(parseInt(mtime[2], 16) / 4),
    xattrNames: [],
  };
  const fast = /Fast link dest: "(.*)"/.exec(out);
  if (fast) info.symlinkTarget = fast[1];
  const dev = /Device major\/minor number: (\d+):(\d+)/.exec(out);
  if (dev) info.rdev = [Number(dev[1]), Number(dev[2])];
  const xattrs = out.split("Extended attributes:")[1];
  if (xattrs) {
    for (const line of xattrs.split("\n")) {
      const m = /^\s+(\S+) \(\d+\)/.exec(line);
      if (m) info.xattrNames.push(m[1]);
      else if (line.trim() !== "" && !line.startsWith(" ")) break;
    }
  }
  return info;
}

/** A file's bytes. */
export function readImageFile(image: string, path: string): Buffer {
  return execFileSync(DEBUGFS, ["-R", `cat ${quote(path)}`, image], { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 1 << 30 });
}

/** An xattr's exact value. */
export function readXattr(image: string, path: string, name: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "mkrootfs-xattr-"));
  try {
    const file = join(dir, "value");
    debugfs(image, `ea_get -f ${quote(file)} ${quote(path)} ${name}`);
    return readFileSync(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Names in a directory (without . and ..). */
export function listDir(image: string, path: string): string[] {
  const out = debugfs(image, `ls -p ${quote(path)}`);
  const names: string[] = [];
  for (const line of out.split("\n")) {
    // /ino/mode/uid/gid/name/size/
    const m = /^\/\d+\/\d+\/\d+\/\d+\/(.*)\/[^/]*\/$/.exec(line);
    if (m && m[1] !== "." && m[1] !== "..") names.push(m[1]);
  }
  return names.sort();
}

/** `e2fsck -fn` output and whether it found the file system clean. */
export function fsck(image: string): { clean: boolean; output: string } {
  try {
    const output = execFileSync(sbin("e2fsck"), ["-fn", image], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return { clean: true, output };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { clean: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}
