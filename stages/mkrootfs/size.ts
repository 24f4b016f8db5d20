// How big the ext4 image is and how many inodes it gets. We follow mke2fs's
// geometry (4 KiB blocks, 256-byte inodes, 32768 blocks and at most 32768
// inodes per group) closely enough to refuse a --disk that cannot hold the
// content before spending time on mkfs; mkfs running out of space is still
// caught and reported the same way.
import { BLOCK, type TreeUsage } from "./scan.js";
import type { EntryChange } from "./plan.js";

const MIB = 1024 * 1024;
const BLOCKS_PER_GROUP = 32768;
const MAX_INODES_PER_GROUP = 32768;
const INODES_PER_BLOCK = BLOCK / 256;
/** mke2fs's default bytes-per-inode for ext4. */
const BYTES_PER_INODE = 16384;
/** Spare inodes for what the benchmark creates, at least. */
const MIN_SPARE_INODES = 16384;
/** Writable space the default size leaves on top of the content, at least (the image is sparse: free space costs no disk). */
const MIN_HEADROOM_BYTES = 1024 * MIB;
const HEADROOM_FRACTION = 0.25;

export interface Ext4Geometry {
  blocks: number;
  inodes: number;
  /** The smallest disk that holds the content, for messages. */
  neededMiB: number;
}

/** Blocks the tree's content takes (data, directories, long symlinks, xattr blocks), with a little slack. */
export function contentBlocks(usage: TreeUsage, changes: EntryChange[]): number {
  let xattrBlocks = 0;
  for (const change of changes) {
    // About 96 bytes of xattrs fit inside a 256-byte inode; more spills into a block.
    let inInode = 0;
    for (const [name, value] of change.xattrs) inInode += 16 + ((name.length + 3) & ~3) + ((value.length + 3) & ~3);
    if (inInode > 80) xattrBlocks++;
  }
  const raw = usage.dataBlocks + usage.dirBlocks + usage.symlinkBlocks + xattrBlocks;
  return Math.ceil(raw * 1.02) + 64;
}

/** Blocks mke2fs spends on its own structures for a file system of `blocks` blocks and `inodes` inodes. */
export function overheadBlocks(blocks: number, inodes: number): number {
  const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  const inodesPerGroup = roundUp(Math.ceil(inodes / groups), INODES_PER_BLOCK);
  const inodeTables = groups * (inodesPerGroup / INODES_PER_BLOCK);
  const bitmaps = 2 * groups;
  const descriptorsPerBlock = BLOCK / 64; // 64bit feature
  const gdt = Math.ceil(groups / descriptorsPerBlock);
  // Reserved GDT blocks let the fs grow 1024x online, capped at 1024 blocks.
  const growthGroups = Math.ceil(Math.min(2 ** 32, blocks * 1024) / BLOCKS_PER_GROUP);
  const reservedGdt = Math.min(1024, Math.max(0, Math.ceil(growthGroups / descriptorsPerBlock) - gdt));
  const superblockCopies = backupGroups(groups);
  // Root and lost+found directories and mke2fs's odds and ends.
  const fixed = 64;
  return inodeTables + bitmaps + superblockCopies * (1 + gdt + reservedGdt) + fixed;
}

/** sparse_super keeps superblock copies in groups 0, 1 and powers of 3, 5 and 7. */
function backupGroups(groups: number): number {
  const found = new Set<number>([0]);
  if (groups > 1) found.add(1);
  for (const base of [3, 5, 7]) for (let g = base; g < groups; g *= base) found.add(g);
  return found.size;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/** Inodes the content itself takes, with ext4's reserved inodes (1-11) and lost+found. */
function requiredInodes(usage: TreeUsage): number {
  return usage.inodes + 16;
}

/** Inodes we would like to give the guest: the content's plus room for what the benchmark creates. */
function preferredInodes(usage: TreeUsage, blocks: number): number {
  const withSpares = usage.inodes + Math.max(MIN_SPARE_INODES, Math.ceil(usage.inodes * 0.25));
  return Math.max(withSpares, Math.ceil((blocks * BLOCK) / BYTES_PER_INODE));
}

function fits(blocks: number, inodes: number, content: number): boolean {
  const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  if (Math.ceil(inodes / groups) > MAX_INODES_PER_GROUP) return false;
  return content + overheadBlocks(blocks, inodes) <= blocks;
}

/** The smallest block count (a whole MiB) that holds `content` blocks and `inodesAt(blocks)` inodes. */
function smallestBlocks(content: number, inodesAt: (blocks: number) => number): number {
  const step = MIB / BLOCK;
  let blocks = roundUp(content, step);
  // Overhead grows slowly with size: a few rounds of growing by the shortfall settle it.
  for (let round = 0; round < 64 && !fits(blocks, inodesAt(blocks), content); round++) {
    const inodes = inodesAt(blocks);
    blocks = roundUp(Math.max(blocks + step, content + overheadBlocks(blocks, inodes)), step);
    // Each group holds at most 32768 inodes: more inodes need more groups.
    const groupsForInodes = Math.ceil(inodes / MAX_INODES_PER_GROUP);
    blocks = Math.max(blocks, (groupsForInodes - 1) * BLOCKS_PER_GROUP + step);
  }
  return blocks;
}

/**
 * Picks the image's size and inode count. With `diskMiB` the size is the
 * caller's; without, it is the content plus headroom. Throws a one-line error
 * when `diskMiB` is too small for the content.
 */
export function chooseExt4Geometry(usage: TreeUsage, changes: EntryChange[], diskMiB?: number): Ext4Geometry {
  const content = contentBlocks(usage, changes);
  const required = requiredInodes(usage);
  const needed = smallestBlocks(content, () => required);
  const neededMiB = Math.ceil((needed * BLOCK) / MIB);
  let blocks: number;
  if (diskMiB !== undefined) {
    blocks = (diskMiB * MIB) / BLOCK;
    if (blocks < needed) {
      throw new Error(`disk of ${diskMiB} MiB is too small: the image's ${usage.entries} files need at least ${neededMiB} MiB`);
    }
  } else {
    // Headroom counts as content: it is what stays free for the benchmark.
    const headroom = Math.max(MIN_HEADROOM_BYTES / BLOCK, Math.ceil(content * HEADROOM_FRACTION));
    blocks = smallestBlocks(content + headroom, (size) => preferredInodes(usage, size));
  }
  // As many inodes as mke2fs would give a disk this size, never fewer than the
  // content needs; on a tight disk, fewer spares rather than no room for data.
  const groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  let inodes = Math.min(preferredInodes(usage, blocks), groups * MAX_INODES_PER_GROUP);
  while (inodes > required && !fits(blocks, inodes, content)) inodes = Math.max(required, Math.floor((inodes + required) / 2));
  return { blocks, inodes, neededMiB };
}
