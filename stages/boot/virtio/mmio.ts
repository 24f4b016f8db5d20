// The virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register file a
// guest driver programs, the status state machine, feature negotiation, queue
// setup and interrupt status. It carries any VirtioDevice.
//
// The core maps it at some guest physical base and forwards MMIO exits to
// mmioRead/mmioWrite with the offset inside the 0x200-byte window. Queue
// notifications may also come from an ioeventfd on base + QUEUE_NOTIFY_OFFSET
// (datamatch = queue index): the core then calls notify(queueIndex) itself.

import type { MmioDevice, InterruptLine, MirroredRegister, NotifyRegister, PublishRead } from "../devices/device.js";
import type { GuestMemory } from "../guest-memory.js";
import {
  F_RING_EVENT_IDX,
  F_RING_INDIRECT_DESC,
  F_VERSION_1,
  INTERRUPT_CONFIG_CHANGE,
  INTERRUPT_USED_BUFFER,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FAILED,
  STATUS_FEATURES_OK,
} from "./constants.js";
import type { VirtioContext, VirtioDevice } from "./device.js";
import { Virtqueue } from "./queue.js";

export const MMIO_MAGIC = 0x74726976; // "virt"
export const MMIO_VERSION = 2;
/** Vendor ID the device reports; any value works, this one spells "BNCH". */
export const MMIO_VENDOR_ID = 0x48434e42;
/** Size of the MMIO window one device occupies (registers + config space). */
export const MMIO_WINDOW_SIZE = 0x200;
/** Where the QueueNotify register is: the address to hang an ioeventfd on. */
export const QUEUE_NOTIFY_OFFSET = 0x050;
export const CONFIG_SPACE_OFFSET = 0x100;

const REG = {
  magic: 0x000,
  version: 0x004,
  deviceId: 0x008,
  vendorId: 0x00c,
  deviceFeatures: 0x010,
  deviceFeaturesSel: 0x014,
  driverFeatures: 0x020,
  driverFeaturesSel: 0x024,
  queueSel: 0x030,
  queueNumMax: 0x034,
  queueNum: 0x038,
  queueReady: 0x044,
  queueNotify: QUEUE_NOTIFY_OFFSET,
  interruptStatus: 0x060,
  interruptAck: 0x064,
  status: 0x070,
  queueDescLow: 0x080,
  queueDescHigh: 0x084,
  queueDriverLow: 0x090,
  queueDriverHigh: 0x094,
  queueDeviceLow: 0x0a0,
  queueDeviceHigh: 0x0a4,
  configGeneration: 0x0fc,
} as const;

/** Features every device behind this transport offers on top of its own. */
const TRANSPORT_FEATURES = F_VERSION_1 | F_RING_INDIRECT_DESC | F_RING_EVENT_IDX;

export interface VirtioMmioOptions {
  memory: GuestMemory;
  interrupt: InterruptLine;
  /** Told why the device entered DEVICE_NEEDS_RESET or refused a driver step (for the VMM's log). */
  onError?: (message: string) => void;
}

export class VirtioMmioTransport implements MmioDevice {
  readonly name: string;
  readonly queues: readonly Virtqueue[];
  private readonly memory: GuestMemory;
  private readonly interrupt: InterruptLine;
  private readonly onError: (message: string) => void;
  private readonly offered: bigint;

  private status = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private driverFeatures = 0n;
  private queueSel = 0;
  private interruptStatus = 0;
  /**
   * Bits raised since the driver last read InterruptStatus. Its ACK only
   * acknowledges what it read, and writes reach us posted, maybe after a
   * newer raise: clearing that bit would lose the interrupt (the driver's
   * handler, run for it, would find the status 0 and never look at the ring).
   * A read a vCPU thread answered from the mirror counts once ACK sees its
   * read mark (../read-mirror.ts).
   */
  private raisedSinceRead = 0;
  /** InterruptStatus, read on every interrupt: answered by the vCPU threads. */
  private interruptStatusMirror: MirroredRegister | undefined;
  /** Our devices' config spaces never change while running, so this stays 0. */
  private readonly configGeneration = 0;
  /** Bumped on every reset so a context from an older activation goes inert. */
  private epoch = 0;
  private failedReason: string | null = null;

  constructor(readonly device: VirtioDevice, options: VirtioMmioOptions) {
    this.name = `virtio-mmio:${device.name}`;
    this.memory = options.memory;
    this.interrupt = options.interrupt;
    this.onError = options.onError ?? (() => {});
    this.offered = device.deviceFeatures | TRANSPORT_FEATURES;
    this.queues = device.queueMaxSizes.map((max, i) => new Virtqueue(i, max));
  }

  publishReads(publish: PublishRead): void {
    this.interruptStatusMirror = publish(REG.interruptStatus, 4);
    this.setInterruptStatus(this.interruptStatus);
  }

  /** QueueNotify, for an ioeventfd per queue (datamatch = queue index). */
  get notifyRegister(): NotifyRegister {
    return { offset: QUEUE_NOTIFY_OFFSET, values: this.queues.length, ring: (queue) => this.notify(queue) };
  }

