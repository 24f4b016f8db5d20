// A guest of a few hundred bytes that both our VMM and QEMU boot: it writes a
// line to the serial port and ends the VM with a triple fault. Booting it
// costs the guest next to nothing, so what is timed is the VMM's own work:
// start-up, creating the VM, running it, tearing it down.
//
// One ELF file, two ways in: our VMM enters e_entry in 64-bit long mode (the
// Linux boot protocol it speaks); QEMU enters the PVH note's address in 32-bit
// protected mode (XEN_ELFNOTE_PHYS32_ENTRY, how it boots an ELF kernel). Both
// point at the same code, written only with instructions that encode the same
// in both modes.

/** Where the file is loaded: at 1 MiB, where both VMMs put a kernel. */
export const MARKER_GUEST_BASE = 0x100000;
const SERIAL_PORT = 0x3f8;

const ELF_HEADER_BYTES = 64;
const PROGRAM_HEADER_BYTES = 56;
const PT_LOAD = 1;
const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** Most line status reads a guest may make before its line. */
export const MAX_STATUS_READS = 10_000_000;

/**
 * The code: `statusReads` times `in al, dx` from the serial line status
 * register (a read the guest waits for, as Linux's console driver makes
 * before every byte: `mov dx, 0x3fd; mov ecx, n; in al, dx; loop`), then
 * `mov dx, 0x3f8` and `mov al, c; out dx, al` per byte, then `lidt` of an
 * empty IDT and `ud2` (#UD with no IDT: triple fault).
 */
function code(line: Uint8Array, idtrAddr: number, statusReads: number): Uint8Array {
  const bytes: number[] = [];
  if (statusReads > 0) bytes.push(0x66, 0xba, 0xfd, 0x03, 0xb9, ...le32(statusReads), 0xec, 0xe2, 0xfd);
  bytes.push(0x66, 0xba, SERIAL_PORT & 0xff, SERIAL_PORT >> 8);
  for (const c of line) bytes.push(0xb0, c, 0xee);
  // lidt [disp32] through a SIB byte with neither base nor index: an absolute
  // address in both modes (the plain disp32 form is RIP-relative in 64-bit).
  bytes.push(0x0f, 0x01, 0x1c, 0x25, ...le32(idtrAddr));
  bytes.push(0x0f, 0x0b);
  return Uint8Array.from(bytes);
}

function le32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
}

/** The guest's ELF image; it reads the serial line status `statusReads` times, prints `line` (plus a newline) on COM1, then triple-faults. */
export function markerGuestElf(line: string, opts: { statusReads?: number } = {}): Uint8Array {
  if (!/^[\x20-\x7e]{1,200}$/.test(line)) throw new Error("marker guest: the line must be 1 to 200 printable ASCII characters");
  const statusReads = opts.statusReads ?? 0;
  if (!Number.isInteger(statusReads) || statusReads < 0 || statusReads > MAX_STATUS_READS) {
    throw new Error(`marker guest: statusReads must be a whole number from 0 to ${MAX_STATUS_READS}, not ${statusReads}`);
  }
  const text = Buffer.from(line + "\n", "latin1");
  const noteOffset = ELF_HEADER_BYTES + 2 * PROGRAM_HEADER_BYTES;
  const noteBytes = 20; // namesz, descsz, type, "Xen\0", 32-bit entry
  const codeOffset = noteOffset + noteBytes;
  const codeBytes = (statusReads > 0 ? 12 : 0) + 4 + 3 * text.length + 10;
  const idtrOffset = codeOffset + codeBytes;
  const size = idtrOffset + 16; // 10 bytes of IDTR (limit 0, base 0), padded
  const entry = MARKER_GUEST_BASE + codeOffset;

  const file = Buffer.alloc(size);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2 /* 64-bit */, 1 /* little-endian */, 1 /* version */], 0);
  file.writeUInt16LE(2, 16); // ET_EXEC
  file.writeUInt16LE(62, 18); // EM_X86_64
  file.writeUInt32LE(1, 20);
  file.writeBigUInt64LE(BigInt(entry), 24);
  file.writeBigUInt64LE(BigInt(ELF_HEADER_BYTES), 32); // e_phoff
  file.writeUInt16LE(ELF_HEADER_BYTES, 52);
  file.writeUInt16LE(PROGRAM_HEADER_BYTES, 54);
  file.writeUInt16LE(2, 56);

  const programHeader = (at: number, type: number, flags: number, offset: number, bytes: number, align: number) => {
    file.writeUInt32LE(type, at);
    file.writeUInt32LE(flags, at + 4);
    file.writeBigUInt64LE(BigInt(offset), at + 8);
    file.writeBigUInt64LE(BigInt(MARKER_GUEST_BASE + offset), at + 16); // vaddr
    file.writeBigUInt64LE(BigInt(MARKER_GUEST_BASE + offset), at + 24); // paddr
    file.writeBigUInt64LE(BigInt(bytes), at + 32);
    file.writeBigUInt64LE(BigInt(bytes), at + 40);
    file.writeBigUInt64LE(BigInt(align), at + 48);
  };
  programHeader(ELF_HEADER_BYTES, PT_LOAD, 7 /* rwx */, 0, size, 0x1000);
  programHeader(ELF_HEADER_BYTES + PROGRAM_HEADER_BYTES, PT_NOTE, 4 /* r */, noteOffset, noteBytes, 4);

  file.writeUInt32LE(4, noteOffset); // namesz
  file.writeUInt32LE(4, noteOffset + 4); // descsz
  file.writeUInt32LE(XEN_ELFNOTE_PHYS32_ENTRY, noteOffset + 8);
  file.write("Xen\0", noteOffset + 12, "latin1");
  file.writeUInt32LE(entry, noteOffset + 16);

  file.set(code(text, MARKER_GUEST_BASE + idtrOffset, statusReads), codeOffset);
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
