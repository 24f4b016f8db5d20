// Loads an x86_64 ELF vmlinux: every PT_LOAD segment at its physical address,
// read from the image straight into guest memory.
import { GuestMemory } from "../guest-memory.js";
import { bufferReader, type ImageReader } from "./image-reader.js";

export interface LoadedKernel {
  /** Guest physical address of the 64-bit entry point (startup_64). */
  entry: number;
  /** Lowest and highest guest physical byte the kernel occupies. */
  start: number;
  end: number;
}

const PT_LOAD = 1;

export function isElf(image: Uint8Array): boolean {
  return image.length >= 4 && image[0] === 0x7f && image[1] === 0x45 && image[2] === 0x4c && image[3] === 0x46;
}

/** ELF header (64 bytes) plus at most this many program headers are read. */
const MAX_PROGRAM_HEADERS = 128;

export function loadElfKernel(image: Uint8Array | ImageReader, mem: GuestMemory, what = "kernel"): LoadedKernel {
  const reader = image instanceof Uint8Array ? bufferReader(image, what) : image;
  const fail = (why: string): never => {
    throw new Error(`${what}: not a loadable x86_64 ELF kernel: ${why}`);
  };
  if (reader.size < 64) fail("no ELF header");
  const header = new Uint8Array(64);
  reader.read(0, header);
  const h = new DataView(header.buffer);
  if (!isElf(header)) fail("no ELF header");
  if (header[4] !== 2 || header[5] !== 1) fail("not 64-bit little-endian");
  if (h.getUint16(18, true) !== 62) fail("machine is not x86_64");
  const phoff = Number(h.getBigUint64(32, true));
  const phentsize = h.getUint16(54, true);
  const phnum = h.getUint16(56, true);
  if (phentsize < 56 || phnum > MAX_PROGRAM_HEADERS || !Number.isSafeInteger(phoff) || phoff + phnum * phentsize > reader.size) {
    fail("program headers out of the file");
  }
  const table = new Uint8Array(phnum * phentsize);
  reader.read(phoff, table);
  const v = new DataView(table.buffer);

  let start = Infinity;
  let end = 0;
  let entry = Number(h.getBigUint64(24, true));
  let loaded = 0;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    const offset = Number(v.getBigUint64(o + 8, true));
    const vaddr = v.getBigUint64(o + 16, true);
    const paddr = Number(v.getBigUint64(o + 24, true));
    const filesz = Number(v.getBigUint64(o + 32, true));
    const memsz = Number(v.getBigUint64(o + 40, true));
    if (filesz > memsz || !Number.isSafeInteger(offset + filesz) || offset + filesz > reader.size) fail(`segment ${i} lies outside the file`);
    if (!mem.contains(paddr, memsz)) fail(`segment ${i} at 0x${paddr.toString(16)}+0x${memsz.toString(16)} does not fit guest memory`);
    reader.read(offset, mem.slice(paddr, filesz));
    mem.slice(paddr + filesz, memsz - filesz).fill(0);
    // e_entry of vmlinux is a physical address already; if it is the
    // virtual address of a segment, map it through that segment.
    const ventry = BigInt(entry);
    if (ventry >= vaddr && ventry < vaddr + BigInt(memsz) && vaddr !== BigInt(paddr)) {
      entry = paddr + Number(ventry - vaddr);
    }
    start = Math.min(start, paddr);
    end = Math.max(end, paddr + memsz);
    loaded++;
  }
  if (loaded === 0) fail("no PT_LOAD segment");
  if (entry < start || entry >= end) fail(`entry 0x${entry.toString(16)} is outside the loaded segments`);
  return { entry, start, end };
}
