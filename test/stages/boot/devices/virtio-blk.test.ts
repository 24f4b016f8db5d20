import { test } from "uvu";
import * as assert from "uvu/assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import {
  BLK_F_FLUSH,
  BLK_F_RO,
  BLK_S_IOERR,
  BLK_S_OK,
  BLK_S_UNSUPP,
  BLK_T_FLUSH,
  BLK_T_GET_ID,
  BLK_T_IN,
  BLK_T_OUT,
  VirtioBlock,
} from "../../../../stages/boot/devices/virtio-blk.js";
import { CowOverlayDisk, RawFileDisk, type BlockDisk } from "../../../../stages/boot/devices/virtio-blk-disk.js";
import { TestDriver, readConfig, type BufferSpec } from "../virtio/test-driver.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "virtio-blk-test-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let fileCounter = 0;

function imageFile(content: Uint8Array): string {
  const p = path.join(tmp, `image-${fileCounter++}`);
  fs.writeFileSync(p, content);
  return p;
}

function header(type: number, sector: bigint): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, sector, true);
  return h;
}

interface Result {
  status: number;
  usedLen: number;
  data: Uint8Array;
}

/** Sends one request the way Linux's virtio_blk lays it out and returns what came back. */
function request(d: TestDriver, type: number, sector: bigint, opts: { write?: Uint8Array; readLen?: number; indirect?: boolean; split?: number } = {}): Result {
  const q = d.queues[0];
  const specs: BufferSpec[] = [{ data: header(type, sector) }];
  const split = opts.split ?? 1;
  if (opts.write) {
    const part = Math.ceil(opts.write.length / split);
    for (let i = 0; i < opts.write.length; i += part) specs.push({ data: opts.write.subarray(i, i + part) });
  }
  if (opts.readLen) {
    const part = Math.ceil(opts.readLen / split);
    for (let i = 0; i < opts.readLen; i += part) specs.push({ writable: Math.min(part, opts.readLen - i) });
  }
  specs.push({ writable: 1 });
  const { head, buffers } = q.addChain(specs, { indirect: opts.indirect });
  d.kick(0);
  const used = q.takeUsed();
  assert.is(used.length, 1);
  assert.is(used[0].id, head);
  const writable = buffers.filter((b) => b.writable);
  const status = d.memory.bytes[writable[writable.length - 1].addr];
  const data = new Uint8Array(opts.readLen ?? 0);
  let at = 0;
  for (const b of writable.slice(0, -1)) {
    data.set(d.memory.read(b.addr, b.len), at);
    at += b.len;
  }
  return { status, usedLen: used[0].len, data };
}

function blkDriver(disk: BlockDisk, options: { id?: string; readOnly?: boolean } = {}) {
  return new TestDriver(new VirtioBlock({ disk, ...options }), { memorySize: 4 << 20, queueSize: 64 });
}

test("reads a read-only image, reports capacity and VIRTIO_BLK_F_RO, refuses writes", () => {
  const content = randomBytes(64 * 512);
  const file = imageFile(content);
  const d = blkDriver(RawFileDisk.open(file, { readOnly: true }));
  assert.ok(d.features & BLK_F_RO);
  assert.ok(d.features & BLK_F_FLUSH);
  assert.is(new DataView(readConfig(d.transport, 0, 8).buffer).getBigUint64(0, true), 64n);
  const r = request(d, BLK_T_IN, 3n, { readLen: 4096 });
  assert.is(r.status, BLK_S_OK);
  assert.is(r.usedLen, 4097);
  assert.ok(Buffer.from(r.data).equals(content.subarray(3 * 512, 3 * 512 + 4096)));
  const w = request(d, BLK_T_OUT, 0n, { write: new Uint8Array(512).fill(7) });
  assert.is(w.status, BLK_S_IOERR);
  assert.ok(fs.readFileSync(file).equals(content), "image untouched");
});

test("writes and reads back a writable raw image, across split and indirect buffers", () => {
  const file = imageFile(new Uint8Array(128 * 512));
  const d = blkDriver(RawFileDisk.open(file, { readOnly: false }));
  assert.is(d.features & BLK_F_RO, 0n);
  const data = randomBytes(8 * 512);
  assert.is(request(d, BLK_T_OUT, 10n, { write: data, split: 3 }).status, BLK_S_OK);
  assert.is(request(d, BLK_T_FLUSH, 0n).status, BLK_S_OK);
  assert.ok(fs.readFileSync(file).subarray(10 * 512, 18 * 512).equals(data));
  const r = request(d, BLK_T_IN, 10n, { readLen: data.length, split: 5, indirect: true });
  assert.is(r.status, BLK_S_OK);
  assert.ok(Buffer.from(r.data).equals(data));
});

