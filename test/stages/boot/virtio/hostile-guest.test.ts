// A hostile guest: random and adversarial descriptor tables, rings and
// register writes thrown at the virtqueue, the virtio-mmio transport,
// virtio-blk and virtio-vsock. No exception may escape, no notification may
// take long, and nothing outside the writable buffers the guest handed over
// (and the used rings) may change.
//
// Budget: FUZZ_SECONDS in total (default 3). Reproduce with FUZZ_SEED=<seed>.

import { test } from "uvu";
import * as assert from "uvu/assert";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { GuestMemory } from "../../../../stages/boot/guest-memory.js";
import { Virtqueue, VirtqueueError } from "../../../../stages/boot/virtio/queue.js";
import { DescriptorChain } from "../../../../stages/boot/virtio/chain.js";
import {
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  F_RING_EVENT_IDX,
  F_RING_INDIRECT_DESC,
  F_VERSION_1,
} from "../../../../stages/boot/virtio/constants.js";
import { VirtioMmioTransport } from "../../../../stages/boot/virtio/mmio.js";
import type { VirtioDevice } from "../../../../stages/boot/virtio/device.js";
import { VirtioBlock } from "../../../../stages/boot/devices/virtio-blk.js";
import { CowOverlayDisk } from "../../../../stages/boot/devices/virtio-blk-disk.js";
import { VirtioVsock } from "../../../../stages/boot/devices/virtio-vsock.js";
import { HOST_CID, VSOCK_TYPE_STREAM, encodeHeader } from "../../../../stages/boot/devices/virtio-vsock-packet.js";
import { CountingInterrupt, TestDriver, write32, type DriverQueue } from "./test-driver.js";

const TOTAL_SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
const MEMORY_SIZE = 64 * 1024;
/** Rings live below this; "valid" buffers above it, so device writes cannot rewrite descriptors mid-check. */
const DATA_START = 0x4000;
/** A notification taking this long counts as a hang. */
const SLOW_MS = 1000;

console.log(`hostile-guest fuzz: FUZZ_SEED=${SEED} FUZZ_SECONDS=${TOTAL_SECONDS}`);

/** mulberry32: small, seeded, good enough to explore. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return {
    float: next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}
type Rng = ReturnType<typeof prng>;

/** Runs `body` with fresh seeds until the budget is used; a failure names the seed that reproduces it. */
async function fuzz(name: string, share: number, body: (rng: Rng, iteration: number) => void | Promise<void>): Promise<number> {
  const deadline = Date.now() + TOTAL_SECONDS * 1000 * share;
  const master = prng(SEED ^ hash(name));
  let i = 0;
  do {
    const seed = Math.floor(master.float() * 2 ** 32);
    try {
      await body(prng(seed), i);
    } catch (err) {
      throw new Error(`${name}: iteration ${i} failed (FUZZ_SEED=${SEED}, iteration seed ${seed}): ${(err as Error).stack ?? err}`);
    }
    i++;
  } while (Date.now() < deadline);
  return i;
}

