// Which entries the file system builders must change after copying the tree:
// what metadata.jsonl lists, owners that differ from the contract's default
// 0:0, and (ext4) sub-second mtimes that `mke2fs -d` drops.
import type { MetadataEntry, SpecialKind } from "./metadata.js";
import { scanRootfs, S_IFDIR, S_IFLNK, S_IFMT, type ScannedEntry, type TreeUsage } from "./scan.js";
import { splitParent } from "../../lib/rootfs-metadata/image-path.js";

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export interface EntryChange {
  path: string;
  /** S_IFMT bits of the final inode. */
  type: number;
  /** A node that exists only in metadata.jsonl. */
  create?: { kind: SpecialKind; rdev: [number, number] };
  /** The wanted final values. */
  perm: number;
  uid: number;
  gid: number;
  /** What copying the host tree records (null for created nodes). */
  source: { perm: number; uid: number; gid: number } | null;
  mtime: { sec: number; nsec: number } | null;
  xattrs: [string, Buffer][];
  /** False when the host name is not UTF-8: no script can name it. */
  exactName: boolean;
}

export interface RootfsPlan {
  usage: TreeUsage;
  changes: EntryChange[];
  /** The root directory's wanted owner and mode (every builder sets it its own way). */
  root: { perm: number; uid: number; gid: number; mtime: { sec: number; nsec: number } };
}

const KIND_TYPE: Record<SpecialKind, number> = { chardev: S_IFCHR, blockdev: S_IFBLK, fifo: S_IFIFO };

/** Scans `rootfs` and matches it against metadata.jsonl; throws a one-line error on contradictions. */
/** The entry mke2fs makes in every root itself: a node created there would be a second entry of that name (a corrupt image). */
const LOST_AND_FOUND = "/lost+found";

export function planRootfs(rootfs: string, metadata: Map<string, MetadataEntry>): RootfsPlan {
  const changes: EntryChange[] = [];
  const kept = metadata.get(LOST_AND_FOUND);
  if (kept?.kind) throw new Error(`metadata.jsonl: ${JSON.stringify(LOST_AND_FOUND)} is a ${kept.kind}, but ext4 keeps that name for its own directory`);
  // The parents special nodes are created in must be real directories of the tree.
  const parentsNeeded = new Set<string>();
  for (const entry of metadata.values()) if (entry.kind) parentsNeeded.add(splitParent(entry.path)[0]);
  const directories = new Set<string>();
  const listedSeen = new Set<string>();
  let root: RootfsPlan["root"] | undefined;

  const visit = (entry: ScannedEntry): void => {
    const type = entry.mode & S_IFMT;
    if (entry.path === LOST_AND_FOUND && type !== S_IFDIR) throw new Error(`rootfs: ${JSON.stringify(LOST_AND_FOUND)} is not a directory, but ext4 keeps that name for its own directory`);
    if (type === S_IFDIR && parentsNeeded.has(entry.path)) directories.add(entry.path);
    const listed = entry.exactName ? metadata.get(entry.path) : undefined;
    if (listed) {
      listedSeen.add(entry.path);
      if (listed.kind) throw new Error(`metadata.jsonl: ${JSON.stringify(entry.path)} is a ${listed.kind} but exists in rootfs/`);
    }
    const source = { perm: entry.mode & 0o7777, uid: entry.uid, gid: entry.gid };
    const wanted = {
      // A symlink's mode means nothing; keep whatever the copy gives it.
      perm: type !== S_IFLNK && listed?.mode !== undefined ? listed.mode : source.perm,
      uid: listed?.uid ?? 0,
      gid: listed?.gid ?? 0,
    };
    const mtime = { sec: entry.mtimeSec, nsec: entry.mtimeNsec };
    if (entry.path === "/") root = { ...wanted, mtime };
    const ownerDiffers = wanted.uid !== source.uid || wanted.gid !== source.gid || wanted.perm !== source.perm;
    // A hard link's inode was handled at its first path, unless metadata names this path.
    if (entry.repeatLink && !listed) return;
    if (!listed && !ownerDiffers && entry.mtimeNsec === 0) return;
    changes.push({
      path: entry.path,
      type,
      ...wanted,
      source,
      mtime: entry.mtimeNsec !== 0 ? mtime : null,
      xattrs: listed?.xattrs ?? [],
      exactName: entry.exactName,
    });
  };
  const usage = scanRootfs(rootfs, visit);

  for (const entry of metadata.values()) {
    if (entry.kind) {
      const parent = splitParent(entry.path)[0];
      if (!directories.has(parent)) {
        throw new Error(`metadata.jsonl: cannot create ${entry.kind} ${JSON.stringify(entry.path)}: ${JSON.stringify(parent)} is not a directory in rootfs/`);
      }
      changes.push({
        path: entry.path,
        type: KIND_TYPE[entry.kind],
        create: { kind: entry.kind, rdev: entry.rdev ?? [0, 0] },
        perm: entry.mode ?? 0o644,
        uid: entry.uid ?? 0,
        gid: entry.gid ?? 0,
        source: null,
        mtime: entry.mtime === undefined ? null : splitSeconds(entry.mtime),
        xattrs: entry.xattrs ?? [],
        exactName: true,
      });
      usage.inodes++;
      usage.entries++;
    } else if (!listedSeen.has(entry.path)) {
      throw new Error(`metadata.jsonl: ${JSON.stringify(entry.path)} does not exist in rootfs/`);
    }
  }
  return { usage, changes, root: root! };
}

/** Seconds, perhaps with a fraction (a PAX mtime), as whole seconds and nanoseconds. */
function splitSeconds(seconds: number): { sec: number; nsec: number } {
  const sec = Math.floor(seconds);
  return { sec, nsec: Math.min(999_999_999, Math.round((seconds - sec) * 1e9)) };
}
