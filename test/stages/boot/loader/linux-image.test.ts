// The kernel image formats: ELF vmlinux loading and bzImage payload extraction,
// with hostile inputs refused by a clear error.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { gzipSync } from "node:zlib";
import { GuestMemory } from "../../../../stages/boot/guest-memory.js";
import { loadElfKernel } from "../../../../stages/boot/loader/elf.js";
import { openFileReader } from "../../../../stages/boot/loader/image-reader.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isBzImage, parseBzImage } from "../../../../stages/boot/loader/bzimage.js";
import { buildBootParams, buildSetupData, initrdAddrMax } from "../../../../stages/boot/loader/boot-params.js";

/** A minimal ELF64 x86_64 executable with one PT_LOAD segment. */
function elf(opts: { paddr: number; data: Uint8Array; memsz?: number; entry?: number; machine?: number }): Uint8Array {
  const b = new Uint8Array(0x100 + opts.data.length);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, opts.machine ?? 62, true);
  v.setBigUint64(24, BigInt(opts.entry ?? opts.paddr), true);
  v.setBigUint64(32, 64n, true); // phoff
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  const ph = 64;
  v.setUint32(ph, 1, true);
  v.setBigUint64(ph + 8, 0x100n, true);
  v.setBigUint64(ph + 16, 0xffffffff80000000n + BigInt(opts.paddr), true);
  v.setBigUint64(ph + 24, BigInt(opts.paddr), true);
  v.setBigUint64(ph + 32, BigInt(opts.data.length), true);
  v.setBigUint64(ph + 40, BigInt(opts.memsz ?? opts.data.length), true);
  b.set(opts.data, 0x100);
  return b;
}

test("ELF: segments land at their physical address, bss is zeroed", () => {
  const mem = new GuestMemory(new Uint8Array(1 << 20).fill(0xee));
  const k = loadElfKernel(elf({ paddr: 0x80000, data: Uint8Array.of(1, 2, 3), memsz: 8 }), mem);
  assert.equal(k, { entry: 0x80000, start: 0x80000, end: 0x80008 });
  assert.equal([...mem.read(0x80000, 9)], [1, 2, 3, 0, 0, 0, 0, 0, 0xee]);
});

test("ELF: refuses segments outside guest memory, other machines and entries outside the image", () => {
  const mem = new GuestMemory(new Uint8Array(1 << 20));
  assert.throws(() => loadElfKernel(elf({ paddr: 0xff000, data: new Uint8Array(16), memsz: 0x2000 }), mem), /does not fit guest memory/);
  assert.throws(() => loadElfKernel(elf({ paddr: 0x1000, data: new Uint8Array(16), machine: 3 }), mem), /not x86_64/);
  assert.throws(() => loadElfKernel(elf({ paddr: 0x1000, data: new Uint8Array(16), entry: 0x9000 }), mem), /entry/);
  assert.throws(() => loadElfKernel(Uint8Array.of(0x7f, 0x45, 0x4c, 0x46), mem), /ELF/);
});

