// The benchmarks' 300-byte guest: one ELF with a 64-bit entry (our VMM) and
// a PVH note with the same address (QEMU), loading at 1 MiB.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MARKER_GUEST_BASE, markerGuestElf } from "../../bench/lib/marker-guest.js";
import { GuestMemory } from "../../stages/boot/guest-memory.js";
import { loadElfKernel } from "../../stages/boot/loader/elf.js";

const MiB = 2 ** 20;

/** The PVH entry from the PT_NOTE segment (XEN_ELFNOTE_PHYS32_ENTRY). */
function pvhEntry(elf: Uint8Array): number | undefined {
  const v = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  for (let i = 0; i < v.getUint16(56, true); i++) {
    const o = phoff + i * v.getUint16(54, true);
    if (v.getUint32(o, true) !== 4) continue;
    const note = Number(v.getBigUint64(o + 8, true));
    const name = Buffer.from(elf.subarray(note + 12, note + 16)).toString("latin1");
    if (v.getUint32(note + 8, true) === 18 && name === "Xen\0") return v.getUint32(note + 16, true);
  }
  return undefined;
}

test("our ELF loader takes it: one segment at 1 MiB, entry inside it, the PVH entry the same", () => {
  const elf = markerGuestElf("hello from the marker guest");
  assert.ok(elf.length < 400, `${elf.length} bytes`);
  const mem = new GuestMemory(new Uint8Array(4 * MiB), [{ gpa: 0, size: 4 * MiB }]);
  const loaded = loadElfKernel(elf, mem);
  assert.is(loaded.start, MARKER_GUEST_BASE);
  assert.is(loaded.end, MARKER_GUEST_BASE + elf.length);
  assert.ok(loaded.entry > loaded.start && loaded.entry < loaded.end);
  assert.is(pvhEntry(elf), loaded.entry);
  // The code begins with mov dx, 0x3f8 and prints the line byte by byte.
  const code = mem.slice(loaded.entry, 10);
  assert.equal([...code], [0x66, 0xba, 0xf8, 0x03, 0xb0, "h".charCodeAt(0), 0xee, 0xb0, "e".charCodeAt(0), 0xee]);
});

test("a line that is empty, too long or not printable ASCII is refused", () => {
  for (const bad of ["", "x".repeat(201), "tab\there", "naïve"]) {
    assert.throws(() => markerGuestElf(bad), /1 to 200 printable ASCII characters/, JSON.stringify(bad));
  }
});

test("with status reads, the code first reads the serial line status that many times, then prints", () => {
  const elf = markerGuestElf("hi", { statusReads: 70000 });
  const mem = new GuestMemory(new Uint8Array(4 * MiB), [{ gpa: 0, size: 4 * MiB }]);
  const loaded = loadElfKernel(elf, mem);
  assert.is(pvhEntry(elf), loaded.entry);
  // mov dx, 0x3fd; mov ecx, 70000; in al, dx; loop (back to the in); mov dx, 0x3f8; mov al, 'h'; out dx, al
  assert.equal([...mem.slice(loaded.entry, 19)], [0x66, 0xba, 0xfd, 0x03, 0xb9, 0x70, 0x11, 0x01, 0x00, 0xec, 0xe2, 0xfd, 0x66, 0xba, 0xf8, 0x03, 0xb0, 0x68, 0xee]);
});

test("a status read count that is negative, fractional or huge is refused", () => {
  for (const bad of [-1, 1.5, 10_000_001, Number.NaN]) {
    assert.throws(() => markerGuestElf("x", { statusReads: bad }), /statusReads must be a whole number from 0 to 10000000/, String(bad));
  }
});

test.run();