  get queueCount(): number {
    return this.queues.length;
  }

  /** The device status register as the driver sees it. */
  get deviceStatus(): number {
    return this.status;
  }

  /** Why the device needs a reset, or null. */
  get needsResetReason(): string | null {
    return this.failedReason;
  }

  mmioRead(offset: number, data: Uint8Array): void {
    data.fill(0);
    if (offset >= CONFIG_SPACE_OFFSET) {
      this.device.readConfig(offset - CONFIG_SPACE_OFFSET, data);
      return;
    }
    if (data.length !== 4) return; // registers are 32-bit only (§4.2.2.2)
    new DataView(data.buffer, data.byteOffset, 4).setUint32(0, this.readRegister(offset) >>> 0, true);
  }

  mmioWrite(offset: number, data: Uint8Array): void {
    if (offset >= CONFIG_SPACE_OFFSET) {
      if (this.status & STATUS_FAILED) return;
      this.device.writeConfig(offset - CONFIG_SPACE_OFFSET, data);
      return;
    }
    if (data.length !== 4) return;
    this.writeRegister(offset, new DataView(data.buffer, data.byteOffset, 4).getUint32(0, true));
  }

  /** A queue notification, from a QueueNotify write or an ioeventfd the core polls. */
  notify(queueIndex: number): void {
    if ((this.status & STATUS_DRIVER_OK) === 0 || this.failedReason !== null) return;
    if (!Number.isInteger(queueIndex) || queueIndex < 0 || queueIndex >= this.queues.length) return;
    try {
      this.device.queueNotify(queueIndex);
    } catch (err) {
      // A device bug must not take the VMM down: the device stops, the driver may reset it.
      this.fail(`${this.device.name} failed on queue ${queueIndex}: ${(err as Error).message}`);
    }
  }

  /** Resets the device as if the driver wrote 0 to Status (also for VMM shutdown). */
  reset(): void {
    this.epoch++;
    try {
      this.device.reset();
    } catch (err) {
      this.onError(`${this.device.name} reset failed: ${(err as Error).message}`);
    }
    for (const q of this.queues) q.reset();
    this.status = 0;
    this.deviceFeaturesSel = this.driverFeaturesSel = 0;
    this.driverFeatures = 0n;
    this.queueSel = 0;
    this.raisedSinceRead = 0;
    this.setInterruptStatus(0);
    this.failedReason = null;
  }

  private readRegister(offset: number): number {
    const q = this.queues[this.queueSel];
    switch (offset) {
      case REG.magic: return MMIO_MAGIC;
      case REG.version: return MMIO_VERSION;
      case REG.deviceId: return this.device.deviceId;
      case REG.vendorId: return MMIO_VENDOR_ID;
      case REG.deviceFeatures:
        return this.deviceFeaturesSel > 1 ? 0 : Number((this.offered >> BigInt(32 * this.deviceFeaturesSel)) & 0xffff_ffffn);
      case REG.queueNumMax: return q ? q.maxSize : 0;
      case REG.queueReady: return q && q.ready ? 1 : 0;
      case REG.interruptStatus:
        this.raisedSinceRead = 0;
        return this.interruptStatus;
      case REG.status: return this.status;
      case REG.configGeneration: return this.configGeneration;
      default: return 0; // write-only and unknown registers read as zero
    }
  }

  private writeRegister(offset: number, value: number): void {
    switch (offset) {
      case REG.deviceFeaturesSel: this.deviceFeaturesSel = value; return;
      case REG.driverFeaturesSel: this.driverFeaturesSel = value; return;
      case REG.driverFeatures: return this.writeDriverFeatures(value);
      case REG.queueSel: this.queueSel = value; return;
      case REG.queueNotify: return this.notify(value);
      case REG.interruptAck: return this.acknowledge(value);
      case REG.status: return this.writeStatus(value);
      case REG.queueNum:
      case REG.queueReady:
      case REG.queueDescLow:
      case REG.queueDescHigh:
      case REG.queueDriverLow:
      case REG.queueDriverHigh:
      case REG.queueDeviceLow:
      case REG.queueDeviceHigh:
        return this.writeQueueRegister(offset, value);
      default: return; // read-only and unknown registers ignore writes
    }
  }

  private writeDriverFeatures(value: number): void {
    // Features are fixed once FEATURES_OK is set (§3.1.1).
    if (this.status & STATUS_FEATURES_OK || !(this.status & STATUS_DRIVER)) return;
    if (this.driverFeaturesSel > 1) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    this.driverFeatures = (this.driverFeatures & ~(0xffff_ffffn << shift)) | (BigInt(value >>> 0) << shift);
  }

