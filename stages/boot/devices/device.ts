// What the VMM's buses expect of a device. Accesses arrive from MMIO and port
// I/O exits; `data` is the exit's data buffer (read: fill it; write: read it).

export interface MmioDevice {
  readonly name: string;
  mmioRead(offset: number, data: Uint8Array): void;
  mmioWrite(offset: number, data: Uint8Array): void;
  /** A doorbell register the VMM may catch with ioeventfds instead of exits (virtio-mmio's QueueNotify). */
  readonly notifyRegister?: NotifyRegister;
}

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
}

/** Raises a device's interrupt line (edge: the VMM pulses it, e.g. through an irqfd). */
export interface InterruptLine {
  trigger(): void;
}