function hash(s: string): number {
  let h = 2166136261;
  for (const c of s) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

// ---- adversarial descriptors ----

function hostileAddr(rng: Rng): bigint {
  const r = rng.float();
  if (r < 0.75) return BigInt(DATA_START + rng.int(MEMORY_SIZE - DATA_START));
  if (r < 0.85) return BigInt(MEMORY_SIZE - rng.int(64)); // straddles the end
  if (r < 0.9) return 0xffff_ffff_ffff_ffffn - BigInt(rng.int(4096)); // wraps 2^64
  if (r < 0.95) return BigInt(MEMORY_SIZE + rng.int(1 << 20));
  return BigInt(rng.int(2 ** 32)) << 20n;
}

function hostileLen(rng: Rng): number {
  const r = rng.float();
  if (r < 0.6) return rng.int(600);
  if (r < 0.7) return 0;
  if (r < 0.8) return 0xffff_ffff - rng.int(16);
  if (r < 0.9) return MEMORY_SIZE;
  return rng.int(8192);
}

function hostileFlags(rng: Rng, writableBias: number): number {
  let f = 0;
  if (rng.chance(0.6)) f |= DESC_F_NEXT;
  if (rng.chance(writableBias)) f |= DESC_F_WRITE;
  if (rng.chance(0.08)) f |= DESC_F_INDIRECT;
  return f;
}

/** Fills a descriptor table (and maybe indirect tables) with hostile entries. */
function scribbleTable(rng: Rng, q: DriverQueue, table: number, entries: number, writableBias: number): void {
  for (let i = 0; i < entries; i++) {
    const flags = hostileFlags(rng, writableBias);
    let addr = hostileAddr(rng);
    let len = hostileLen(rng);
    if (flags & DESC_F_INDIRECT && rng.chance(0.7)) {
      // A real-looking indirect table, itself hostile.
      const n = 1 + rng.int(8);
      const at = DATA_START + 16 * rng.int((MEMORY_SIZE - DATA_START) / 16 - n);
      for (let k = 0; k < n; k++) q.setDesc(at, k, hostileAddr(rng), hostileLen(rng), hostileFlags(rng, writableBias), rng.int(n + 2));
      addr = BigInt(at);
      len = rng.chance(0.8) ? 16 * n : rng.int(200);
    }
    const next = rng.chance(0.9) ? rng.int(q.size) : rng.int(0x10000);
    q.setDesc(table, i, addr, len, flags, next);
  }
}

/** Publishes hostile heads: mostly in range, sometimes not, sometimes an absurd index jump. */
function publishHeads(rng: Rng, q: DriverQueue): void {
  const n = 1 + rng.int(q.size);
  for (let k = 0; k < n; k++) q.publish(rng.chance(0.95) ? rng.int(q.size) : rng.int(0x10000));
  if (rng.chance(0.05)) q.view.setUint16(q.avail + 2, rng.int(0x10000), true);
  if (rng.chance(0.2)) q.view.setUint16(q.avail, rng.int(4), true); // flags incl. NO_INTERRUPT
  if (rng.chance(0.2)) q.setUsedEvent(rng.int(0x10000));
}

/** Bytes the device may legitimately write: writable buffers anywhere in the tables, and the used rings. */
function writableMask(memory: GuestMemory, queues: DriverQueue[]): Uint8Array {
  const mask = new Uint8Array(memory.size);
  const view = new DataView(memory.bytes.buffer, memory.bytes.byteOffset, memory.size);
  const mark = (addr: bigint, len: number) => {
    if (addr >= BigInt(memory.size)) return;
    const start = Number(addr);
    mask.fill(1, start, Math.min(memory.size, start + len));
  };
  const scanTable = (table: number, entries: number, nested: boolean) => {
    for (let i = 0; i < entries; i++) {
      const at = table + 16 * i;
      if (at + 16 > memory.size) return;
      const addr = view.getBigUint64(at, true);
      const len = view.getUint32(at + 8, true);
      const flags = view.getUint16(at + 12, true);
      if (flags & DESC_F_INDIRECT && !nested && addr + BigInt(len) <= BigInt(memory.size)) scanTable(Number(addr), Math.floor(len / 16), true);
      else if (flags & DESC_F_WRITE) mark(addr, len);
    }
  };
  for (const q of queues) {
    scanTable(q.desc, q.size, false);
    mark(BigInt(q.used), 6 + 8 * q.size);
  }
  return mask;
}

function assertOnlyMaskedChanged(before: Uint8Array, after: Uint8Array, mask: Uint8Array): void {
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i] && !mask[i]) {
      throw new Error(`guest byte 0x${i.toString(16)} changed (0x${before[i].toString(16)} -> 0x${after[i].toString(16)}) outside every writable buffer and used ring`);
    }
  }
}

