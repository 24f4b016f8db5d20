// Port I/O and MMIO buses: which device answers an exit's address.
import { MmioDevice, PioDevice, PublishRead } from "./device.js";
import { MIRROR_MMIO, MIRROR_PIO, MirrorKind, ReadMirrors } from "../read-mirror.js";

interface Range<D> { base: number; length: number; device: D }

class Bus<D extends { name: string; publishReads?(publish: PublishRead): void }> {
  private readonly ranges: Range<D>[] = [];

  /** `mirrors`: where devices publish the registers the vCPU threads may read themselves (absent: nowhere). */
  constructor(private readonly what: string, private readonly kind: MirrorKind, private readonly mirrors?: ReadMirrors) {}

  /** Places `device` at [base, base + length); a device that publishes registers does so here (place it once). */
  add(base: number, length: number, device: D): void {
    for (const r of this.ranges) {
      if (base < r.base + r.length && r.base < base + length) {
        throw new Error(`${this.what} bus: ${device.name} at 0x${base.toString(16)} overlaps ${r.device.name}`);
      }
    }
    this.ranges.push({ base, length, device });
    const mirrors = this.mirrors;
    if (!mirrors || !device.publishReads) return;
    device.publishReads((offset, width) => {
      const addr = this.published(base, offset);
      if (addr < base || addr + width > base + length) throw new Error(`${this.what} bus: ${device.name} publishes 0x${addr.toString(16)}, outside its range`);
      return mirrors.add(this.kind, addr, width);
    });
  }

  /** The address of a published register: ports are absolute, MMIO offsets relative to the window. */
  protected published(base: number, offset: number): number {
    return base + offset;
  }

  find(addr: number): Range<D> | undefined {
    for (const r of this.ranges) if (addr >= r.base && addr < r.base + r.length) return r;
    return undefined;
  }
}

export class PioBus extends Bus<PioDevice> {
  constructor(mirrors?: ReadMirrors) {
    super("port I/O", MIRROR_PIO, mirrors);
  }

  protected override published(_base: number, port: number): number {
    return port;
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
  constructor(mirrors?: ReadMirrors) {
    super("MMIO", MIRROR_MMIO, mirrors);
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
