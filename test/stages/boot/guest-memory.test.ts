// Guest RAM layout (below the MMIO hole, then from 4 GiB), its e820 map, and
// GuestMemory's checks across regions; whether the host can back the RAM.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestMemory, GuestMemoryError } from "../../../stages/boot/guest-memory.js";
import { layout, MAX_REGION_BYTES, ramRegions } from "../../../stages/boot/loader/layout.js";
import { MAX_MEMORY_MIB } from "../../../stages/boot/limits.js";
import { ramBeyondAddressWidth } from "../../../stages/boot/address-width.js";
import { e820Map } from "../../../stages/boot/loader/linux.js";
import { E820_RAM } from "../../../stages/boot/loader/boot-params.js";
import { availableHostMiB, memoryProblem } from "../../../stages/boot/host-memory.js";

const MiB = 2 ** 20;
const GiB = 2 ** 30;

test("RAM up to 3 GiB is one region from 0; more continues at 4 GiB, above the MMIO hole", () => {
  assert.equal(ramRegions(256 * MiB), [{ gpa: 0, size: 256 * MiB }]);
  assert.equal(ramRegions(3 * GiB), [{ gpa: 0, size: 3 * GiB }]);
  assert.equal(ramRegions(4608 * MiB), [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: 1536 * MiB }]);
  // Above the hole in regions of at most 4 GiB (one view each), one after another.
  assert.equal(ramRegions(7 * GiB), [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: 4 * GiB }]);
  assert.equal(ramRegions(12 * GiB), [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: 4 * GiB }, { gpa: 8 * GiB, size: 4 * GiB }, { gpa: 12 * GiB, size: GiB }]);
  const most = ramRegions(MAX_MEMORY_MIB * MiB);
  assert.is(most.length, 65);
  assert.equal(most[64], { gpa: 256 * GiB, size: GiB });
  assert.ok(most.every((r) => r.size <= MAX_REGION_BYTES));
  // Nothing in the hole: the virtio windows, IOAPIC, LAPIC and KVM's TSS stay clear of RAM.
  for (const r of ramRegions(4 * GiB)) {
    for (const a of [layout.virtioMmioBase, layout.ioapic, layout.lapic, layout.kvmTss]) {
      assert.not.ok(a >= r.gpa && a < r.gpa + r.size, `0x${a.toString(16)} is inside RAM`);
    }
  }
});

test("e820: base memory, RAM from 1 MiB to the hole, and RAM from 4 GiB", () => {
  assert.equal(e820Map(ramRegions(256 * MiB)), [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: MiB, size: 255 * MiB, type: E820_RAM },
  ]);
  assert.equal(e820Map(ramRegions(4096 * MiB)), [
    { addr: 0, size: 0x9fc00, type: E820_RAM },
    { addr: MiB, size: 3 * GiB - MiB, type: E820_RAM },
    { addr: 4 * GiB, size: GiB, type: E820_RAM },
  ]);
  // The 4 GiB regions above the hole are one run of RAM: one entry.
  assert.equal(e820Map(ramRegions(12 * GiB)).slice(2), [{ addr: 4 * GiB, size: 9 * GiB, type: E820_RAM }]);
});

test("address width: RAM must end within the CPU's physical address bits (CPUID 0x80000008)", () => {
  const cpuid = (bits: number) => [{ function: 0x80000008, index: 0, flags: 0, eax: 0x3000 | bits, ebx: 0, ecx: 0, edx: 0 }];
  assert.is(ramBeyondAddressWidth(ramRegions(63 * GiB), cpuid(36)), undefined, "63 GiB ends at 64 GiB (the hole comes first): all a 36-bit CPU has");
  assert.is(ramBeyondAddressWidth(ramRegions(64 * GiB), cpuid(36)), "ends at guest address 0x1040000000, beyond the CPU's 36-bit physical addresses");
  assert.is(ramBeyondAddressWidth(ramRegions(MAX_MEMORY_MIB * MiB), cpuid(48)), undefined);
  assert.is(ramBeyondAddressWidth(ramRegions(62 * GiB), []), undefined, "no leaf: nothing to go by");
});

// A small two-region memory: [0, 4 KiB) and [16 KiB, 24 KiB), host bytes back to back.
const REGIONS = [{ gpa: 0, size: 0x1000 }, { gpa: 0x4000, size: 0x2000 }];
function twoRegions(): { mem: GuestMemory; host: Uint8Array } {
  const host = new Uint8Array(0x3000);
  return { mem: new GuestMemory(host, REGIONS), host };
}

