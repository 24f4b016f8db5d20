import { test } from "uvu";
import * as assert from "uvu/assert";
import type { VirtioContext, VirtioDevice } from "../../../../stages/boot/virtio/device.js";
import { DescriptorChain } from "../../../../stages/boot/virtio/chain.js";
import {
  DESC_F_NEXT,
  F_VERSION_1,
  STATUS_ACKNOWLEDGE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from "../../../../stages/boot/virtio/constants.js";
import { VirtioMmioTransport } from "../../../../stages/boot/virtio/mmio.js";
import { GuestMemory } from "../../../../stages/boot/guest-memory.js";
import { CountingInterrupt, TestDriver, reg32, write32 } from "./test-driver.js";
import { MIRROR_MMIO, MirrorReader, ReadMirrors } from "../../../../stages/boot/read-mirror.js";

/** Copies each chain's readable bytes into its writable buffers, reversed. */
class ReverseDevice implements VirtioDevice {
  readonly name = "reverse";
  readonly deviceId = 42;
  readonly queueMaxSizes = [32, 8];
  readonly deviceFeatures = 1n << 3n;
  context: VirtioContext | null = null;
  resets = 0;
  throwOnNotify = false;
  readConfig(offset: number, data: Uint8Array): void {
    const config = new Uint8Array([0xaa, 0xbb, 0xcc, 0xdd]);
    for (let i = 0; i < data.length; i++) data[i] = config[offset + i] ?? 0;
  }
  writeConfig(): void {}
  activate(context: VirtioContext): void {
    this.context = context;
  }
  queueNotify(index: number): void {
    if (this.throwOnNotify) throw new Error("device bug");
    const ctx = this.context!;
    const q = ctx.queues[index];
    for (let c = q.pop(); c !== null; c = q.pop()) {
      if (!(c instanceof DescriptorChain)) return ctx.fail(c.message);
      const input = c.readBytes(0, c.readableLength).reverse();
      const n = Math.min(input.length, c.writableLength);
      c.writeBytes(0, input.subarray(0, n));
      q.addUsed(c.head, n);
    }
    ctx.notifyDriver(q);
  }
  reset(): void {
    this.resets++;
    this.context = null;
  }
}

test("identifies itself as a version 2 virtio-mmio device", () => {
  const t = new VirtioMmioTransport(new ReverseDevice(), { memory: new GuestMemory(new Uint8Array(4096)), interrupt: new CountingInterrupt() });
  assert.is(reg32(t, 0x000), 0x74726976);
  assert.is(reg32(t, 0x004), 2);
  assert.is(reg32(t, 0x008), 42);
  write32(t, 0x14, 0);
  assert.is(reg32(t, 0x10), 1 << 3 | 1 << 28 | 1 << 29);
  write32(t, 0x14, 1);
  assert.is(reg32(t, 0x10), 1, "VIRTIO_F_VERSION_1");
  write32(t, 0x14, 2);
  assert.is(reg32(t, 0x10), 0);
  write32(t, 0x30, 1);
  assert.is(reg32(t, 0x34), 8);
  write32(t, 0x30, 7);
  assert.is(reg32(t, 0x34), 0, "a queue that does not exist has max size 0");
});

test("passes config space through at 0x100 with any access width", () => {
  const t = new VirtioMmioTransport(new ReverseDevice(), { memory: new GuestMemory(new Uint8Array(4096)), interrupt: new CountingInterrupt() });
  const two = new Uint8Array(2);
  t.mmioRead(0x101, two);
  assert.equal([...two], [0xbb, 0xcc]);
  const one = new Uint8Array(1);
  t.mmioRead(0x110, one);
  assert.equal([...one], [0]);
  // Registers only answer 32-bit accesses.
  t.mmioRead(0x000, two);
  assert.equal([...two], [0, 0]);
});

test("a driver brings the device up, notifies, gets used buffers and an interrupt", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev);
  assert.is(reg32(d.transport, 0x70), STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  assert.ok(dev.context);
  const { head, buffers } = d.queues[0].addChain([{ data: new Uint8Array([1, 2, 3]) }, { writable: 3 }]);
  d.kick(0);
  assert.equal(d.queues[0].takeUsed(), [{ id: head, len: 3 }]);
  assert.equal([...d.memory.read(buffers[1].addr, 3)], [3, 2, 1]);
  assert.ok(d.interrupt.count >= 1);
  assert.is(d.ackInterrupt(), 1);
  assert.is(reg32(d.transport, 0x60), 0, "acknowledged");
  // The ioeventfd path: the core calls notify() directly.
  d.queues[1].addChain([{ data: new Uint8Array([5, 6]) }, { writable: 2 }]);
  d.transport.notify(1);
  assert.is(d.queues[1].takeUsed().length, 1);
});

