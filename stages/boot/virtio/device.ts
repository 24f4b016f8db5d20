// What a virtio device (blk, vsock) implements so a transport can carry it,
// and what the transport hands the device when the driver starts it. Devices
// know nothing of MMIO; the transport knows nothing of blocks or sockets.

import type { GuestMemory } from "../guest-memory.js";
import type { Virtqueue } from "./queue.js";

export interface VirtioDevice {
  readonly name: string;
  /** Device ID from virtio 1.2 §5 (2 = block, 19 = vsock). */
  readonly deviceId: number;
  /** Largest size the driver may give each queue; the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Device-specific feature bits offered (the transport adds VERSION_1 and the ring bits). */
  readonly deviceFeatures: bigint;
  /** Reads the device configuration space at `offset` into `data` (zeros past its end). */
  readConfig(offset: number, data: Uint8Array): void;
  writeConfig(offset: number, data: Uint8Array): void;
  /** The driver set DRIVER_OK: the queues are configured and checked. */
  activate(context: VirtioContext): void;
  /** The driver notified queue `queueIndex` (MMIO write or ioeventfd). */
  queueNotify(queueIndex: number): void;
  /** The driver reset the device (or the VMM is shutting down): drop all state. */
  reset(): void;
}

export interface VirtioContext {
  readonly memory: GuestMemory;
  readonly queues: readonly Virtqueue[];
  /** Features both sides agreed on. */
  readonly features: bigint;
  /** Interrupts the driver if `queue` has new used entries it wants to hear about. */
  notifyDriver(queue: Virtqueue): void;
  /** The device cannot go on (e.g. a malformed chain): sets DEVICE_NEEDS_RESET. */
  fail(reason: string): void;
  /** True once fail() was called, until the driver resets the device. */
  readonly failed: boolean;
}
