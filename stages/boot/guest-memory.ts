// Guest physical memory as the devices see it: every access is checked
// against the RAM the VMM gave the guest, because the guest is hostile.

export class GuestMemoryError extends Error {}

export class GuestMemory {
  /** `bytes` is the whole of guest RAM, guest physical address 0 at index 0. */
  constructor(readonly bytes: Uint8Array) {}

  get size(): number {
    return this.bytes.length;
  }

  /** True when [gpa, gpa+len) lies inside guest RAM (no overflow, no wrap). */
  contains(gpa: number | bigint, len: number): boolean {
    const start = typeof gpa === "bigint" ? gpa : BigInt(gpa);
    if (start < 0n || len < 0 || !Number.isSafeInteger(len)) return false;
    return start + BigInt(len) <= BigInt(this.bytes.length);
  }

  /** A view of [gpa, gpa+len) that aliases guest memory; throws when out of range. */
  slice(gpa: number | bigint, len: number): Uint8Array {
    if (!this.contains(gpa, len)) {
      throw new GuestMemoryError(`guest address range 0x${gpa.toString(16)}+${len} is outside guest memory`);
    }
    const start = Number(gpa);
    return this.bytes.subarray(start, start + len);
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
