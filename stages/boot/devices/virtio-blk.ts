// virtio-blk (virtio 1.2 §5.2): the guest's disk. One request queue; each
// request is a chain [header (readable)] [data] [status byte (writable)].
// Requests are handled synchronously and in order against a BlockDisk, a
// queue size's worth per turn of the event loop (see take-chains.ts).

import type { DescriptorChain } from "../virtio/chain.js";
import { DEVICE_ID_BLOCK, MAX_QUEUE_SIZE } from "../virtio/constants.js";
import type { VirtioContext, VirtioDevice } from "../virtio/device.js";
import { takeChains } from "../virtio/take-chains.js";
import type { BlockDisk } from "./virtio-blk-disk.js";

export const SECTOR_SIZE = 512;
/** Feature bits (§5.2.3). */
export const BLK_F_SEG_MAX = 1n << 2n;
export const BLK_F_RO = 1n << 5n;
export const BLK_F_BLK_SIZE = 1n << 6n;
export const BLK_F_FLUSH = 1n << 9n;
/** Request types (§5.2.6). */
export const BLK_T_IN = 0;
export const BLK_T_OUT = 1;
export const BLK_T_FLUSH = 4;
export const BLK_T_GET_ID = 8;
/** Status byte values. */
export const BLK_S_OK = 0;
export const BLK_S_IOERR = 1;
export const BLK_S_UNSUPP = 2;
/** GET_ID answers at most this many bytes (not NUL-terminated when full). */
export const BLK_ID_BYTES = 20;

const HEADER_SIZE = 16;
const CONFIG_SIZE = 24; // capacity, size_max, seg_max, geometry, blk_size

export interface VirtioBlockOptions {
  disk: BlockDisk;
  /** Offer the disk read-only (VIRTIO_BLK_F_RO) even if the disk could be written. */
  readOnly?: boolean;
  /** Serial the guest reads with GET_ID (/sys/block/vda/serial); at most 20 bytes. */
  id?: string;
  name?: string;
  queueSize?: number;
}

/** Counters a test or the VMM's log can look at. */
export interface BlockStats {
  reads: number;
  writes: number;
  flushes: number;
  /** Requests answered with IOERR or UNSUPP, or too malformed to answer. */
  failed: number;
}

export class VirtioBlock implements VirtioDevice {
  readonly name: string;
  readonly deviceId = DEVICE_ID_BLOCK;
  readonly queueMaxSizes: readonly number[];
  readonly deviceFeatures: bigint;
  readonly readOnly: boolean;
  readonly stats: BlockStats = { reads: 0, writes: 0, flushes: 0, failed: 0 };
  private readonly disk: BlockDisk;
  private readonly id: Uint8Array;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private readonly capacity: number;
  private context: VirtioContext | null = null;
  /** Requests left over from a notification, taken on a later turn of the event loop. */
  private continuation: NodeJS.Immediate | null = null;

  constructor(options: VirtioBlockOptions) {
    this.disk = options.disk;
    this.name = options.name ?? "virtio-blk";
    this.readOnly = options.readOnly === true || options.disk.readOnly;
    const queueSize = options.queueSize ?? MAX_QUEUE_SIZE;
    this.queueMaxSizes = [queueSize];
    this.id = new TextEncoder().encode(options.id ?? "").subarray(0, BLK_ID_BYTES);
    // Linux sends one data segment per request unless told it may send more;
    // header and status take the other two descriptors of a chain.
    this.deviceFeatures = BLK_F_SEG_MAX | BLK_F_BLK_SIZE | BLK_F_FLUSH | (this.readOnly ? BLK_F_RO : 0n);
    this.capacity = Math.floor(this.disk.size / SECTOR_SIZE);
    const v = new DataView(this.config.buffer);
    v.setBigUint64(0, BigInt(this.capacity), true);
    v.setUint32(12, queueSize - 2, true); // seg_max
    v.setUint32(20, SECTOR_SIZE, true); // blk_size
  }

  readConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.config[offset + i] ?? 0;
  }

  writeConfig(): void {
    // Nothing in our config space is writable (no VIRTIO_BLK_F_CONFIG_WCE).
  }

  activate(context: VirtioContext): void {
    this.context = context;
  }

  reset(): void {
    this.context = null;
    if (this.continuation) clearImmediate(this.continuation);
    this.continuation = null;
  }

  queueNotify(queueIndex: number): void {
    if (queueIndex === 0) this.processRequests();
  }

  private processRequests(): void {
    const ctx = this.context;
    if (!ctx) return;
    const queue = ctx.queues[0];
    const end = takeChains(ctx, queue, (chain) => queue.addUsed(chain.head, this.handle(chain)));
    if (end === "failed") return;
    ctx.notifyDriver(queue);
    if (end === "budget" && !this.continuation) {
      this.continuation = setImmediate(() => {
        this.continuation = null;
        this.processRequests();
      });
    }
  }

  /** Carries out one request; returns the number of bytes written into the chain. */
  private handle(chain: DescriptorChain): number {
    if (chain.writableLength < 1) {
      // No room for a status byte: nothing can be reported, only returned.
      this.stats.failed++;
      return 0;
    }
    const statusAt = chain.writableLength - 1;
    const finish = (status: number, dataWritten = 0): number => {
      if (status !== BLK_S_OK) this.stats.failed++;
      chain.writeBytes(statusAt, new Uint8Array([status]));
      return dataWritten + 1;
    };
    if (chain.readableLength < HEADER_SIZE) return finish(BLK_S_IOERR);
    const header = new DataView(chain.readBytes(0, HEADER_SIZE).buffer);
    const type = header.getUint32(0, true);
    const sector = header.getBigUint64(8, true);
    try {
      switch (type) {
        case BLK_T_IN: {
          const length = statusAt;
          const offset = this.checkedOffset(sector, length);
          if (offset === null) return finish(BLK_S_IOERR);
          let at = offset;
          for (const view of chain.writableViews(0, length)) {
            this.disk.read(view, at);
            at += view.length;
          }
          this.stats.reads++;
          return finish(BLK_S_OK, length);
        }
        case BLK_T_OUT: {
          if (this.readOnly) return finish(BLK_S_IOERR);
          const length = chain.readableLength - HEADER_SIZE;
          const offset = this.checkedOffset(sector, length);
          if (offset === null) return finish(BLK_S_IOERR);
          let at = offset;
          for (const view of chain.readableViews(HEADER_SIZE, length)) {
            this.disk.write(view, at);
            at += view.length;
          }
          this.stats.writes++;
          return finish(BLK_S_OK);
        }
        case BLK_T_FLUSH:
          this.disk.flush();
          this.stats.flushes++;
          return finish(BLK_S_OK);
        case BLK_T_GET_ID: {
          const length = Math.min(statusAt, BLK_ID_BYTES);
          const answer = new Uint8Array(length); // zero-padded serial
          answer.set(this.id.subarray(0, length));
          chain.writeBytes(0, answer);
          return finish(BLK_S_OK, length);
        }
        default:
          return finish(BLK_S_UNSUPP);
      }
    } catch {
      // An I/O error on the host side: the guest sees a failed request.
      return finish(BLK_S_IOERR);
    }
  }

  /** Byte offset of a sector-aligned transfer inside the disk, or null when it is not one. */
  private checkedOffset(sector: bigint, length: number): number | null {
    if (length % SECTOR_SIZE !== 0) return null;
    const sectors = BigInt(length / SECTOR_SIZE);
    if (sector > BigInt(this.capacity) || sector + sectors > BigInt(this.capacity)) return null;
    return Number(sector) * SECTOR_SIZE;
  }
}
