// The zero page (struct boot_params) of the Linux x86 boot protocol
// (Documentation/arch/x86/boot.rst, zero-page.rst): e820 map, command line
// and initrd location.

export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface E820Entry { addr: number; size: number; type: number }

export interface BootParamsInput {
  /** Setup header bytes from a bzImage (placed at 0x1f1), if booting one. */
  setupHeader?: Uint8Array;
  cmdlineAddr: number;
  cmdlineSize: number; // without the NUL
  initrd?: { addr: number; size: number };
  e820: readonly E820Entry[];
  /** Guest physical address of the first struct setup_data, if any. */
  setupData?: number;
}

export const SETUP_RNG_SEED = 9;

/** One struct setup_data (next, type, len, data) ending the list. */
export function buildSetupData(type: number, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, 0n, true);
  v.setUint32(8, type, true);
  v.setUint32(12, data.length, true);
  out.set(data, 16);
  return out;
}

const off = {
  extRamdiskImage: 0x0c0, extRamdiskSize: 0x0c4, extCmdLinePtr: 0x0c8,
  e820Entries: 0x1e8,
  setupHeader: 0x1f1,
  bootFlag: 0x1fe, header: 0x202, version: 0x206, typeOfLoader: 0x210, loadflags: 0x211,
  ramdiskImage: 0x218, ramdiskSize: 0x21c, cmdLinePtr: 0x228, initrdAddrMax: 0x22c,
  kernelAlignment: 0x230, cmdlineSize: 0x238, setupData: 0x250,
  e820Table: 0x2d0,
} as const;
const E820_MAX = 128;

export function buildBootParams(input: BootParamsInput): Uint8Array {
  const page = new Uint8Array(4096);
  const v = new DataView(page.buffer);
  if (input.setupHeader) page.set(input.setupHeader.subarray(0, 0x290 - off.setupHeader), off.setupHeader);
  else v.setUint16(off.version, 0x020f, true);
  v.setUint16(off.bootFlag, 0xaa55, true);
  v.setUint32(off.header, 0x53726448, true); // "HdrS"
  v.setUint8(off.typeOfLoader, 0xff); // undefined loader
  v.setUint8(off.loadflags, v.getUint8(off.loadflags) | 0x01); // LOADED_HIGH
  if (!input.setupHeader) v.setUint32(off.kernelAlignment, 0x1000000, true);
  v.setUint32(off.cmdLinePtr, input.cmdlineAddr, true);
  v.setUint32(off.extCmdLinePtr, Math.floor(input.cmdlineAddr / 2 ** 32), true);
  v.setUint32(off.cmdlineSize, input.cmdlineSize, true);
  if (input.initrd) {
    v.setUint32(off.ramdiskImage, input.initrd.addr >>> 0, true);
    v.setUint32(off.extRamdiskImage, Math.floor(input.initrd.addr / 2 ** 32), true);
    v.setUint32(off.ramdiskSize, input.initrd.size >>> 0, true);
    v.setUint32(off.extRamdiskSize, Math.floor(input.initrd.size / 2 ** 32), true);
  }
  if (input.setupData !== undefined) v.setBigUint64(off.setupData, BigInt(input.setupData), true);
  if (input.e820.length > E820_MAX) throw new Error(`boot params: ${input.e820.length} e820 entries, at most ${E820_MAX}`);
  v.setUint8(off.e820Entries, input.e820.length);
  input.e820.forEach((e, i) => {
    const o = off.e820Table + i * 20;
    v.setBigUint64(o, BigInt(e.addr), true);
    v.setBigUint64(o + 8, BigInt(e.size), true);
    v.setUint32(o + 16, e.type, true);
  });
  return page;
}

/** The highest address (exclusive) an initrd may reach, from a bzImage header (default 2 GiB). */
export function initrdAddrMax(setupHeader?: Uint8Array): number {
  if (!setupHeader || setupHeader.length < off.initrdAddrMax + 4 - off.setupHeader) return 0x80000000;
  const v = new DataView(setupHeader.buffer, setupHeader.byteOffset, setupHeader.byteLength);
  return v.getUint32(off.initrdAddrMax - off.setupHeader, true) + 1;
}
