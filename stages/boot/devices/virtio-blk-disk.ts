// What a virtio-blk device reads and writes: a raw image file, or a read-only
// base image under a per-run copy-on-write overlay.
//
// The overlay (decided in docs/architecture.md) keeps cached base images
// pristine: writes land in a sparse overlay file of the base's size, a bitmap
// remembers which blocks the overlay holds, reads take those blocks from the
// overlay and all others from the base. Nothing is copied up front, and two
// overlays on one base never see each other's writes.
//
// I/O is synchronous (readSync/writeSync): the device runs on the VMM's main
// thread, handles one request at a time, and so keeps request order for free.

import * as fs from "node:fs";

export interface BlockDisk {
  /** Size in bytes. */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fills `into` from byte `offset`; the range must lie inside the disk. */
  read(into: Uint8Array, offset: number): void;
  /** Writes `data` at byte `offset`; the range must lie inside the disk. */
  write(data: Uint8Array, offset: number): void;
  /** Makes written data durable (as far as this disk promises durability). */
  flush(): void;
  close(): void;
}

export class DiskError extends Error {}

function checkRange(disk: BlockDisk, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > disk.size) {
    throw new DiskError(`disk range ${offset}+${length} is outside the disk (${disk.size} bytes)`);
  }
}

/** Reads exactly into `into` from `fd` at `position`, zero-filling past the file's end. */
function preadFull(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = fs.readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  into.fill(0, done);
}

function pwriteFull(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, position + done);
}

/** A raw image file used as the whole disk. */
export class RawFileDisk implements BlockDisk {
  private constructor(private fd: number, readonly size: number, readonly readOnly: boolean) {}