test("an ACK that arrives after a newer interrupt does not clear it (writes reach the device posted)", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev, { accept: F_VERSION_1 }); // no event idx: an interrupt for every used buffer
  d.queues[0].addChain([{ data: new Uint8Array([1]) }, { writable: 1 }]);
  d.kick(0);
  // The driver's handler reads the status (1), handles the ring, and writes ACK(1);
  // the ACK is still in flight when the device uses another buffer and raises again.
  const seen = reg32(d.transport, 0x60);
  assert.is(seen, 1);
  assert.equal(d.queues[0].takeUsed().length, 1);
  d.queues[0].addChain([{ data: new Uint8Array([2]) }, { writable: 1 }]);
  const before = d.interrupt.count;
  d.transport.notify(0);
  assert.is(d.interrupt.count, before + 1, "a second interrupt for the second buffer");
  write32(d.transport, 0x64, seen); // the late ACK of what the handler saw
  assert.is(reg32(d.transport, 0x60), 1, "the newer interrupt is still pending for the handler it triggers");
  assert.equal(d.queues[0].takeUsed().length, 1);
  // Read, then ACK: cleared as usual.
  assert.is(d.ackInterrupt(), 1);
  assert.is(reg32(d.transport, 0x60), 0);
});

test("FEATURES_OK is refused without VERSION_1 or with features not offered", () => {
  for (const features of [[1 << 3, 0], [1 << 3 | 1 << 5, 1]]) {
    const errors: string[] = [];
    const t = new VirtioMmioTransport(new ReverseDevice(), { memory: new GuestMemory(new Uint8Array(4096)), interrupt: new CountingInterrupt(), onError: (m) => errors.push(m) });
    write32(t, 0x70, STATUS_ACKNOWLEDGE);
    write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    write32(t, 0x24, 0);
    write32(t, 0x20, features[0]);
    write32(t, 0x24, 1);
    write32(t, 0x20, features[1]);
    write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    assert.is(reg32(t, 0x70) & STATUS_FEATURES_OK, 0);
    assert.is(errors.length, 1);
  }
});

test("status steps out of order are ignored; clearing bits is ignored; 0 resets", () => {
  const dev = new ReverseDevice();
  const t = new VirtioMmioTransport(dev, { memory: new GuestMemory(new Uint8Array(4096)), interrupt: new CountingInterrupt() });
  write32(t, 0x70, STATUS_DRIVER_OK);
  assert.is(reg32(t, 0x70), 0);
  write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  assert.is(reg32(t, 0x70), STATUS_ACKNOWLEDGE | STATUS_DRIVER, "FEATURES_OK needs VERSION_1");
  write32(t, 0x70, STATUS_ACKNOWLEDGE);
  assert.is(reg32(t, 0x70), STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  write32(t, 0x70, 0);
  assert.is(reg32(t, 0x70), 0);
  assert.is(dev.resets, 1);
});

test("reset forgets queues, features and interrupt status", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev, { accept: F_VERSION_1 }); // no event idx: an interrupt for every used buffer
  d.queues[0].addChain([{ data: new Uint8Array([1]) }, { writable: 1 }]);
  d.kick(0);
  write32(d.transport, 0x70, 0);
  assert.is(reg32(d.transport, 0x70), 0);
  assert.is(reg32(d.transport, 0x60), 0);
  write32(d.transport, 0x30, 0);
  assert.is(reg32(d.transport, 0x44), 0);
  assert.is(dev.context, null);
  // Notifications before the driver is back are ignored.
  d.kick(0);
});