/** Sets a device up like a driver would, then lets the hostile guest loose on its queues. */
async function hostileRound(rng: Rng, device: VirtioDevice, fill: (rng: Rng, d: TestDriver) => void): Promise<void> {
  const features = rng.chance(0.5) ? undefined : rng.pick([F_RING_INDIRECT_DESC, F_RING_EVENT_IDX, 0n]);
  const d = new TestDriver(device, { memorySize: MEMORY_SIZE, queueSize: rng.pick([1, 2, 4, 8, 16]), accept: features === undefined ? undefined : features | F_VERSION_1 });
  try {
    const strict = rng.chance(0.85); // otherwise buffers may overlap the rings: only "no crash" is checked
    if (!strict) for (const q of d.queues) scribbleTable(rng, q, q.desc, q.size, 0.5);
    fill(rng, d);
    const mask = writableMask(d.memory, d.queues);
    const before = d.memory.bytes.slice();
    for (let kicks = 1 + rng.int(4); kicks > 0; kicks--) {
      const started = Date.now();
      d.kick(rng.chance(0.9) ? rng.int(d.queues.length) : rng.int(100));
      assert.ok(Date.now() - started < SLOW_MS, "a notification took too long");
    }
    // Socket events may deliver more (vsock); they must obey the same rules.
    await new Promise((r) => setImmediate(r));
    if (strict) assertOnlyMaskedChanged(before, d.memory.bytes, mask);
    for (const q of d.queues) {
      const usedIdx = q.view.getUint16(q.used + 2, true);
      for (let k = 0; k < Math.min(usedIdx, q.size); k++) {
        const id = q.view.getUint32(q.used + 4 + 8 * k, true);
        assert.ok(id < q.size, `used ring returned id ${id} for a queue of ${q.size}`);
      }
    }
  } finally {
    d.transport.reset();
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "virtio-fuzz-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("virtqueue: random rings never yield a chain outside memory, loop, or throw", async () => {
  const iterations = await fuzz("virtqueue", 0.2, (rng) => {
    const memory = new GuestMemory(rng.bytes(8192));
    const size = rng.pick([1, 2, 4, 8, 16, 32]);
    const q = new Virtqueue(0, 32);
    q.size = size;
    q.descTableAddr = BigInt(16 * rng.int(256));
    q.availRingAddr = BigInt(2 * rng.int(2048));
    q.usedRingAddr = BigInt(4 * rng.int(1024));
    if (q.configError(memory)) return;
    q.activate(memory, rng.chance(0.5) ? F_RING_INDIRECT_DESC | F_RING_EVENT_IDX : 0n);
    let pops = 0;
    for (;;) {
      const c = q.pop();
      if (c === null || c instanceof VirtqueueError) break;
      assert.ok(++pops <= size, "more chains than the queue holds");
      let seenWritable = false;
      for (const b of [...c.readable, ...c.writable]) {
        assert.ok(memory.contains(b.addr, b.len));
        if (b.writable) seenWritable = true;
        else assert.not.ok(seenWritable);
      }
      assert.ok(c.readable.length + c.writable.length <= 32);
      q.addUsed(c.head, rng.int(100));
      q.needsInterrupt();
      q.enableNotification();
    }
  });
  console.log(`  virtqueue: ${iterations} iterations`);
});

// Two regions with a hole between them, like low RAM and RAM from 4 GiB.
const SPLIT = [{ gpa: 0, size: 0x2000 }, { gpa: 0x4000, size: 0x2000 }];
const inOneRegion = (addr: bigint, len: number) =>
  SPLIT.some((r) => addr >= BigInt(r.gpa) && addr + BigInt(len) <= BigInt(r.gpa + r.size));

/** Half inside a region, the rest mostly near a region's edge: inside, in the hole, or running across an end. */
function edgyAddr(rng: Rng, align: number): bigint {
  const edges = [0x2000, 0x4000, 0x6000];
  const r = rng.float();
  const raw = r < 0.5 ? rng.pick(SPLIT).gpa + rng.int(0x1c00) : r < 0.85 ? rng.pick(edges) + rng.int(0x200) - 0x100 : rng.int(0x7000);
  return BigInt(Math.max(0, raw - (raw % align)));
}