test("two regions: addresses translate to each region's host bytes", () => {
  const { mem, host } = twoRegions();
  mem.write(0xfff, Uint8Array.of(1));
  mem.write(0x4000, Uint8Array.of(2));
  mem.write(0x5fff, Uint8Array.of(3));
  assert.is(host[0xfff], 1);
  assert.is(host[0x1000], 2, "the high region follows the low one in the host mapping");
  assert.is(host[0x2fff], 3);
  assert.is(mem.read(0x4000, 1)[0], 2);
  assert.is(mem.size, 0x3000);
  assert.ok(mem.contains(0x4000, 0x2000));
  assert.ok(mem.contains(0x1000, 0), "an empty range at a region's end");
});

test("two regions: the hole, a range across a region's end, past the end and wrap-arounds are refused", () => {
  const { mem } = twoRegions();
  const refused: Array<[number | bigint, number]> = [
    [0x1000, 1], // first byte of the hole
    [0x3fff, 1], // last byte of the hole
    [0x2000, 16],
    [0xff0, 0x20], // runs from low RAM into the hole
    [0x3ff0, 0x20], // runs from the hole into high RAM
    [0xff0, 0x4000], // spans the whole hole
    [0x5ff0, 0x20], // runs off the end of high RAM
    [0x6000, 1],
    [0xffff_ffff_ffff_fff0n, 0x20], // wraps 2^64
    [-1, 1],
    [0, -1],
    [0x4000, 2 ** 53],
  ];
  for (const [gpa, len] of refused) {
    assert.not.ok(mem.contains(gpa, len), `0x${gpa.toString(16)}+${len}`);
    assert.throws(() => mem.slice(gpa, len), (e: unknown) => e instanceof GuestMemoryError);
  }
});

test("a memory whose views do not match its regions is refused", () => {
  assert.throws(() => new GuestMemory(new Uint8Array(0x2000), REGIONS), /has 4096 bytes behind it, not 8192/);
  assert.throws(() => new GuestMemory(new Uint8Array(0x4000), REGIONS), /the regions hold 12288 bytes, the host memory 16384/);
  assert.throws(() => new GuestMemory([new Uint8Array(0x1000), new Uint8Array(0x1000)], REGIONS), /not 8192/);
  assert.throws(() => new GuestMemory(new Uint8Array(0x3000), [REGIONS[1], REGIONS[0]]), /overlap or are out of order/);
});

test("adjacent high regions: each is reached through its own view, and a range across the line between them is refused", () => {
  // Scaled down: regions [0, 4 KiB) and two adjacent ones from 16 KiB.
  const host = new Uint8Array(0x3000);
  const mem = new GuestMemory([host.subarray(0, 0x1000), host.subarray(0x1000, 0x2000), host.subarray(0x2000)], [
    { gpa: 0, size: 0x1000 }, { gpa: 0x4000, size: 0x1000 }, { gpa: 0x5000, size: 0x1000 },
  ]);
  mem.write(0x4fff, Uint8Array.of(7));
  mem.write(0x5000, Uint8Array.of(8));
  assert.equal([host[0x1fff], host[0x2000]], [7, 8]);
  assert.not.ok(mem.contains(0x4fff, 2));
  assert.throws(() => mem.read(0x4ff0, 0x20), (e: unknown) => e instanceof GuestMemoryError);
});

test("fromHost views each region at its offset in the host mapping", () => {
  const asked: Array<[bigint, number]> = [];
  const mem = GuestMemory.fromHost(0x7000_0000_0000n, 4096 * MiB, (addr, len) => {
    asked.push([addr, len]);
    return { length: len } as Uint8Array; // never read: only the offsets are checked here
  });
  assert.equal(asked, [[0x7000_0000_0000n, 3 * GiB], [0x7000_0000_0000n + BigInt(3 * GiB), GiB]]);
  assert.equal(mem.regions, ramRegions(4096 * MiB));
  asked.length = 0;
  GuestMemory.fromHost(0n, 11 * GiB, (addr, len) => (asked.push([addr, len]), { length: len } as Uint8Array));
  assert.equal(asked, [[0n, 3 * GiB], [BigInt(3 * GiB), 4 * GiB], [BigInt(7 * GiB), 4 * GiB]]);
});

test("host memory: MemAvailable is read from /proc/meminfo; more guest RAM than that is refused in one line", () => {
  assert.is(availableHostMiB("MemTotal:       24684000 kB\nMemFree:  1 kB\nMemAvailable:   20971520 kB\n"), 20480);
  assert.is(availableHostMiB("MemTotal: 1 kB\n"), undefined);
  assert.ok((availableHostMiB() ?? 0) > 0, "this host says how much memory is available");
  assert.is(memoryProblem(4096, 20480), undefined);
  assert.is(memoryProblem(4096, undefined), undefined);
  assert.is(memoryProblem(4096, 4000), "4096 MiB cannot be backed: the host has 4000 MiB available (MemAvailable in /proc/meminfo)");
});

test.run();
