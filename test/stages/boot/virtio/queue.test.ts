import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestMemory } from "../../../../stages/boot/guest-memory.js";
import { Virtqueue, VirtqueueError } from "../../../../stages/boot/virtio/queue.js";
import { DescriptorChain } from "../../../../stages/boot/virtio/chain.js";
import {
  AVAIL_F_NO_INTERRUPT,
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  F_RING_EVENT_IDX,
  F_RING_INDIRECT_DESC,
  F_VERSION_1,
} from "../../../../stages/boot/virtio/constants.js";
import { BumpAllocator, DriverQueue } from "./test-driver.js";

const ALL = F_VERSION_1 | F_RING_INDIRECT_DESC | F_RING_EVENT_IDX;

function setup(size = 8, features = ALL, memSize = 1 << 16) {
  const memory = new GuestMemory(new Uint8Array(memSize));
  const alloc = new BumpAllocator(0x100, memSize);
  const dq = new DriverQueue(memory, alloc, 0, size);
  const q = new Virtqueue(0, size);
  q.descTableAddr = BigInt(dq.desc);
  q.availRingAddr = BigInt(dq.avail);
  q.usedRingAddr = BigInt(dq.used);
  q.ready = true;
  q.activate(memory, features);
  return { memory, alloc, dq, q };
}

function expectError(r: unknown, pattern: RegExp): void {
  assert.instance(r, VirtqueueError);
  assert.match((r as Error).message, pattern);
}

test("pops a readable-then-writable chain and returns it through the used ring", () => {
  const { dq, q } = setup();
  const { head, buffers } = dq.addChain([{ data: new Uint8Array([1, 2, 3]) }, { data: new Uint8Array([4]) }, { writable: 10 }]);
  const chain = q.pop();
  assert.instance(chain, DescriptorChain);
  const c = chain as DescriptorChain;
  assert.is(c.head, head);
  assert.is(c.readableLength, 4);
  assert.is(c.writableLength, 10);
  assert.equal([...c.readBytes(0, 4)], [1, 2, 3, 4]);
  assert.equal([...c.readBytes(2, 2)], [3, 4]);
  c.writeBytes(3, new Uint8Array([9, 9]));
  assert.is(dq.memory.bytes[buffers[2].addr + 3], 9);
  assert.throws(() => c.readBytes(3, 2), /runs past/);
  assert.is(q.pop(), null);
  q.addUsed(c.head, 5);
  assert.equal(dq.takeUsed(), [{ id: head, len: 5 }]);
});

test("follows an indirect table", () => {
  const { dq, q } = setup();
  dq.addChain([{ data: new Uint8Array([7]) }, { writable: 3 }, { writable: 4 }], { indirect: true });
  const c = q.pop() as DescriptorChain;
  assert.instance(c, DescriptorChain);
  assert.is(c.readable.length, 1);
  assert.is(c.writableLength, 7);
});

test("an indirect table of up to queue-size entries is fine (Linux seg_max = size - 2)", () => {
  const { dq, q } = setup(8);
  const specs = [{ data: new Uint8Array(16) }, ...Array.from({ length: 6 }, () => ({ writable: 512 })), { writable: 1 }];
  dq.addChain(specs, { indirect: true });
  assert.instance(q.pop(), DescriptorChain);
});

test("rejects indirect descriptors when the feature was not negotiated", () => {
  const { dq, q } = setup(8, F_VERSION_1);
  dq.addChain([{ writable: 3 }], { indirect: true });
  expectError(q.pop(), /not negotiated/);
});

test("detects a descriptor loop", () => {
  const { dq, q } = setup(8);
  dq.setDesc(dq.desc, 0, 0x100n, 4, DESC_F_NEXT, 1);
  dq.setDesc(dq.desc, 1, 0x100n, 4, DESC_F_NEXT, 0);
  dq.publish(0);
  expectError(q.pop(), /more than 8 descriptors/);
  // The queue stops: nothing more comes out of it, even valid chains.
  dq.setDesc(dq.desc, 2, 0x100n, 4, 0, 0);
  dq.publish(2);
  assert.is(q.pop(), null);
});

test("detects a loop inside an indirect table", () => {
  const { dq, q, alloc } = setup(8);
  const table = alloc.alloc(32);
  dq.setDesc(table, 0, 0x100n, 4, DESC_F_NEXT, 1);
  dq.setDesc(table, 1, 0x100n, 4, DESC_F_NEXT, 0);
  dq.setDesc(dq.desc, 0, BigInt(table), 32, DESC_F_INDIRECT, 0);
  dq.publish(0);
  expectError(q.pop(), /more than 8 descriptors/);
});

for (const [what, addr, len, pattern] of [
  ["past the end", 0xfff0n, 0x20, /outside guest memory/],
  ["absurdly long", 0n, 0xffff_ffff, /outside guest memory/],
  ["wrapping around 2^64", 0xffff_ffff_ffff_fff0n, 0x20, /outside guest memory/],
] as const) {
  test(`rejects a buffer ${what}`, () => {
    const { dq, q } = setup();
    dq.setDesc(dq.desc, 0, addr, len, DESC_F_WRITE, 0);
    dq.publish(0);
    expectError(q.pop(), pattern);
  });
}