test("out-of-range, overflowing and unaligned transfers fail with IOERR; unknown types with UNSUPP", () => {
  const file = imageFile(new Uint8Array(16 * 512));
  const d = blkDriver(RawFileDisk.open(file, { readOnly: false }));
  assert.is(request(d, BLK_T_IN, 15n, { readLen: 512 }).status, BLK_S_OK, "last sector");
  assert.is(request(d, BLK_T_IN, 15n, { readLen: 1024 }).status, BLK_S_IOERR, "runs past the end");
  assert.is(request(d, BLK_T_IN, 16n, { readLen: 512 }).status, BLK_S_IOERR);
  assert.is(request(d, BLK_T_IN, 0xffff_ffff_ffff_ffffn, { readLen: 512 }).status, BLK_S_IOERR, "sector + length overflows");
  assert.is(request(d, BLK_T_OUT, 1n << 60n, { write: new Uint8Array(512) }).status, BLK_S_IOERR);
  assert.is(request(d, BLK_T_IN, 0n, { readLen: 100 }).status, BLK_S_IOERR, "not whole sectors");
  assert.is(request(d, 11, 0n).status, BLK_S_UNSUPP, "DISCARD is not offered");
  assert.is(request(d, 0x1234, 0n).status, BLK_S_UNSUPP);
  assert.ok(fs.readFileSync(file).equals(Buffer.alloc(16 * 512)), "nothing written");
});

test("GET_ID returns the serial, zero-padded, at most 20 bytes", () => {
  const disk = RawFileDisk.open(imageFile(new Uint8Array(512)), { readOnly: true });
  const d = blkDriver(disk, { id: "bencher-root" });
  const r = request(d, BLK_T_GET_ID, 0n, { readLen: 20 });
  assert.is(r.status, BLK_S_OK);
  assert.is(r.usedLen, 21);
  assert.is(Buffer.from(r.data).toString("latin1"), "bencher-root".padEnd(20, "\0"));
  const long = blkDriver(RawFileDisk.open(imageFile(new Uint8Array(512)), { readOnly: true }), { id: "x".repeat(40) });
  assert.is(Buffer.from(request(long, BLK_T_GET_ID, 0n, { readLen: 20 }).data).toString(), "x".repeat(20));
});

test("malformed requests: short header gets IOERR, no status byte gets used length 0", () => {
  const d = blkDriver(RawFileDisk.open(imageFile(new Uint8Array(4096)), { readOnly: true }));
  const q = d.queues[0];
  const { buffers } = q.addChain([{ data: new Uint8Array(8) }, { writable: 1 }]);
  d.kick(0);
  assert.equal(q.takeUsed()[0].len, 1);
  assert.is(d.memory.bytes[buffers[1].addr], BLK_S_IOERR);
  q.addChain([{ data: header(BLK_T_IN, 0n) }]);
  d.kick(0);
  assert.equal(q.takeUsed()[0].len, 0);
  // An OUT request whose data sits in a writable buffer is the wrong way round: no data is written.
  const w = q.addChain([{ data: header(BLK_T_OUT, 0n) }, { writable: 512 }, { writable: 1 }]);
  d.kick(0);
  q.takeUsed();
  assert.is(d.memory.bytes[w.buffers[2].addr], BLK_S_IOERR, "a 513-byte writable area is not whole sectors");
  assert.is(d.transport.needsResetReason, null);
});