test("ELF from a file: segments read straight into guest memory; a segment past the file's end is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "elf-file-"));
  try {
    const path = join(dir, "vmlinux");
    writeFileSync(path, elf({ paddr: 0x80000, data: Uint8Array.of(9, 8, 7, 6), memsz: 6 }));
    const mem = new GuestMemory(new Uint8Array(1 << 20).fill(0xee));
    const file = openFileReader(path, "kernel");
    try {
      assert.equal(loadElfKernel(file, mem), { entry: 0x80000, start: 0x80000, end: 0x80006 });
    } finally {
      file.close();
    }
    assert.equal([...mem.read(0x80000, 7)], [9, 8, 7, 6, 0, 0, 0xee]);

    // filesz claims more than the file holds.
    const short = elf({ paddr: 0x80000, data: new Uint8Array(16) });
    new DataView(short.buffer).setBigUint64(64 + 32, 0x1000n, true);
    new DataView(short.buffer).setBigUint64(64 + 40, 0x1000n, true);
    writeFileSync(path, short);
    const cut = openFileReader(path, "kernel");
    try {
      assert.throws(() => loadElfKernel(cut, mem), /segment 0 lies outside the file/);
    } finally {
      cut.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ELF: absurd program header tables are refused before they are read", () => {
  const mem = new GuestMemory(new Uint8Array(1 << 20));
  const many = elf({ paddr: 0x1000, data: new Uint8Array(16) });
  new DataView(many.buffer).setUint16(56, 0xffff, true);
  assert.throws(() => loadElfKernel(many, mem), /program headers out of the file/);
  const far = elf({ paddr: 0x1000, data: new Uint8Array(16) });
  new DataView(far.buffer).setBigUint64(32, 0xffffffffffffff00n, true);
  assert.throws(() => loadElfKernel(far, mem), /program headers out of the file/);
});

function bzImage(payload: Uint8Array): Uint8Array {
  const setupSects = 4;
  const pm = (setupSects + 1) * 512;
  const b = new Uint8Array(pm + 0x100 + payload.length);
  const v = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  v.setUint16(0x1fe, 0xaa55, true);
  b[0x201] = 0x6a; // header ends at 0x26c
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, 0x020f, true);
  v.setUint32(0x22c, 0x37ffffff, true); // initrd_addr_max
  v.setUint32(0x248, 0x100, true);
  v.setUint32(0x24c, payload.length, true);
  b.set(payload, pm + 0x100);
  return b;
}

test("bzImage: the gzip payload is the vmlinux, the setup header is kept", () => {
  const vmlinux = elf({ paddr: 0x1000, data: Uint8Array.of(9, 9) });
  const bz = parseBzImage(bzImage(gzipSync(vmlinux)));
  assert.equal([...bz.vmlinux], [...vmlinux]);
  assert.is(bz.setupHeader.length, 0x26c - 0x1f1);
  assert.is(initrdAddrMax(bz.setupHeader), 0x38000000);
});

test("bzImage: a payload pointing past the file or of unknown compression is refused", () => {
  const img = bzImage(Uint8Array.of(1, 2, 3, 4));
  assert.ok(isBzImage(img));
  assert.throws(() => parseBzImage(img), /compression not recognised/);
  new DataView(img.buffer).setUint32(0x24c, 0xffffff, true);
  assert.throws(() => parseBzImage(img), /outside the file/);
  assert.throws(() => parseBzImage(new Uint8Array(0x1000)), /not a bzImage/);
});

test("boot params: header magic, loader type, command line, initrd, e820 and setup_data", () => {
  const p = buildBootParams({
    cmdlineAddr: 0x20000, cmdlineSize: 12, initrd: { addr: 0x5000000, size: 0x1234 },
    e820: [{ addr: 0, size: 0x9fc00, type: 1 }, { addr: 0x100000, size: 0xff00000, type: 1 }], setupData: 0x6000,
  });
  const v = new DataView(p.buffer);
  assert.is(v.getUint16(0x1fe, true), 0xaa55);
  assert.is(v.getUint32(0x202, true), 0x53726448);
  assert.is(p[0x210], 0xff);
  assert.is(v.getUint32(0x228, true), 0x20000);
  assert.is(v.getUint32(0x238, true), 12);
  assert.is(v.getUint32(0x218, true), 0x5000000);
  assert.is(v.getUint32(0x21c, true), 0x1234);
  assert.is(p[0x1e8], 2);
  assert.is(v.getBigUint64(0x2d0 + 20 + 8, true), 0xff00000n);
  assert.is(v.getBigUint64(0x250, true), 0x6000n);
  const sd = buildSetupData(9, new Uint8Array(32));
  assert.is(new DataView(sd.buffer).getUint32(8, true), 9);
  assert.is(new DataView(sd.buffer).getUint32(12, true), 32);
});

test.run();
