// A validated descriptor chain and helpers that treat its readable and its
// writable buffers as two byte streams. Every buffer was checked against guest
// memory by the virtqueue before a chain exists, so these helpers never see an
// address outside guest memory.

import type { GuestMemory } from "../guest-memory.js";

/** One guest buffer of a chain: [addr, addr+len) lies inside guest memory. */
export interface ChainBuffer {
  readonly addr: number;
  readonly len: number;
  readonly writable: boolean;
}

export class DescriptorChain {
  /** Buffers the device may read (they come first in a chain). */
  readonly readable: readonly ChainBuffer[];
  /** Buffers the device may write. */
  readonly writable: readonly ChainBuffer[];
  readonly readableLength: number;
  readonly writableLength: number;

  constructor(
    readonly memory: GuestMemory,
    /** Index of the head descriptor: what goes back in the used ring. */
    readonly head: number,
    buffers: readonly ChainBuffer[],
  ) {
    this.readable = buffers.filter((b) => !b.writable);
    this.writable = buffers.filter((b) => b.writable);
    this.readableLength = this.readable.reduce((n, b) => n + b.len, 0);
    this.writableLength = this.writable.reduce((n, b) => n + b.len, 0);
  }

  /** Views of bytes [offset, offset+length) of the readable stream (aliases guest memory). */
  readableViews(offset: number, length: number): Uint8Array[] {
    return views(this.memory, this.readable, offset, length);
  }

  /** Views of bytes [offset, offset+length) of the writable stream (aliases guest memory). */
  writableViews(offset: number, length: number): Uint8Array[] {
    return views(this.memory, this.writable, offset, length);
  }

  /** Copies bytes [offset, offset+length) of the readable stream; throws past its end. */
  readBytes(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    let at = 0;
    for (const v of this.readableViews(offset, length)) {
      out.set(v, at);
      at += v.length;
    }
    return out;
  }

  /** Writes `data` at `offset` of the writable stream; throws past its end. */
  writeBytes(offset: number, data: Uint8Array): void {
    let at = 0;
    for (const v of this.writableViews(offset, data.length)) {
      v.set(data.subarray(at, at + v.length));
      at += v.length;
    }
  }
}

function views(memory: GuestMemory, buffers: readonly ChainBuffer[], offset: number, length: number): Uint8Array[] {
  if (offset < 0 || length < 0) throw new RangeError(`negative chain range ${offset}+${length}`);
  const out: Uint8Array[] = [];
  let skip = offset;
  let want = length;
  for (const b of buffers) {
    if (want === 0) break;
    if (skip >= b.len) {
      skip -= b.len;
      continue;
    }
    const take = Math.min(b.len - skip, want);
    out.push(memory.slice(b.addr + skip, take));
    skip = 0;
    want -= take;
  }
  if (want > 0) throw new RangeError(`chain range ${offset}+${length} runs past the chain's buffers`);
  return out;
}
