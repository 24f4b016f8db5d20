// What the VMM's buses expect of a device. Accesses arrive from MMIO and port
// I/O exits; `data` is the exit's data buffer (read: fill it; write: read it).

export interface MmioDevice {
  readonly name: string;
  mmioRead(offset: number, data: Uint8Array): void;
  mmioWrite(offset: number, data: Uint8Array): void;
  /** A doorbell register the VMM may catch with ioeventfds instead of exits (virtio-mmio's QueueNotify). */
  readonly notifyRegister?: NotifyRegister;
  /** Called once when the device is placed: registers it lets the vCPU threads read (`offset` within its window). */
  publishReads?(publish: PublishRead): void;
}

/**
 * A register the vCPU threads may read without the device
 * (../read-mirror.ts). The device calls set() whenever the value a read
 * would return changes, before anything that makes the guest read it (e.g.
 * an interrupt).
 */
export interface MirroredRegister {
  set(value: number): void;
  /** The guest read the current value (a read the device did not see itself). */
  readSinceSet(): boolean;
}

/** Publishes the register at `offset` (a port for port I/O devices) of `width` bytes. */
export type PublishRead = (offset: number, width: 1 | 2 | 4) => MirroredRegister;

/**
 * A write-only register whose 4-byte writes of 0..values-1 only ring a
 * doorbell: writing v means exactly ring(v), and the guest does not expect
 * ring(v) to have run when its write completes (as with real hardware), so
 * the VMM may deliver it later and coalesce repeats (KVM_IOEVENTFD with
 * datamatch = v).
 */
export interface NotifyRegister {
  offset: number;
  values: number;
  ring(value: number): void;
}

export interface PioDevice {
  readonly name: string;
  pioRead(port: number, data: Uint8Array): void;
  pioWrite(port: number, data: Uint8Array): void;
  /** As MmioDevice.publishReads, with ports. */
  publishReads?(publish: PublishRead): void;
}

/** Raises a device's interrupt line (edge: the VMM pulses it, e.g. through an irqfd). */
export interface InterruptLine {
  trigger(): void;
}