  private writeQueueRegister(offset: number, value: number): void {
    const q = this.queues[this.queueSel];
    // Queues are set up between FEATURES_OK and DRIVER_OK, and not while ready.
    if (!q || !(this.status & STATUS_FEATURES_OK) || this.status & STATUS_DRIVER_OK) return;
    if (offset === REG.queueReady) {
      if ((value & 1) === 0) {
        q.ready = false;
        return;
      }
      const problem = q.configError(this.memory);
      if (problem) return this.fail(`queue ${q.index} of ${this.device.name}: ${problem}`);
      q.ready = true;
      return;
    }
    if (q.ready) return;
    const low = (old: bigint) => (old & ~0xffff_ffffn) | BigInt(value >>> 0);
    const high = (old: bigint) => (old & 0xffff_ffffn) | (BigInt(value >>> 0) << 32n);
    switch (offset) {
      case REG.queueNum: q.size = value; return;
      case REG.queueDescLow: q.descTableAddr = low(q.descTableAddr); return;
      case REG.queueDescHigh: q.descTableAddr = high(q.descTableAddr); return;
      case REG.queueDriverLow: q.availRingAddr = low(q.availRingAddr); return;
      case REG.queueDriverHigh: q.availRingAddr = high(q.availRingAddr); return;
      case REG.queueDeviceLow: q.usedRingAddr = low(q.usedRingAddr); return;
      case REG.queueDeviceHigh: q.usedRingAddr = high(q.usedRingAddr); return;
    }
  }

  private writeStatus(value: number): void {
    if (value === 0) return this.reset();
    // The driver may only add bits (§2.1.2), never DEVICE_NEEDS_RESET.
    const added = value & ~this.status & ~STATUS_DEVICE_NEEDS_RESET;
    if ((value & this.status & ~STATUS_DEVICE_NEEDS_RESET) !== (this.status & ~STATUS_DEVICE_NEEDS_RESET)) {
      this.onError(`${this.device.name}: driver tried to clear status bits (0x${this.status.toString(16)} -> 0x${value.toString(16)}); ignored`);
      return;
    }
    if (added & STATUS_FAILED) this.status |= STATUS_FAILED;
    // Each step needs the one before it, in the order of §3.1.1.
    if (added & STATUS_ACKNOWLEDGE) this.status |= STATUS_ACKNOWLEDGE;
    if (added & STATUS_DRIVER && this.status & STATUS_ACKNOWLEDGE) this.status |= STATUS_DRIVER;
    if (added & STATUS_FEATURES_OK && this.status & STATUS_DRIVER) this.acceptFeatures();
    if (added & STATUS_DRIVER_OK && this.status & STATUS_FEATURES_OK) this.start();
  }

  private acceptFeatures(): void {
    const unknown = this.driverFeatures & ~this.offered;
    if (unknown !== 0n) {
      this.onError(`${this.device.name}: driver accepted features 0x${unknown.toString(16)} the device did not offer; FEATURES_OK refused`);
      return;
    }
    if ((this.driverFeatures & F_VERSION_1) === 0n) {
      this.onError(`${this.device.name}: driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported); FEATURES_OK refused`);
      return;
    }
    this.status |= STATUS_FEATURES_OK;
  }

  private start(): void {
    if (this.failedReason !== null || this.status & STATUS_FAILED) return;
    for (const q of this.queues) {
      if (!q.ready) continue;
      try {
        q.activate(this.memory, this.driverFeatures);
      } catch (err) {
        return this.fail((err as Error).message);
      }
    }
    this.status |= STATUS_DRIVER_OK;
    const epoch = this.epoch;
    const transport = this;
    const context: VirtioContext = {
      memory: this.memory,
      queues: this.queues,
      features: this.driverFeatures,
      notifyDriver(queue: Virtqueue): void {
        if (epoch !== transport.epoch) return;
        if (queue.needsInterrupt()) transport.raise(INTERRUPT_USED_BUFFER);
      },
      fail(reason: string): void {
        if (epoch !== transport.epoch) return;
        transport.fail(reason);
      },
      get failed(): boolean {
        return epoch !== transport.epoch || transport.failedReason !== null;
      },
    };
    try {
      this.device.activate(context);
    } catch (err) {
      this.fail(`${this.device.name} failed to start: ${(err as Error).message}`);
    }
  }

  /** DEVICE_NEEDS_RESET: stop every queue and tell the driver (§2.1.2). */
  private fail(reason: string): void {
    if (this.failedReason !== null) return;
    this.failedReason = reason;
    for (const q of this.queues) q.stop();
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    this.onError(`${this.device.name}: ${reason}; device needs a reset`);
    if (this.status & STATUS_DRIVER_OK) this.raise(INTERRUPT_CONFIG_CHANGE);
  }

  private raise(bit: number): void {
    this.raisedSinceRead |= bit;
    // Published before the interrupt, so the handler it runs reads the bit.
    this.setInterruptStatus(this.interruptStatus | bit);
    this.interrupt.trigger();
  }

  private acknowledge(value: number): void {
    if (this.interruptStatusMirror?.readSinceSet()) this.raisedSinceRead = 0;
    this.setInterruptStatus(this.interruptStatus & ~(value & ~this.raisedSinceRead));
  }

  private setInterruptStatus(value: number): void {
    this.interruptStatus = value;
    this.interruptStatusMirror?.set(value);
  }
}