test("rejects an out-of-range head, next index and indirect next", () => {
  let s = setup(8);
  s.dq.publish(8);
  expectError(s.q.pop(), /head index 8/);

  s = setup(8);
  s.dq.setDesc(s.dq.desc, 0, 0x100n, 4, DESC_F_NEXT, 9);
  s.dq.publish(0);
  expectError(s.q.pop(), /next index 9/);

  s = setup(8);
  const table = s.alloc.alloc(32);
  s.dq.setDesc(table, 0, 0x100n, 4, DESC_F_NEXT, 2);
  s.dq.setDesc(s.dq.desc, 0, BigInt(table), 32, DESC_F_INDIRECT, 0);
  s.dq.publish(0);
  expectError(s.q.pop(), /next index 2 is not below 2/);
});

test("rejects nested indirect, INDIRECT|NEXT, bad table sizes and tables outside memory", () => {
  const cases: [(s: ReturnType<typeof setup>) => void, RegExp][] = [
    [(s) => {
      const inner = s.alloc.alloc(16);
      const outer = s.alloc.alloc(16);
      s.dq.setDesc(inner, 0, 0x100n, 4, 0, 0);
      s.dq.setDesc(outer, 0, BigInt(inner), 16, DESC_F_INDIRECT, 0);
      s.dq.setDesc(s.dq.desc, 0, BigInt(outer), 16, DESC_F_INDIRECT, 0);
    }, /indirect inside an indirect table/],
    [(s) => s.dq.setDesc(s.dq.desc, 0, 0x100n, 16, DESC_F_INDIRECT | DESC_F_NEXT, 1), /both INDIRECT and NEXT/],
    [(s) => s.dq.setDesc(s.dq.desc, 0, 0x100n, 0, DESC_F_INDIRECT, 0), /0 bytes/],
    [(s) => s.dq.setDesc(s.dq.desc, 0, 0x100n, 17, DESC_F_INDIRECT, 0), /17 bytes/],
    [(s) => s.dq.setDesc(s.dq.desc, 0, 0xfff0n, 32, DESC_F_INDIRECT, 0), /indirect table .* outside guest memory/],
  ];
  for (const [arrange, pattern] of cases) {
    const s = setup(8);
    arrange(s);
    s.dq.publish(0);
    expectError(s.q.pop(), pattern);
  }
});

test("rejects a readable buffer after a writable one", () => {
  const { dq, q } = setup();
  dq.addChain([{ writable: 4 }, { data: new Uint8Array(4) }]);
  expectError(q.pop(), /readable after a writable/);
});

test("rejects an available index that runs more than a queue ahead", () => {
  const { dq, q } = setup(8);
  dq.view.setUint16(dq.avail + 2, 9, true);
  expectError(q.pop(), /9 ahead/);
});

test("rejects a configuration outside guest memory or misaligned", () => {
  const memory = new GuestMemory(new Uint8Array(4096));
  const q = new Virtqueue(0, 8);
  q.descTableAddr = 4000n;
  assert.match(q.configError(memory)!, /descriptor table .* outside guest memory/);
  q.descTableAddr = 8n;
  assert.match(q.configError(memory)!, /not 16-byte aligned/);
  q.descTableAddr = 0n;
  q.availRingAddr = 0x200n;
  q.usedRingAddr = 0x302n;
  assert.match(q.configError(memory)!, /used ring .* not 4-byte aligned/);
  q.usedRingAddr = 0x300n;
  q.size = 6;
  assert.match(q.configError(memory)!, /not a power of two/);
  q.size = 16;
  assert.match(q.configError(memory)!, /not a power of two in 1\.\.8/);
  q.size = 8;
  assert.is(q.configError(memory), null);
});

test("VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts (no event idx)", () => {
  const { dq, q } = setup(8, F_VERSION_1);
  assert.is(q.needsInterrupt(), false, "nothing used yet");
  dq.addChain([{ writable: 1 }]);
  let c = q.pop() as DescriptorChain;
  q.addUsed(c.head, 0);
  assert.is(q.needsInterrupt(), true);
  dq.setAvailFlags(AVAIL_F_NO_INTERRUPT);
  dq.addChain([{ writable: 1 }]);
  c = q.pop() as DescriptorChain;
  q.addUsed(c.head, 0);
  assert.is(q.needsInterrupt(), false);
});

test("event idx: interrupts only when used_event is crossed, publishes avail_event", () => {
  const { dq, q } = setup(8);
  dq.setUsedEvent(1); // interrupt me when the used index goes past 1
  for (let i = 0; i < 3; i++) dq.addChain([{ writable: 1 }]);
  const c0 = q.pop() as DescriptorChain;
  q.addUsed(c0.head, 0); // used idx 1: not past 1 yet
  assert.is(q.needsInterrupt(), false);
  const c1 = q.pop() as DescriptorChain;
  q.addUsed(c1.head, 0); // used idx 2: crossed
  assert.is(q.needsInterrupt(), true);
  assert.is(q.enableNotification(), true, "one chain still available");
  assert.is(dq.availEvent, 2);
  q.pop();
  assert.is(q.enableNotification(), false);
  assert.is(dq.availEvent, 3);
});

test("the available index wraps around 65536", () => {
  const { dq, q } = setup(4);
  const buffer = { addr: dq.alloc.alloc(8), len: 8, writable: true };
  for (let i = 0; i < 70000; i++) {
    dq.addBuffers([buffer]);
    const c = q.pop();
    assert.instance(c, DescriptorChain);
    q.addUsed((c as DescriptorChain).head, 1);
    assert.is(dq.takeUsed().length, 1);
  }
});

test.run();
