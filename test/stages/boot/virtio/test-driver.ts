// A small virtio driver for tests: it programs a VirtioMmioTransport through
// its registers and lays out split virtqueues in a GuestMemory buffer the way
// Linux's virtio_mmio and virtio_ring do.

import { GuestMemory } from "../../../../stages/boot/guest-memory.js";
import {
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  F_VERSION_1,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from "../../../../stages/boot/virtio/constants.js";
import { VirtioMmioTransport } from "../../../../stages/boot/virtio/mmio.js";
import type { VirtioDevice } from "../../../../stages/boot/virtio/device.js";

export class CountingInterrupt {
  count = 0;
  trigger(): void {
    this.count++;
  }
}

/** Hands out aligned, non-overlapping regions of guest memory. */
export class BumpAllocator {
  constructor(private next: number, private readonly end: number) {}
  alloc(len: number, align = 16): number {
    const at = Math.ceil(this.next / align) * align;
    if (at + len > this.end) throw new Error(`test allocator out of guest memory (${len} bytes)`);
    this.next = at + len;
    return at;
  }
}

export function reg32(t: VirtioMmioTransport, offset: number): number {
  const data = new Uint8Array(4);
  t.mmioRead(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}

export function write32(t: VirtioMmioTransport, offset: number, value: number): void {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  t.mmioWrite(offset, data);
}

export function readConfig(t: VirtioMmioTransport, offset: number, len: number): Uint8Array {
  const data = new Uint8Array(len);
  t.mmioRead(0x100 + offset, data);
  return data;
}

export interface BufferSpec {
  /** Contents for a readable buffer. */
  data?: Uint8Array;
  /** Size of a writable buffer. */
  writable?: number;
}

export interface PlacedBuffer {
  addr: number;
  len: number;
  writable: boolean;
}

export class DriverQueue {
  readonly desc: number;
  readonly avail: number;
  readonly used: number;
  private freeHead = 0;
  private numFree: number;
  private availIdx = 0;
  private lastUsed = 0;
  private readonly chainLength = new Map<number, number>();

  constructor(
    readonly memory: GuestMemory,
    readonly alloc: BumpAllocator,
    readonly index: number,
    readonly size: number,
  ) {
    this.desc = alloc.alloc(16 * size, 16);
    this.avail = alloc.alloc(6 + 2 * size, 2);
    this.used = alloc.alloc(6 + 8 * size, 4);
    this.numFree = size;
    for (let i = 0; i < size; i++) this.setDesc(this.desc, i, 0n, 0, 0, (i + 1) % size);
  }

  get view(): DataView {
    const b = this.memory.bytes;
    return new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  setDesc(table: number, i: number, addr: bigint, len: number, flags: number, next: number): void {
    const v = this.view;
    v.setBigUint64(table + 16 * i, addr, true);
    v.setUint32(table + 16 * i + 8, len, true);
    v.setUint16(table + 16 * i + 12, flags, true);
    v.setUint16(table + 16 * i + 14, next, true);
  }

  /** Places buffers in fresh guest memory and makes them one available chain. */
  addChain(specs: BufferSpec[], options: { indirect?: boolean } = {}): { head: number; buffers: PlacedBuffer[] } {
    const buffers = specs.map((s) => {
      const len = s.data ? s.data.length : s.writable ?? 0;
      const addr = this.alloc.alloc(Math.max(len, 1), 8);
      if (s.data) this.memory.write(addr, s.data);
      return { addr, len, writable: s.data === undefined };
    });
    return { head: this.addBuffers(buffers, options), buffers };
  }

  /** Makes already-placed buffers one available chain (direct or through an indirect table). */
  addBuffers(buffers: PlacedBuffer[], options: { indirect?: boolean } = {}): number {
    const flagsOf = (b: PlacedBuffer, last: boolean) => (b.writable ? DESC_F_WRITE : 0) | (last ? 0 : DESC_F_NEXT);
    const needed = options.indirect ? 1 : buffers.length;
    if (needed > this.numFree) throw new Error("test driver: queue full");
    const head = this.freeHead;
    if (options.indirect) {
      const table = this.alloc.alloc(16 * buffers.length, 16);
      buffers.forEach((b, i) => this.setDesc(table, i, BigInt(b.addr), b.len, flagsOf(b, i === buffers.length - 1), i + 1));
      const next = this.view.getUint16(this.desc + 16 * head + 14, true);
      this.setDesc(this.desc, head, BigInt(table), 16 * buffers.length, DESC_F_INDIRECT, next);
      this.freeHead = next;
    } else {
      let i = head;
      buffers.forEach((b, n) => {
        const next = this.view.getUint16(this.desc + 16 * i + 14, true);
        this.setDesc(this.desc, i, BigInt(b.addr), b.len, flagsOf(b, n === buffers.length - 1), next);
        if (n < buffers.length - 1) i = next;
        else this.freeHead = next;
      });
    }
    this.numFree -= needed;
    this.chainLength.set(head, needed);
    this.publish(head);
    return head;
  }

  /** Puts `head` in the available ring and bumps the index (what virtqueue_add + kick do). */
  publish(head: number): void {
    const v = this.view;
    v.setUint16(this.avail + 4 + 2 * (this.availIdx % this.size), head, true);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    v.setUint16(this.avail + 2, this.availIdx, true);
  }

  /** Used entries the device returned since the last call; their descriptors are freed. */
  takeUsed(): { id: number; len: number }[] {
    const v = this.view;
    const out: { id: number; len: number }[] = [];
    const usedIdx = v.getUint16(this.used + 2, true);
    while (this.lastUsed !== usedIdx) {
      const slot = this.used + 4 + 8 * (this.lastUsed % this.size);
      const id = v.getUint32(slot, true);
      out.push({ id, len: v.getUint32(slot + 4, true) });
      this.lastUsed = (this.lastUsed + 1) & 0xffff;
      this.free(id);
    }
    return out;
  }

  private free(head: number): void {
    const n = this.chainLength.get(head);
    if (n === undefined) throw new Error(`device returned head ${head} that was not outstanding`);
    this.chainLength.delete(head);
    // Return the chain to the front of the free list.
    let last = head;
    for (let k = 1; k < n; k++) last = this.view.getUint16(this.desc + 16 * last + 14, true);
    this.view.setUint16(this.desc + 16 * last + 14, this.freeHead, true);
    this.freeHead = head;
    this.numFree += n;
  }

  setAvailFlags(flags: number): void {
    this.view.setUint16(this.avail, flags, true);
  }
  setUsedEvent(value: number): void {
    this.view.setUint16(this.avail + 4 + 2 * this.size, value, true);
  }
  get availEvent(): number {
    return this.view.getUint16(this.used + 4 + 8 * this.size, true);
  }
}

export interface DriverOptions {
  memorySize?: number;
  queueSize?: number;
  /** Feature bits to accept if offered (default: all; VERSION_1 is always accepted). */
  accept?: bigint;
}

/** Boots a device through the transport like Linux's virtio_mmio probe does. */
export class TestDriver {
  readonly memory: GuestMemory;
  readonly alloc: BumpAllocator;
  readonly interrupt = new CountingInterrupt();
  readonly transport: VirtioMmioTransport;
  readonly queues: DriverQueue[] = [];
  readonly errors: string[] = [];
  features = 0n;

  constructor(readonly device: VirtioDevice, options: DriverOptions = {}) {
    this.memory = new GuestMemory(new Uint8Array(options.memorySize ?? 1 << 20));
    this.alloc = new BumpAllocator(0x1000, this.memory.size);
    this.transport = new VirtioMmioTransport(device, {
      memory: this.memory,
      interrupt: this.interrupt,
      onError: (m) => this.errors.push(m),
    });
    const t = this.transport;
    write32(t, 0x70, 0);
    write32(t, 0x70, STATUS_ACKNOWLEDGE);
    write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    write32(t, 0x14, 0);
    const low = BigInt(reg32(t, 0x10));
    write32(t, 0x14, 1);
    const offered = low | (BigInt(reg32(t, 0x10)) << 32n);
    const accept = options.accept ?? (1n << 64n) - 1n; // by default, everything offered
    this.features = offered & (accept | F_VERSION_1);
    write32(t, 0x24, 0);
    write32(t, 0x20, Number(this.features & 0xffff_ffffn));
    write32(t, 0x24, 1);
    write32(t, 0x20, Number(this.features >> 32n));
    write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(reg32(t, 0x70) & STATUS_FEATURES_OK)) throw new Error(`device refused features: ${this.errors.join("; ")}`);
    for (let i = 0; i < t.queueCount; i++) {
      write32(t, 0x30, i);
      const size = Math.min(options.queueSize ?? 16, reg32(t, 0x34));
      const q = new DriverQueue(this.memory, this.alloc, i, size);
      write32(t, 0x38, size);
      write32(t, 0x80, q.desc);
      write32(t, 0x84, 0);
      write32(t, 0x90, q.avail);
      write32(t, 0x94, 0);
      write32(t, 0xa0, q.used);
      write32(t, 0xa4, 0);
      write32(t, 0x44, 1);
      this.queues.push(q);
    }
    write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  kick(queueIndex: number): void {
    write32(this.transport, 0x50, queueIndex);
  }

  /** Reads and acknowledges the interrupt status, as the guest's interrupt handler does. */
  ackInterrupt(): number {
    const status = reg32(this.transport, 0x60);
    write32(this.transport, 0x64, status);
    return status;
  }
}
