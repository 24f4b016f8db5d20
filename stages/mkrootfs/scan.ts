// One pass over the unpacked rootfs: how much space its content needs in
// ext4, and every entry's owner/mode/mtime for the plan (plan.ts). Names are
// handled as bytes: an image may hold names that are not UTF-8.
import { lstatSync, readdirSync, type BigIntStats } from "node:fs";

export const BLOCK = 4096;
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

export interface ScannedEntry {
  /** Image path ("/" for the root); names that are not UTF-8 come out with U+FFFD. */
  path: string;
  /** False when the path's bytes are not valid UTF-8, so `path` does not name the file exactly. */
  exactName: boolean;
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Not the first path seen for this inode (a hard link). */
  repeatLink: boolean;
}

/** What the tree costs in a 4 KiB-block ext4 (an estimate on the safe side). */
export interface TreeUsage {
  entries: number;
  /** Distinct inodes, root included. */
  inodes: number;
  dataBlocks: number;
  dirBlocks: number;
  /** Symlink targets too long to live in the inode (60 bytes and more). */
  symlinkBlocks: number;
}

/** Bytes a directory entry takes: 8-byte header and the name padded to 4. */
function direntBytes(nameLength: number): number {
  return 8 + ((nameLength + 3) & ~3);
}
/** A dir block's usable bytes: metadata_csum keeps a 12-byte tail. */
const DIR_BLOCK_BYTES = BLOCK - 12;
/** One extent maps up to 32768 blocks; an inode holds 4, an extent block 340. */
const BLOCKS_PER_EXTENT = 32768;

export function scanRootfs(rootfs: string, visit: (entry: ScannedEntry) => void): TreeUsage {
  const usage: TreeUsage = { entries: 0, inodes: 0, dataBlocks: 0, dirBlocks: 0, symlinkBlocks: 0 };
  const linkedInodes = new Set<bigint>();
  const root = Buffer.from(rootfs);

  const record = (imagePath: Buffer, st: BigIntStats): void => {
    const mode = Number(st.mode);
    const type = mode & S_IFMT;
    let repeatLink = false;
    if (type !== S_IFDIR && st.nlink > 1n) {
      repeatLink = linkedInodes.has(st.ino);
      linkedInodes.add(st.ino);
    }
    usage.entries++;
    if (!repeatLink) {
      usage.inodes++;
      if (type === S_IFREG) {
        // Holes stay holes (mke2fs -d copies with SEEK_DATA), so count what the host allocated.
        const size = Number(st.size);
        const allocated = Number(st.blocks) * 512;
        const blocks = Math.ceil((allocated > 0 ? Math.min(size, allocated) : size) / BLOCK);
        const extents = Math.ceil(blocks / BLOCKS_PER_EXTENT);
        usage.dataBlocks += blocks + (extents > 4 ? Math.ceil(extents / 340) : 0);
      } else if (type === S_IFLNK && st.size >= 60n) {
        usage.symlinkBlocks++;
      }
    }
    const name = imagePath.length === 0 ? "/" : imagePath.toString("utf8");
    const exactName = imagePath.length === 0 || Buffer.from(name, "utf8").equals(imagePath);
    visit({
      path: name,
      exactName,
      mode,
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
      mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      repeatLink,
    });
  };

  const rootStat = lstatSync(root, { bigint: true });
  record(Buffer.alloc(0), rootStat);
  // Depth-first with an explicit stack: image trees can be deeper than the JS stack.
  const stack: [Buffer, Buffer][] = [[root, Buffer.alloc(0)]];
  const slash = Buffer.from("/");
  while (stack.length > 0) {
    const [hostDir, imageDir] = stack.pop()!;
    const names = readdirSync(hostDir, { encoding: "buffer" });
    let dirBytes = direntBytes(1) + direntBytes(2);
    for (const name of names) {
      dirBytes += direntBytes(name.length);
      const hostPath = Buffer.concat([hostDir, slash, name]);
      const imagePath = Buffer.concat([imageDir, slash, name]);
      const st = lstatSync(hostPath, { bigint: true });
      record(imagePath, st);
      if (st.isDirectory()) stack.push([hostPath, imagePath]);
    }
    // Large directories get an htree: index blocks plus half-full leaves in the worst case.
    const leafBlocks = Math.ceil(dirBytes / DIR_BLOCK_BYTES);
    usage.dirBlocks += leafBlocks === 1 ? 1 : Math.ceil(leafBlocks * 1.5) + 1;
  }
  return usage;
}
