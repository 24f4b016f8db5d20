// A split virtqueue (virtio 1.2 §2.7) seen from the device side.
//
// The guest owns the rings and may rewrite them at any moment, so every value
// read from them is treated as hostile: each descriptor is read once into a
// local copy, and the copy is what gets checked and used. A malformed chain
// yields a VirtqueueError (and the queue stops) instead of an exception, a
// hang or an access outside guest memory.

import type { GuestMemory } from "../guest-memory.js";
import { DescriptorChain, type ChainBuffer } from "./chain.js";
import {
  AVAIL_F_NO_INTERRUPT,
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  F_RING_EVENT_IDX,
  F_RING_INDIRECT_DESC,
} from "./constants.js";
import { memoryFence } from "./memory-fence.js";

const DESC_SIZE = 16;
/** The used length field is 32 bits; no chain may describe more than that in either direction. */
const MAX_CHAIN_BYTES = 0xffff_ffff;

export class VirtqueueError extends Error {
  constructor(readonly queueIndex: number, message: string) {
    super(`virtqueue ${queueIndex}: ${message}`);
  }
}

export class Virtqueue {
  // What the driver programmed through the transport.
  size: number;
  ready = false;
  descTableAddr = 0n;
  availRingAddr = 0n;
  usedRingAddr = 0n;

  private memory: GuestMemory | null = null;
  // One view per ring (each checked to lie inside one region of guest RAM).
  private descView: DataView | null = null;
  private availView: DataView | null = null;
  private usedView: DataView | null = null;
  private indirectAllowed = false;
  private eventIdx = false;
  private nextAvail = 0;
  private nextUsed = 0;
  /** Used index when the driver was last interrupted (event-idx arithmetic). */
  private signalledUsed = 0;
  private usedSinceSignal = false;
  private stopped = false;

  constructor(readonly index: number, readonly maxSize: number) {
    this.size = maxSize;
  }

  /** True between a successful activate() and reset()/stop(). */
  get active(): boolean {
    return this.availView !== null && !this.stopped;
  }

  /** Why the driver's configuration cannot work in `memory`, or null when it can. */
  configError(memory: GuestMemory): string | null {
    const n = this.size;
    if (!Number.isInteger(n) || n < 1 || n > this.maxSize || (n & (n - 1)) !== 0) {
      return `queue size ${n} is not a power of two in 1..${this.maxSize}`;
    }
    const regions: [string, bigint, number, number][] = [
      ["descriptor table", this.descTableAddr, DESC_SIZE * n, 16],
      ["available ring", this.availRingAddr, 6 + 2 * n, 2],
      ["used ring", this.usedRingAddr, 6 + 8 * n, 4],
    ];
    for (const [what, addr, len, align] of regions) {
      if (addr % BigInt(align) !== 0n) return `${what} address 0x${addr.toString(16)} is not ${align}-byte aligned`;
      if (!memory.contains(addr, len)) return `${what} 0x${addr.toString(16)}+${len} is outside guest memory`;
    }
    return null;
  }

  /** Starts using the rings; throws VirtqueueError when configError() would say why not. */
  activate(memory: GuestMemory, features: bigint): void {
    const problem = this.configError(memory);
    if (problem) throw new VirtqueueError(this.index, problem);
    this.memory = memory;
    this.descView = memory.dataView(this.descTableAddr, DESC_SIZE * this.size);
    this.availView = memory.dataView(this.availRingAddr, 6 + 2 * this.size);
    this.usedView = memory.dataView(this.usedRingAddr, 6 + 8 * this.size);
    this.indirectAllowed = (features & F_RING_INDIRECT_DESC) !== 0n;
    this.eventIdx = (features & F_RING_EVENT_IDX) !== 0n;
    this.nextAvail = 0;
    this.nextUsed = 0;
    this.signalledUsed = 0;
    this.usedSinceSignal = false;
    this.stopped = false;
  }

  /** Forgets the rings and the driver's configuration (device reset). */
  reset(): void {
    this.size = this.maxSize;
    this.ready = false;
    this.descTableAddr = this.availRingAddr = this.usedRingAddr = 0n;
    this.memory = null;
    this.descView = this.availView = this.usedView = null;
    this.stopped = false;
  }

  /** Makes pop() return null from now on (the device needs a reset). */
  stop(): void {
    this.stopped = true;
  }

  /** True when the driver has made a chain available that pop() would return. */
  hasAvailable(): boolean {
    if (!this.active) return false;
    return this.availView!.getUint16(2, true) !== this.nextAvail;
  }

  /**
   * The next available chain, checked; null when there is none; a
   * VirtqueueError when the driver broke the rules (the queue then stops).
   */
  pop(): DescriptorChain | VirtqueueError | null {
    if (!this.active) return null;
    const avail = this.availView!;
    const availIdx = avail.getUint16(2, true);
    if (availIdx === this.nextAvail) return null;
    const pending = (availIdx - this.nextAvail) & 0xffff;
    if (pending > this.size) {
      return this.fail(`available index ${availIdx} is ${pending} ahead of the device's ${this.nextAvail}, more than the queue size ${this.size}`);
    }
    const head = avail.getUint16(4 + 2 * (this.nextAvail % this.size), true);
    this.nextAvail = (this.nextAvail + 1) & 0xffff;
    const chain = this.walk(head);
    return typeof chain === "string" ? this.fail(`chain at head ${head}: ${chain}`) : chain;
  }