test("virtqueue, two regions: no ring, table or buffer in the hole or across a region's end", async () => {
  let chains = 0;
  const iterations = await fuzz("virtqueue-split", 0.15, (rng) => {
    const memory = new GuestMemory(rng.bytes(0x4000), SPLIT);
    const size = rng.pick([1, 2, 4, 8, 16, 32]);
    const q = new Virtqueue(0, 32);
    q.size = size;
    q.descTableAddr = edgyAddr(rng, 16);
    q.availRingAddr = edgyAddr(rng, 2);
    q.usedRingAddr = edgyAddr(rng, 4);
    const rings: Array<[bigint, number]> = [[q.descTableAddr, 16 * size], [q.availRingAddr, 6 + 2 * size], [q.usedRingAddr, 6 + 8 * size]];
    const problem = q.configError(memory);
    assert.is(problem === null, rings.every(([a, n]) => inOneRegion(a, n)), `rings ${rings.map(([a, n]) => `0x${a.toString(16)}+${n}`).join(", ")}: ${problem}`);
    if (problem) return;
    q.activate(memory, F_RING_INDIRECT_DESC | F_RING_EVENT_IDX);
    // Descriptors and indirect tables pointing at the edges.
    const table = memory.dataView(q.descTableAddr, 16 * size);
    for (let i = 0; i < size; i++) {
      const indirect = rng.chance(0.15);
      table.setBigUint64(16 * i, edgyAddr(rng, indirect ? 16 : 1), true);
      table.setUint32(16 * i + 8, indirect ? 16 * (1 + rng.int(4)) : rng.int(0x300), true);
      table.setUint16(16 * i + 12, (indirect ? DESC_F_INDIRECT : 0) | (rng.chance(0.4) ? DESC_F_NEXT : 0) | (rng.chance(0.5) ? DESC_F_WRITE : 0), true);
      table.setUint16(16 * i + 14, rng.int(size), true);
    }
    const avail = memory.dataView(q.availRingAddr, 6 + 2 * size);
    const n = 1 + rng.int(size);
    for (let k = 0; k < n; k++) avail.setUint16(4 + 2 * k, rng.int(size), true);
    avail.setUint16(2, n, true);
    for (;;) {
      const c = q.pop();
      if (c === null || c instanceof VirtqueueError) break;
      chains++;
      for (const b of [...c.readable, ...c.writable]) assert.ok(inOneRegion(BigInt(b.addr), b.len), `buffer 0x${b.addr.toString(16)}+${b.len}`);
      q.addUsed(c.head, rng.int(100));
      q.needsInterrupt();
    }
  });
  console.log(`  virtqueue, two regions: ${iterations} iterations, ${chains} chains accepted`);
});

test("virtio-mmio: random register traffic never throws", async () => {
  const memory = new GuestMemory(new Uint8Array(MEMORY_SIZE));
  const disk = CowOverlayDisk.open(baseImage(), { overlayPath: path.join(tmp, "mmio.overlay") });
  const device = new VirtioBlock({ disk });
  const t = new VirtioMmioTransport(device, { memory, interrupt: new CountingInterrupt() });
  const iterations = await fuzz("mmio", 0.1, (rng) => {
    for (let k = 0; k < 200; k++) {
      const offset = rng.chance(0.8) ? 4 * rng.int(0x80) : rng.int(0x300);
      const data = rng.bytes(rng.pick([1, 2, 4, 4, 4, 8]));
      if (rng.chance(0.5)) t.mmioRead(offset, data);
      else if (offset === 0x70 && rng.chance(0.5)) write32(t, 0x70, rng.pick([0, 1, 3, 11, 15, 0x80, rng.int(256)]));
      else t.mmioWrite(offset, data);
    }
  });
  disk.close();
  console.log(`  mmio: ${iterations} iterations`);
});

let baseCounter = 0;
function baseImage(): string {
  const p = path.join(tmp, `base-${baseCounter++}.img`);
  fs.writeFileSync(p, prng(SEED).bytes(32 * 1024));
  return p;
}

