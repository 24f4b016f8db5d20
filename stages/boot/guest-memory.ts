// Guest physical memory as the devices see it: one or more regions of RAM
// (below the MMIO hole from 0, and from 4 GiB in 4 GiB regions:
// loader/layout.ts ramRegions). Every access is checked against the RAM the
// VMM gave the guest, because the guest is hostile: a range must lie inside
// one region, so an address in the hole, past the end, or a range running
// off a region's end is refused. That includes a range across the 4 GiB line
// between two high regions, which Linux never hands a device: the block
// layer keeps each segment within a 4 GiB boundary, and its other device
// buffers are allocations aligned to their size.
import { MAX_REGION_BYTES, RamRegion, ramRegions } from "./loader/layout.js";

export class GuestMemoryError extends Error {}

export class GuestMemory {
  readonly regions: readonly RamRegion[];
  private readonly views: readonly Uint8Array[];
  /** Each region's first and past-the-end guest address, for locate(): a device access is on the virtqueue's hot path. */
  private readonly starts: readonly bigint[];
  private readonly ends: readonly bigint[];
  readonly size: number;

  /**
   * `host` is all of guest RAM with its regions back to back (one array), or
   * one array per region. `regions` defaults to ramRegions(total size).
   */
  constructor(host: Uint8Array | readonly Uint8Array[], regions?: readonly RamRegion[]) {
    const total = host instanceof Uint8Array ? host.length : host.reduce((n, v) => n + v.length, 0);
    this.regions = regions ?? ramRegions(total);
    let offset = 0;
    this.views = this.regions.map((r, i) => {
      if (i > 0 && r.gpa < this.regions[i - 1].gpa + this.regions[i - 1].size) throw new Error("guest memory: regions overlap or are out of order");
      const v = host instanceof Uint8Array ? host.subarray(offset, offset + r.size) : host[i];
      offset += r.size;
      if (!v || v.length !== r.size) throw new Error(`guest memory: region at 0x${r.gpa.toString(16)} has ${v?.length ?? 0} bytes behind it, not ${r.size}`);
      return v;
    });
    if (offset !== total) throw new Error(`guest memory: the regions hold ${offset} bytes, the host memory ${total}`);
    this.size = total;
    this.starts = this.regions.map((r) => BigInt(r.gpa));
    this.ends = this.regions.map((r) => BigInt(r.gpa) + BigInt(r.size));
  }

  /**
   * The host mapping at `addr` (regions back to back) viewed region by
   * region: for any size, where one view of the whole is limited to 4 GiB.
   */
  static fromHost(addr: bigint, size: number, view: (addr: bigint, len: number) => Uint8Array): GuestMemory {
    const regions = ramRegions(size);
    let offset = 0n;
    const views = regions.map((r) => {
      if (r.size > MAX_REGION_BYTES) throw new Error(`guest memory: a region of ${r.size} bytes is larger than one view can be (${MAX_REGION_BYTES})`);
      const v = view(addr + offset, r.size);
      offset += BigInt(r.size);
      return v;
    });
    return new GuestMemory(views, regions);
  }

  /** All of guest RAM as one array, index = guest physical address: only when it is one region from 0 (test fixtures). */
  get bytes(): Uint8Array {
    if (this.regions.length !== 1 || this.regions[0].gpa !== 0) throw new Error("guest memory: more than one region, no single byte array");
    return this.views[0];
  }

  /** The region holding all of [gpa, gpa+len) and the offset of gpa in it, or undefined. */
  private locate(gpa: number | bigint, len: number): { view: Uint8Array; offset: number } | undefined {
    const start = typeof gpa === "bigint" ? gpa : BigInt(gpa);
    if (start < 0n || len < 0 || !Number.isSafeInteger(len)) return undefined;
    // The last region starting at or below `start` (they are in order): up to 65 of them with 256 GiB.
    let lo = 0;
    for (let hi = this.starts.length - 1; lo < hi; ) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= start) lo = mid;
      else hi = mid - 1;
    }
    if (start < this.starts[lo] || start + BigInt(len) > this.ends[lo]) return undefined;
    return { view: this.views[lo], offset: Number(start - this.starts[lo]) };
  }

  /** True when [gpa, gpa+len) lies inside one region of guest RAM (no overflow, no wrap, not across a hole). */
  contains(gpa: number | bigint, len: number): boolean {
    return this.locate(gpa, len) !== undefined;
  }

  /** A view of [gpa, gpa+len) that aliases guest memory; throws when it is not all inside one region. */
  slice(gpa: number | bigint, len: number): Uint8Array {
    const at = this.locate(gpa, len);
    if (!at) throw new GuestMemoryError(`guest address range 0x${gpa.toString(16)}+${len} is outside guest memory`);
    return at.view.subarray(at.offset, at.offset + len);
  }

  read(gpa: number | bigint, len: number): Uint8Array {
    return this.slice(gpa, len);
  }

  write(gpa: number | bigint, data: Uint8Array): void {
    this.slice(gpa, data.length).set(data);
  }

  dataView(gpa: number | bigint, len: number): DataView {
    const s = this.slice(gpa, len);
    return new DataView(s.buffer, s.byteOffset, s.byteLength);
  }
}