  /**
   * Puts the chain pop() just returned back at the front of the available
   * ring, for a device that found it had nothing to put in it after all.
   */
  undoPop(): void {
    this.nextAvail = (this.nextAvail - 1) & 0xffff;
  }

  /** Returns a chain to the driver with `len` bytes written into its writable buffers. */
  addUsed(head: number, len: number): void {
    if (this.usedView === null) return;
    const view = this.usedView;
    const slot = 4 + 8 * (this.nextUsed % this.size);
    view.setUint32(slot, head, true);
    view.setUint32(slot + 4, len >>> 0, true);
    this.nextUsed = (this.nextUsed + 1) & 0xffff;
    // The element is written before the index that publishes it; x86 keeps
    // stores in order, and the JIT does not reorder these typed-array stores.
    view.setUint16(2, this.nextUsed, true);
    this.usedSinceSignal = true;
  }

  /**
   * Whether the driver wants an interrupt for the used entries added since the
   * last one (honours VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with event idx).
   */
  needsInterrupt(): boolean {
    if (this.availView === null || !this.usedSinceSignal) return false;
    const view = this.availView;
    memoryFence(); // our used index must be visible before we read the driver's wishes
    this.usedSinceSignal = false;
    if (this.eventIdx) {
      const usedEvent = view.getUint16(4 + 2 * this.size, true);
      const old = this.signalledUsed;
      this.signalledUsed = this.nextUsed;
      return ((this.nextUsed - usedEvent - 1) & 0xffff) < ((this.nextUsed - old) & 0xffff);
    }
    return (view.getUint16(0, true) & AVAIL_F_NO_INTERRUPT) === 0;
  }

  /**
   * Asks the driver to notify when it adds the next chain (event idx:
   * avail_event), then says whether chains arrived meanwhile: a device loops
   * `do { pop all } while (queue.enableNotification())` so none is missed.
   */
  enableNotification(): boolean {
    if (!this.active) return false;
    if (!this.eventIdx) return false; // we never suppress notifications without event idx
    this.usedView!.setUint16(4 + 8 * this.size, this.nextAvail, true);
    memoryFence(); // avail_event must be visible before we re-read the available index
    return this.hasAvailable();
  }

  private fail(message: string): VirtqueueError {
    this.stopped = true;
    return new VirtqueueError(this.index, message);
  }

  /** Follows a chain from `head`, checking everything; a string says what is wrong. */
  private walk(head: number): DescriptorChain | string {
    const memory = this.memory!;
    if (head >= this.size) return `head index ${head} is not below the queue size ${this.size}`;
    const buffers: ChainBuffer[] = [];
    let table = this.descView!;
    let tableEntries = this.size;
    let indirect = false;
    let index = head;
    let readable = 0;
    let writable = 0;
    let seenWritable = false;
    // Each step adds a buffer or enters the (single) indirect table, and a
    // chain may hold at most `size` buffers, so this loop always ends. (Linux
    // sizes indirect tables from config such as blk seg_max, which we derive
    // from the largest queue size, so an indirect chain may be that long.)
    for (;;) {
      const limit = indirect ? Math.max(this.size, this.maxSize) : this.size;
      if (buffers.length >= limit) return `more than ${limit} descriptors (a loop?)`;
      const at = DESC_SIZE * index;
      const addr = table.getBigUint64(at, true);
      const len = table.getUint32(at + 8, true);
      const flags = table.getUint16(at + 12, true);
      const next = table.getUint16(at + 14, true);
      const where = indirect ? `indirect descriptor ${index}` : `descriptor ${index}`;

      if (flags & DESC_F_INDIRECT) {
        if (!this.indirectAllowed) return `${where} is indirect but VIRTIO_F_INDIRECT_DESC was not negotiated`;
        if (indirect) return `${where} is indirect inside an indirect table`;
        if (flags & DESC_F_NEXT) return `${where} has both INDIRECT and NEXT`;
        if (len === 0 || len % DESC_SIZE !== 0) return `${where} points to an indirect table of ${len} bytes, not a non-zero multiple of ${DESC_SIZE}`;
        if (!memory.contains(addr, len)) return `${where}'s indirect table 0x${addr.toString(16)}+${len} is outside guest memory`;
        table = memory.dataView(addr, len);
        tableEntries = len / DESC_SIZE;
        indirect = true;
        index = 0;
        continue;
      }

      if (!memory.contains(addr, len)) return `${where} buffer 0x${addr.toString(16)}+${len} is outside guest memory`;
      const isWritable = (flags & DESC_F_WRITE) !== 0;
      if (isWritable) {
        seenWritable = true;
        writable += len;
      } else {
        if (seenWritable) return `${where} is readable after a writable one`;
        readable += len;
      }
      if (readable > MAX_CHAIN_BYTES || writable > MAX_CHAIN_BYTES) return `describes more than ${MAX_CHAIN_BYTES} bytes`;
      buffers.push({ addr: Number(addr), len, writable: isWritable });

      if (!(flags & DESC_F_NEXT)) break;
      if (next >= tableEntries) return `${where}'s next index ${next} is not below ${tableEntries}`;
      index = next;
    }
    return new DescriptorChain(memory, head, buffers);
  }
}
