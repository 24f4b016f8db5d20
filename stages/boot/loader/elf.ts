// Loads an x86_64 ELF vmlinux: every PT_LOAD segment at its physical address.
import { GuestMemory } from "../guest-memory.js";

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

export function loadElfKernel(image: Uint8Array, mem: GuestMemory, what = "kernel"): LoadedKernel {
  const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const fail = (why: string): never => {
    throw new Error(`${what}: not a loadable x86_64 ELF kernel: ${why}`);
  };
  if (!isElf(image) || image.length < 64) fail("no ELF header");
  if (image[4] !== 2 || image[5] !== 1) fail("not 64-bit little-endian");
  if (v.getUint16(18, true) !== 62) fail("machine is not x86_64");
  const phoff = Number(v.getBigUint64(32, true));
  const phentsize = v.getUint16(54, true);
  const phnum = v.getUint16(56, true);
  if (phentsize < 56 || phoff + phnum * phentsize > image.length) fail("program headers out of the file");

  let start = Infinity;
  let end = 0;
  let entry = Number(v.getBigUint64(24, true));
  let loaded = 0;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (v.getUint32(o, true) !== PT_LOAD) continue;
    const offset = Number(v.getBigUint64(o + 8, true));
    const vaddr = v.getBigUint64(o + 16, true);
    const paddr = Number(v.getBigUint64(o + 24, true));
    const filesz = Number(v.getBigUint64(o + 32, true));
    const memsz = Number(v.getBigUint64(o + 40, true));
    if (filesz > memsz || offset + filesz > image.length) fail(`segment ${i} lies outside the file`);
    if (!mem.contains(paddr, memsz)) fail(`segment ${i} at 0x${paddr.toString(16)}+0x${memsz.toString(16)} does not fit guest memory`);
    mem.write(paddr, image.subarray(offset, offset + filesz));
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