test("a queue outside guest memory puts the device in DEVICE_NEEDS_RESET", () => {
  const errors: string[] = [];
  const t = new VirtioMmioTransport(new ReverseDevice(), { memory: new GuestMemory(new Uint8Array(4096)), interrupt: new CountingInterrupt(), onError: (m) => errors.push(m) });
  write32(t, 0x70, STATUS_ACKNOWLEDGE);
  write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  write32(t, 0x24, 1);
  write32(t, 0x20, 1);
  write32(t, 0x70, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
  write32(t, 0x30, 0);
  write32(t, 0x38, 32);
  write32(t, 0x80, 0xff000);
  write32(t, 0x84, 0x1);
  write32(t, 0x44, 1);
  assert.is(reg32(t, 0x44), 0);
  assert.ok(reg32(t, 0x70) & STATUS_DEVICE_NEEDS_RESET);
  assert.match(errors.join("\n"), /descriptor table 0x1000ff000\+512 is outside guest memory/);
  write32(t, 0x70, 0);
  assert.is(reg32(t, 0x70), 0, "reset clears it");
});

test("a malformed chain sets DEVICE_NEEDS_RESET and raises a config interrupt", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev);
  const q = d.queues[0];
  q.setDesc(q.desc, 0, 0x100n, 4, DESC_F_NEXT, 0);
  q.publish(0);
  d.kick(0);
  assert.ok(reg32(d.transport, 0x70) & STATUS_DEVICE_NEEDS_RESET);
  assert.is(d.ackInterrupt() & 2, 2);
  assert.match(d.transport.needsResetReason!, /more than 16 descriptors/);
  // Further notifications do nothing until the driver resets.
  d.kick(0);
  assert.equal(q.takeUsed(), []);
});

test("an exception inside a device becomes DEVICE_NEEDS_RESET, not a crash", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev);
  dev.throwOnNotify = true;
  d.kick(0);
  assert.match(d.transport.needsResetReason!, /device bug/);
});

test("ignores accesses of the wrong width and unknown registers", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev);
  d.transport.mmioWrite(0x70, new Uint8Array([0]));
  assert.ok(reg32(d.transport, 0x70) & STATUS_DRIVER_OK, "a one-byte write of 0 to Status is not a reset");
  write32(d.transport, 0x0f0, 123);
  assert.is(reg32(d.transport, 0x0f0), 0);
  assert.is(reg32(d.transport, 0x1fc), 0);
  write32(d.transport, 0x50, 99); // notify of a queue that does not exist
  assert.is(d.transport.needsResetReason, null);
});

/** The transport's published InterruptStatus, read as a vCPU thread reads it (no call into the transport). */
function mirroredStatus(d: TestDriver): () => number {
  const mirrors = new ReadMirrors();
  d.transport.publishReads((offset, width) => mirrors.add(MIRROR_MMIO, offset, width));
  const reader = new MirrorReader(mirrors.table());
  return () => {
    const out = new Uint8Array(4);
    assert.ok(reader.answer(MIRROR_MMIO, 0x60, out), "InterruptStatus is published");
    return new DataView(out.buffer).getUint32(0, true);
  };
}

test("the published InterruptStatus follows raises, ACKs and reset", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev, { accept: F_VERSION_1 });
  const status = mirroredStatus(d);
  assert.is(status(), 0);
  d.queues[0].addChain([{ data: new Uint8Array([1]) }, { writable: 1 }]);
  d.kick(0);
  assert.is(status(), 1, "published before the interrupt that makes the driver read it");
  assert.is(d.ackInterrupt(), 1);
  assert.is(status(), 0, "acknowledged");
  d.queues[0].addChain([{ data: new Uint8Array([2]) }, { writable: 1 }]);
  d.kick(0);
  assert.is(status(), 1);
  write32(d.transport, 0x70, 0);
  assert.is(status(), 0, "reset");
});

test("after a status read answered on a vCPU thread, the ACK clears what was read, and not a newer interrupt", () => {
  const dev = new ReverseDevice();
  const d = new TestDriver(dev, { accept: F_VERSION_1 }); // an interrupt for every used buffer
  const status = mirroredStatus(d);
  d.queues[0].addChain([{ data: new Uint8Array([1]) }, { writable: 1 }]);
  d.kick(0);
  const seen = status(); // the handler's read, never seen by the transport itself
  assert.is(seen, 1);
  assert.equal(d.queues[0].takeUsed().length, 1);
  d.queues[0].addChain([{ data: new Uint8Array([2]) }, { writable: 1 }]);
  d.transport.notify(0); // raised again while the ACK is in flight
  write32(d.transport, 0x64, seen);
  assert.is(status(), 1, "the newer interrupt is still pending for the handler it triggers");
  assert.equal(d.queues[0].takeUsed().length, 1);
  write32(d.transport, 0x64, status()); // read, then ACK
  assert.is(status(), 0);
  assert.is(reg32(d.transport, 0x60), 0);
});

test.run();
