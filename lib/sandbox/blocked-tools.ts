// Filesystem creation tools that only the mkrootfs stage may run (mke2fs for
// ext4, mksquashfs for squashfs, and the rest no stage needs). Every other
// stage sees /dev/null in their place (bound over them in its mount namespace).
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";

const TOOL_NAMES = [
  "mke2fs", "mkfs.ext2", "mkfs.ext3", "mkfs.ext4", "mkfs", "busybox",
  // Every other filesystem builder this kind of host ships (squashfs-tools, util-linux, ...).
  "mksquashfs", "mkfs.minix", "mkfs.bfs", "mkfs.cramfs", "mkfs.fat", "mkfs.vfat", "mkfs.msdos", "mkdosfs",
  "mkfs.xfs", "mkfs.btrfs", "mkfs.f2fs", "mkfs.erofs", "mkfs.exfat", "mkfs.ntfs", "mkntfs", "mkswap",
];
const TOOL_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
// The library behind every e2fsprogs tool: without it a copied mke2fs cannot run either.
const LIBRARY_DIRS = ["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/lib/x86_64-linux-gnu"];

/** Real paths of the mkfs tools and libext2fs on this host (each file once). */
export function mkfsToolPaths(): string[] {
  const found = new Set<string>();
  for (const dir of TOOL_DIRS) {
    for (const name of TOOL_NAMES) addReal(found, join(dir, name));
  }
  for (const dir of LIBRARY_DIRS) {
    for (const name of ["libext2fs.so.2", "libext2fs.so"]) addReal(found, join(dir, name));
  }
  return [...found].sort();
}

function addReal(found: Set<string>, path: string): void {
  if (!existsSync(path)) return;
  try {
    found.add(realpathSync(path));
  } catch {
    // Vanished or unreadable: nothing to hide.
  }
}