  static open(path: string, options: { readOnly: boolean }): RawFileDisk {
    const fd = fs.openSync(path, options.readOnly ? "r" : "r+");
    try {
      const stat = fs.fstatSync(fd);
      if (!stat.isFile() && !stat.isBlockDevice()) throw new DiskError(`disk image ${path} is not a regular file`);
      return new RawFileDisk(fd, stat.size, options.readOnly);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  read(into: Uint8Array, offset: number): void {
    checkRange(this, offset, into.length);
    preadFull(this.fd, into, offset);
  }

  write(data: Uint8Array, offset: number): void {
    if (this.readOnly) throw new DiskError("disk is read-only");
    checkRange(this, offset, data.length);
    pwriteFull(this.fd, data, offset);
  }

  flush(): void {
    if (!this.readOnly) fs.fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export interface CowOverlayOptions {
  /** Path of the overlay file to create; it must not exist yet. */
  overlayPath: string;
  /** Keep the overlay file after close (debugging); by default it is unlinked as soon as it is open. */
  keepOverlay?: boolean;
  /** Copy-on-write granularity in bytes: a power of two, at least 512 (default 4096). */
  blockSize?: number;
}

/** A read-only base image with a private, sparse, copy-on-write overlay. */
export class CowOverlayDisk implements BlockDisk {
  readonly readOnly = false;
  private readonly inOverlay: Uint8Array;

  private constructor(
    private baseFd: number,
    private overlayFd: number,
    readonly size: number,
    readonly blockSize: number,
  ) {
    this.inOverlay = new Uint8Array(Math.ceil(Math.ceil(size / blockSize) / 8));
  }

  static open(basePath: string, options: CowOverlayOptions): CowOverlayDisk {
    const blockSize = options.blockSize ?? 4096;
    if (!Number.isInteger(blockSize) || blockSize < 512 || (blockSize & (blockSize - 1)) !== 0) {
      throw new DiskError(`overlay block size ${blockSize} is not a power of two of at least 512`);
    }
    const baseFd = fs.openSync(basePath, "r");
    let overlayFd = -1;
    try {
      const stat = fs.fstatSync(baseFd);
      if (!stat.isFile()) throw new DiskError(`base image ${basePath} is not a regular file`);
      // "wx+": never clobber an existing file; the overlay is ours alone.
      overlayFd = fs.openSync(options.overlayPath, "wx+", 0o600);
      if (!options.keepOverlay) fs.unlinkSync(options.overlayPath);
      fs.ftruncateSync(overlayFd, stat.size); // sparse: no block is allocated yet
      return new CowOverlayDisk(baseFd, overlayFd, stat.size, blockSize);
    } catch (err) {
      fs.closeSync(baseFd);
      if (overlayFd >= 0) {
        fs.closeSync(overlayFd);
        if (!options.keepOverlay) fs.rmSync(options.overlayPath, { force: true });
      }
      throw err;
    }
  }

  /** Number of blocks the overlay holds (what this run has written). */
  get overlayBlocks(): number {
    let n = 0;
    for (const byte of this.inOverlay) for (let b = byte; b; b &= b - 1) n++;
    return n;
  }

  read(into: Uint8Array, offset: number): void {
    checkRange(this, offset, into.length);
    // Runs of consecutive blocks from the same file become one pread.
    this.forEachRun(offset, into.length, (block) => (this.has(block) ? "overlay" : "base"), (kind, at, len, done) => {
      preadFull(kind === "overlay" ? this.overlayFd : this.baseFd, into.subarray(done, done + len), at);
    });
  }

  write(data: Uint8Array, offset: number): void {
    checkRange(this, offset, data.length);
    const classify = (block: number, whole: boolean) => (whole || this.has(block) ? "direct" : "copy-up");
    this.forEachRun(offset, data.length, classify, (kind, at, len, done) => {
      const piece = data.subarray(done, done + len);
      if (kind === "copy-up") {
        // First write to part of a block: copy the block up from the base.
        const blockStart = Math.floor(at / this.blockSize) * this.blockSize;
        const whole = new Uint8Array(Math.min(this.blockSize, this.size - blockStart));
        preadFull(this.baseFd, whole, blockStart);
        whole.set(piece, at - blockStart);
        pwriteFull(this.overlayFd, whole, blockStart);
      } else {
        pwriteFull(this.overlayFd, piece, at);
      }
      const first = Math.floor(at / this.blockSize);
      const last = Math.floor((at + len - 1) / this.blockSize);
      for (let b = first; b <= last; b++) this.inOverlay[b >> 3] |= 1 << (b & 7);
    });
  }

  /** The overlay lives only as long as the run, so there is nothing to make durable. */
  flush(): void {}

  close(): void {
    if (this.baseFd >= 0) fs.closeSync(this.baseFd);
    if (this.overlayFd >= 0) fs.closeSync(this.overlayFd);
    this.baseFd = this.overlayFd = -1;
  }

  private has(block: number): boolean {
    return (this.inOverlay[block >> 3] & (1 << (block & 7))) !== 0;
  }

  /**
   * Splits [offset, offset+length) at block boundaries, labels each piece with
   * `classify(block, coversWholeBlock)`, and calls `fn(label, diskOffset,
   * length, doneSoFar)` once per run of adjacent pieces with the same label
   * ("copy-up" pieces are never merged: each is one block's copy).
   */
  private forEachRun(
    offset: number,
    length: number,
    classify: (block: number, whole: boolean) => string,
    fn: (label: string, at: number, len: number, done: number) => void,
  ): void {
    let runLabel = "";
    let runAt = 0;
    let runLen = 0;
    let runDone = 0;
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const block = Math.floor(at / this.blockSize);
      const blockStart = block * this.blockSize;
      const blockLen = Math.min(this.blockSize, this.size - blockStart);
      const len = Math.min(length - done, blockStart + blockLen - at);
      const label = classify(block, at === blockStart && len === blockLen);
      if (label === runLabel && label !== "copy-up") {
        runLen += len;
      } else {
        if (runLen > 0) fn(runLabel, runAt, runLen, runDone);
        runLabel = label;
        runAt = at;
        runLen = len;
        runDone = done;
      }
      done += len;
    }
    if (runLen > 0) fn(runLabel, runAt, runLen, runDone);
  }
}