test("copy-on-write overlay: writes never reach the base, reads see them, two overlays are isolated", () => {
  const base = randomBytes(10 * 4096 + 1024); // last block is partial
  const basePath = imageFile(base);
  fs.chmodSync(basePath, 0o444);
  const diskA = CowOverlayDisk.open(basePath, { overlayPath: path.join(tmp, "a.overlay") });
  const diskB = CowOverlayDisk.open(basePath, { overlayPath: path.join(tmp, "b.overlay") });
  assert.not.ok(fs.existsSync(path.join(tmp, "a.overlay")), "overlay unlinked once open");
  const a = blkDriver(diskA);
  const b = blkDriver(diskB);
  const sectors = Math.floor(base.length / 512);

  // One sector in the middle of block 2: the rest of the block must come from the base.
  const one = randomBytes(512);
  assert.is(request(a, BLK_T_OUT, 17n, { write: one }).status, BLK_S_OK);
  // A write spanning blocks 4..6 partially, and the partial last block.
  const span = randomBytes(3 * 4096);
  assert.is(request(a, BLK_T_OUT, 4n * 8n + 3n, { write: span }).status, BLK_S_OK);
  const tail = randomBytes(1024);
  assert.is(request(a, BLK_T_OUT, BigInt(sectors - 2), { write: tail }).status, BLK_S_OK);

  const expected = Buffer.from(base);
  expected.set(one, 17 * 512);
  expected.set(span, (4 * 8 + 3) * 512);
  expected.set(tail, (sectors - 2) * 512);
  const all = request(a, BLK_T_IN, 0n, { readLen: sectors * 512, split: 7 });
  assert.is(all.status, BLK_S_OK);
  assert.ok(Buffer.from(all.data).equals(expected.subarray(0, sectors * 512)), "overlay view = base + writes");

  const other = request(b, BLK_T_IN, 0n, { readLen: sectors * 512 });
  assert.ok(Buffer.from(other.data).equals(base.subarray(0, sectors * 512)), "the other run sees the pristine base");
  assert.ok(fs.readFileSync(basePath).equals(base), "base file untouched");
  assert.is(diskA.overlayBlocks, 1 + 4 + 1);
  assert.is(diskB.overlayBlocks, 0);
  diskA.close();
  diskB.close();
});

test("the overlay file is sparse and can be kept for debugging; an existing path is refused", () => {
  const basePath = imageFile(new Uint8Array(8 << 20));
  const overlayPath = path.join(tmp, "kept.overlay");
  const disk = CowOverlayDisk.open(basePath, { overlayPath, keepOverlay: true });
  const d = blkDriver(disk);
  assert.is(request(d, BLK_T_OUT, 100n, { write: new Uint8Array(512).fill(1) }).status, BLK_S_OK);
  const st = fs.statSync(overlayPath);
  assert.is(st.size, 8 << 20);
  assert.ok(st.blocks * 512 <= 64 * 1024, `overlay allocates ${st.blocks * 512} bytes, expected about one block`);
  assert.throws(() => CowOverlayDisk.open(basePath, { overlayPath }), /EEXIST/);
  disk.close();
  assert.throws(() => CowOverlayDisk.open(path.join(tmp, "missing"), { overlayPath: path.join(tmp, "x.overlay") }), /ENOENT/);
  assert.not.ok(fs.existsSync(path.join(tmp, "x.overlay")));
});

test("a driver adding requests as fast as they are served cannot hold the event loop: a timer still fires", async () => {
  // As a vCPU running beside the device would: each request read makes the
  // same request available again, until the timer has fired (or, without a
  // bound on the device's loop, until we give up).
  const GIVE_UP_MS = 2000;
  let again = () => {};
  let timerFired = false;
  let reads = 0;
  const disk: BlockDisk = {
    size: 8 * 512,
    readOnly: true,
    read(into) {
      into.fill(0);
      reads++;
      if (!timerFired && Date.now() - started < GIVE_UP_MS) again();
    },
    write() {},
    flush() {},
    close() {},
  };
  const d = blkDriver(disk);
  const q = d.queues[0];
  const { head } = q.addChain([{ data: header(BLK_T_IN, 0n) }, { writable: 512 }, { writable: 1 }], {});
  again = () => q.publish(head);
  const started = Date.now();
  const firedAfterMs = new Promise<number>((resolve) => setTimeout(() => {
    timerFired = true;
    resolve(Date.now() - started);
  }, 0));
  d.kick(0);
  const ms = await firedAfterMs;
  assert.ok(ms < 500, `the timer fired ${ms} ms after the notification (${reads} requests served first)`);
  assert.ok(d.interrupt.count > 0, "the driver heard of the requests served before the timer");
  // The requests made available meanwhile are all served, on later turns.
  const availIdx = () => q.view.getUint16(q.avail + 2, true);
  const usedIdx = () => q.view.getUint16(q.used + 2, true);
  for (let turns = 0; usedIdx() !== availIdx() && turns < 100; turns++) await new Promise((r) => setImmediate(r));
  assert.is(usedIdx(), availIdx());
  assert.is(d.transport.needsResetReason, null);
});

test.run();
