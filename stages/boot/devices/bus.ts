// Port I/O and MMIO buses: which device answers an exit's address.
import { MmioDevice, PioDevice } from "./device.js";

interface Range<D> { base: number; length: number; device: D }

class Bus<D extends { name: string }> {
  private readonly ranges: Range<D>[] = [];

  constructor(private readonly what: string) {}

  add(base: number, length: number, device: D): void {
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new Error(`${this.what} bus: ${device.name} at 0x${base.toString(16)} overlaps ${r.device.name}`);
      }
    }
    this.ranges.push({ base, length, device });
  }

  find(addr: number): Range<D> | undefined {
    for (const r of this.ranges) if (addr >= r.base && addr < r.base + r.length) return r;
    return undefined;
  }
}

export class PioBus extends Bus<PioDevice> {
  constructor() {
    super("port I/O");
  }

  /** Unclaimed ports read as all ones and ignore writes, as on a PC. */
  read(port: number, data: Uint8Array): void {
    const r = this.find(port);
    if (r) r.device.pioRead(port, data);
    else data.fill(0xff);
  }

  write(port: number, data: Uint8Array): void {
    this.find(port)?.device.pioWrite(port, data);
  }
}

export class MmioBus extends Bus<MmioDevice> {
  constructor() {
    super("MMIO");
  }

  read(addr: number, data: Uint8Array): boolean {
    const r = this.find(addr);
    if (!r) {
      data.fill(0xff);
      return false;
    }
    r.device.mmioRead(addr - r.base, data);
    return true;
  }

  write(addr: number, data: Uint8Array): boolean {
    const r = this.find(addr);
    if (!r) return false;
    r.device.mmioWrite(addr - r.base, data);
    return true;
  }
}