test("virtio-blk: hostile requests", async () => {
  const base = baseImage();
  const baseBefore = fs.readFileSync(base);
  const disk = CowOverlayDisk.open(base, { overlayPath: path.join(tmp, "blk.overlay") });
  const device = new VirtioBlock({ disk, id: "fuzz" });
  const iterations = await fuzz("virtio-blk", 0.35, (rng) =>
    hostileRound(rng, device, (rng, d) => {
      const q = d.queues[0];
      // Many chains start as plausible requests, then get corrupted.
      for (let k = 0; k < q.size && rng.chance(0.7); k++) {
        try {
          const header = new Uint8Array(16);
          const v = new DataView(header.buffer);
          v.setUint32(0, rng.pick([0, 1, 4, 8, 11, rng.int(2 ** 32)]), true);
          v.setBigUint64(8, rng.chance(0.8) ? BigInt(rng.int(80)) : BigInt(rng.int(2 ** 32)) << 32n, true);
          const dataLen = rng.pick([0, 512, 1024, 511, 4096, rng.int(3000)]);
          const specs = [{ data: header }, rng.chance(0.5) ? { data: rng.bytes(dataLen) } : { writable: dataLen }, { writable: rng.pick([0, 1, 2]) }];
          q.addChain(rng.chance(0.3) ? specs.reverse() : specs, { indirect: rng.chance(0.3) && d.features & F_RING_INDIRECT_DESC ? true : false });
        } catch {
          break; // queue or test memory full
        }
      }
      if (rng.chance(0.5)) scribbleTable(rng, q, q.desc, rng.int(q.size + 1), 0.4);
      if (rng.chance(0.5)) publishHeads(rng, q);
    }),
  );
  disk.close();
  assert.ok(fs.readFileSync(base).equals(baseBefore), "the base image never changes");
  console.log(`  virtio-blk: ${iterations} iterations, ${device.stats.reads} reads, ${device.stats.writes} writes, ${device.stats.failed} failed`);
});

test("virtio-vsock: hostile packets and rings, with a live echo service on port 1", async () => {
  const uds = path.join(tmp, "fuzz.sock");
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => echo.listen(`${uds}_1`, r));
  const device = await VirtioVsock.create({ guestCid: 3, udsPath: uds, connectTimeoutMs: 200 });
  const iterations = await fuzz("virtio-vsock", 0.35, (rng) =>
    hostileRound(rng, device, (rng, d) => {
      const [rx, tx] = d.queues;
      for (let k = 0; k < rx.size && rng.chance(0.8); k++) {
        try {
          rx.addChain([{ writable: rng.pick([4096, 44, 43, 0, 100, rng.int(5000)]) }]);
        } catch {
          break;
        }
      }
      for (let k = 0; k < tx.size && rng.chance(0.8); k++) {
        const payload = rng.bytes(rng.pick([0, 1, 100, rng.int(5000)]));
        const header = encodeHeader({
          srcCid: rng.chance(0.9) ? 3n : BigInt(rng.int(10)),
          dstCid: rng.chance(0.9) ? HOST_CID : BigInt(rng.int(10)),
          srcPort: rng.int(4),
          dstPort: rng.pick([1, 1, 2, rng.int(2 ** 32)]),
          len: rng.chance(0.8) ? payload.length : rng.int(2 ** 32),
          type: rng.chance(0.9) ? VSOCK_TYPE_STREAM : rng.int(4),
          op: rng.int(9),
          flags: rng.int(4),
          bufAlloc: rng.pick([0, 1, 4096, 256 * 1024, 2 ** 32 - 1]),
          fwdCnt: rng.int(2 ** 32),
        });
        try {
          tx.addChain(rng.chance(0.2) ? [{ data: header.subarray(0, rng.int(44)) }] : [{ data: header }, { data: payload }]);
        } catch {
          break;
        }
      }
      for (const q of [rx, tx]) if (rng.chance(0.4)) scribbleTable(rng, q, q.desc, rng.int(q.size + 1), q === rx ? 0.8 : 0.2);
      if (rng.chance(0.5)) publishHeads(rng, rng.pick([rx, tx]));
    }),
  );
  await device.close();
  await new Promise<void>((r) => echo.close(() => r()));
  console.log(`  virtio-vsock: ${iterations} iterations, ${device.malformedPackets} malformed packets dropped`);
});

test.run();
