// One pass over the unpacked rootfs: how much space its content needs in
// ext4, and every entry's owner/mode/mtime for the plan (plan.ts). Names are
// handled as bytes: an image may hold names that are not UTF-8.
import { lstatSync, readdirSync, statSync, type BigIntStats } from "node:fs";

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
  /**
   * Files with a size but no blocks on the host, counted in dataBlocks at
   * their size: all holes (nothing to copy), or data some file systems keep
   * in the inode. discountHoles() tells them apart.
   */
  unallocated: { host: string | Buffer; blocks: number }[];
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
  const usage: TreeUsage = { entries: 0, inodes: 0, dataBlocks: 0, dirBlocks: 0, symlinkBlocks: 0, unallocated: [] };
  const linkedInodes = new Set<bigint>();

  const record = (imagePath: string, exactName: boolean, st: BigIntStats, host: string | Buffer): void => {
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
        const counted = blocks + (extents > 4 ? Math.ceil(extents / 340) : 0);
        usage.dataBlocks += counted;
        if (allocated === 0 && size > 0) usage.unallocated.push({ host, blocks: counted });
      } else if (type === S_IFLNK && st.size >= 60n) {
        usage.symlinkBlocks++;
      }
    }
    visit({
      path: imagePath === "" ? "/" : imagePath,
      exactName,
      mode,
      uid: Number(st.uid),
      gid: Number(st.gid),
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
      mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      repeatLink,
    });
  };

  // stat, not lstat: a rootfs/ that is itself a symlink still describes a directory.
  record("", true, statSync(rootfs, { bigint: true }), rootfs);
  // Depth-first with an explicit stack: image trees can be deeper than the JS stack.
  // Names are read as strings (fast); a directory holding a name that is not
  // UTF-8 (decoded with U+FFFD) is read again as bytes so lstat finds it.
  const stack: Directory[] = [{ host: rootfs, image: "", exact: true }];
  let current = stack[0]!; // the entry being read, for an error's message
  try {
    while (stack.length > 0) {
      const dir = (current = stack.pop()!);
      let dirBytes = direntBytes(1) + direntBytes(2);
      for (const child of readChildren(dir)) {
        dirBytes += child.nameBytes;
        current = child;
        const st = lstatSync(child.host, { bigint: true });
        record(child.image, child.exact, st, child.host);
        if (st.isDirectory()) stack.push(child);
      }
      // Large directories get an htree: index blocks plus half-full leaves in the worst case.
      const leafBlocks = Math.ceil(dirBytes / DIR_BLOCK_BYTES);
      usage.dirBlocks += leafBlocks === 1 ? 1 : Math.ceil(leafBlocks * 1.5) + 1;
    }
  } catch (err) {
    throw pathTooLong(err, current) ?? err;
  }
  return usage;
}

/**
 * Takes out of `usage` the files among `unallocated` that hold no data at
 * all (`holdsData` asks the kernel: lib/fs/holds-data.ts): a sparse file of
 * any size costs mke2fs nothing, as it copies with SEEK_DATA. Before, a 4 TiB
 * hole asked for a 5 TB disk.
 */
export function discountHoles(usage: TreeUsage, holdsData: (host: string | Buffer) => boolean): void {
  for (const file of usage.unallocated) {
    if (!holdsData(file.host)) usage.dataBlocks -= file.blocks;
  }
  usage.unallocated = [];
}

/**
 * ENAMETOOLONG (a path past PATH_MAX, 4096 bytes) reading `entry`, as one
 * short line: Node's message holds the whole path, 4 KB and more. Undefined
 * for any other error.
 */
function pathTooLong(err: unknown, entry: Directory): Error | undefined {
  if ((err as NodeJS.ErrnoException).code !== "ENAMETOOLONG") return undefined;
  const path = entry.image;
  const shown = path.length > 120 ? `${path.slice(0, 60)}…${path.slice(-40)}` : path;
  return new Error(`rootfs: ${JSON.stringify(shown)} (${Buffer.byteLength(path)} bytes) is too long a path: with rootfs/ it passes PATH_MAX (4096 bytes)`);
}

interface Directory {
  /** Path on the host: a string, or bytes when a name in it is not UTF-8. */
  host: string | Buffer;
  image: string;
  /** False when `image` lost bytes in decoding (some component is not UTF-8). */
  exact: boolean;
}

function readChildren(dir: Directory): (Directory & { nameBytes: number })[] {
  if (typeof dir.host === "string") {
    const names = readdirSync(dir.host);
    if (!names.some((name) => name.includes("\uFFFD"))) {
      return names.map((name) => ({
        host: `${dir.host}/${name}`,
        image: `${dir.image}/${name}`,
        exact: dir.exact,
        nameBytes: direntBytes(Buffer.byteLength(name)),
      }));
    }
  }
  const hostBytes = typeof dir.host === "string" ? Buffer.from(dir.host) : dir.host;
  const slash = Buffer.from("/");
  return readdirSync(hostBytes, { encoding: "buffer" }).map((name) => {
    const text = name.toString("utf8");
    return {
      host: Buffer.concat([hostBytes, slash, name]),
      image: `${dir.image}/${text}`,
      exact: dir.exact && Buffer.from(text, "utf8").equals(name),
      nameBytes: direntBytes(name.length),
    };
  });
}
