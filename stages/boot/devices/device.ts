// What the VMM's buses expect of a device. Accesses arrive from MMIO and port
// I/O exits; `data` is the exit's data buffer (read: fill it; write: read it).

export interface MmioDevice {
  readonly name: string;
  mmioRead(offset: number, data: Uint8Array): void;
  mmioWrite(offset: number, data: Uint8Array): void;
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
