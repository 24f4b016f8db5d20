// Device registers whose reads the vCPU threads answer themselves.
//
// The main thread owns the devices, so a port or MMIO read the guest waits
// for costs a round trip to it: ~26 us here, against ~5 us for QEMU, which
// answers on the vCPU thread (measured with a guest reading the serial line
// status 20,000 times). Linux's 8250 console reads the line status before
// every byte it prints, and virtio-mmio drivers read the interrupt status on
// every interrupt. So a device may publish such a register here and keep
// its value current; a vCPU thread then answers a read of it from shared
// memory, without waking the main thread.
//
// Two rules keep that exact:
// - A read is answered here only while every write any vCPU posted has been
//   performed (a count of posted, not yet performed writes, kept by both
//   sides): a read never overtakes a write the guest made before it.
// - Reading a published register may have one side effect, recorded in its
//   read mark: the vCPU thread sets the mark, then loads the value; the
//   device stores a new value, then clears the mark. readSinceSet() is then
//   true only if the value read was the current one (virtio-mmio uses it to
//   tell which interrupt bits the driver has seen).

import type { MirroredRegister } from "./devices/device.js";

export const MIRROR_PIO = 1;
export const MIRROR_MMIO = 2;
export type MirrorKind = typeof MIRROR_PIO | typeof MIRROR_MMIO;
export type MirrorWidth = 1 | 2 | 4;

/** One published register: where it is, its width, and its slot in the shared buffer. */
export interface MirrorEntry {
  kind: MirrorKind;
  addr: number;
  width: MirrorWidth;
  slot: number;
}

/** What a vCPU thread gets (in its worker data) to answer reads. */
export interface MirrorTable {
  buffer: SharedArrayBuffer;
  entries: MirrorEntry[];
}

/** Int32 words: [0] writes posted but not yet performed; then per slot, its value and its read mark. */
const PENDING = 0;
const FIRST_SLOT = 1;
const valueIndex = (slot: number) => FIRST_SLOT + 2 * slot;
const markIndex = (slot: number) => FIRST_SLOT + 2 * slot + 1;

/** At most this many registers: a handful per device is plenty. */
export const MAX_MIRRORED_REGISTERS = 64;

const key = (kind: MirrorKind, addr: number) => addr * 4 + kind;

/** The main thread's side: publishes registers and counts performed writes. */
export class ReadMirrors {
  private readonly words = new Int32Array(new SharedArrayBuffer(4 * (FIRST_SLOT + 2 * MAX_MIRRORED_REGISTERS)));
  private readonly entries: MirrorEntry[] = [];

  /** `enabled` false: registers can be published (devices need not care) but no read is ever answered from them. */
  constructor(readonly enabled = true) {}

  /** Publishes the register at `addr` (a port, or a guest physical address); its value starts at 0. */
  add(kind: MirrorKind, addr: number, width: MirrorWidth): MirroredRegister {
    if (![1, 2, 4].includes(width)) throw new Error(`mirrored register at 0x${addr.toString(16)}: width ${width} is not 1, 2 or 4`);
    if (this.entries.some((e) => key(e.kind, e.addr) === key(kind, addr))) {
      throw new Error(`mirrored register at 0x${addr.toString(16)} is published twice`);
    }
    if (this.entries.length >= MAX_MIRRORED_REGISTERS) throw new Error(`more than ${MAX_MIRRORED_REGISTERS} mirrored registers`);
    const slot = this.entries.length;
    this.entries.push({ kind, addr, width, slot });
    const words = this.words;
    return {
      set(value: number): void {
        Atomics.store(words, valueIndex(slot), value | 0);
        Atomics.store(words, markIndex(slot), 0);
      },
      readSinceSet(): boolean {
        return Atomics.load(words, markIndex(slot)) !== 0;
      },
    };
  }

  /** For the vCPU threads (an empty table when disabled). */
  table(): MirrorTable {
    return { buffer: this.words.buffer as SharedArrayBuffer, entries: this.enabled ? [...this.entries] : [] };
  }

  /** A posted write has been performed. */
  performed(): void {
    Atomics.sub(this.words, PENDING, 1);
  }
}

/** A vCPU thread's side: answers reads of published registers. */
export class MirrorReader {
  private readonly words: Int32Array;
  private readonly byKey = new Map<number, MirrorEntry>();

  constructor(table: MirrorTable) {
    this.words = new Int32Array(table.buffer);
    for (const e of table.entries) this.byKey.set(key(e.kind, e.addr), e);
  }

  /** Writes are about to be posted for the main thread to perform (before they become visible to it). */
  posted(count: number): void {
    Atomics.add(this.words, PENDING, count);
  }

  /**
   * Fills `out` (little-endian) with the value of the register at `addr` and
   * returns true, or returns false: not published, another width, or a
   * posted write not yet performed (the main thread must answer).
   */
  answer(kind: MirrorKind, addr: number, out: Uint8Array): boolean {
    const e = this.byKey.get(key(kind, addr));
    if (!e || e.width !== out.length || Atomics.load(this.words, PENDING) !== 0) return false;
    Atomics.store(this.words, markIndex(e.slot), 1);
    const value = Atomics.load(this.words, valueIndex(e.slot));
    for (let i = 0; i < out.length; i++) out[i] = (value >>> (8 * i)) & 0xff;
    return true;
  }
}
