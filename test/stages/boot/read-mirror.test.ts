// The shared register file vCPU threads answer reads from (no VM needed:
// both sides live in this thread here, as they share memory across threads).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MAX_MIRRORED_REGISTERS, MIRROR_MMIO, MIRROR_PIO, MirrorReader, ReadMirrors } from "../../../stages/boot/read-mirror.js";

test("a published register is answered with its current value, little-endian, at its width only", () => {
  const mirrors = new ReadMirrors();
  const reg = mirrors.add(MIRROR_MMIO, 0xd0000060, 4);
  const reader = new MirrorReader(mirrors.table());
  reg.set(0x11223344);
  const out = new Uint8Array(4);
  assert.ok(reader.answer(MIRROR_MMIO, 0xd0000060, out));
  assert.equal([...out], [0x44, 0x33, 0x22, 0x11]);
  reg.set(0xfffffffe);
  assert.ok(reader.answer(MIRROR_MMIO, 0xd0000060, out));
  assert.equal([...out], [0xfe, 0xff, 0xff, 0xff]);
  assert.not.ok(reader.answer(MIRROR_MMIO, 0xd0000060, new Uint8Array(2)), "a 2-byte read of a 4-byte register goes to the device");
  assert.not.ok(reader.answer(MIRROR_MMIO, 0xd0000064, out), "an unpublished address goes to the device");
  assert.not.ok(reader.answer(MIRROR_PIO, 0xd0000060, out), "a port is not an MMIO address");
});

test("ports and MMIO addresses are told apart, and one-byte registers answer one byte", () => {
  const mirrors = new ReadMirrors();
  const port = mirrors.add(MIRROR_PIO, 0x3fd, 1);
  const mmio = mirrors.add(MIRROR_MMIO, 0x3fd, 1);
  port.set(0x60);
  mmio.set(0x01);
  const reader = new MirrorReader(mirrors.table());
  const out = new Uint8Array(1);
  assert.ok(reader.answer(MIRROR_PIO, 0x3fd, out));
  assert.is(out[0], 0x60);
  assert.ok(reader.answer(MIRROR_MMIO, 0x3fd, out));
  assert.is(out[0], 0x01);
});

test("no read is answered while a posted write is not yet performed", () => {
  const mirrors = new ReadMirrors();
  mirrors.add(MIRROR_PIO, 0x3fd, 1).set(0x60);
  const vcpu0 = new MirrorReader(mirrors.table());
  const vcpu1 = new MirrorReader(mirrors.table());
  const out = new Uint8Array(1);
  vcpu0.posted(2);
  assert.not.ok(vcpu0.answer(MIRROR_PIO, 0x3fd, out), "the vCPU that posted");
  assert.not.ok(vcpu1.answer(MIRROR_PIO, 0x3fd, out), "another vCPU: the guest may have told it about the write");
  mirrors.performed();
  assert.not.ok(vcpu1.answer(MIRROR_PIO, 0x3fd, out), "one of two writes still pending");
  mirrors.performed();
  assert.ok(vcpu1.answer(MIRROR_PIO, 0x3fd, out));
  assert.ok(vcpu0.answer(MIRROR_PIO, 0x3fd, out));
});

test("the read mark says whether the guest read the current value", () => {
  const mirrors = new ReadMirrors();
  const reg = mirrors.add(MIRROR_MMIO, 0x60, 4);
  const reader = new MirrorReader(mirrors.table());
  reg.set(1);
  assert.not.ok(reg.readSinceSet());
  assert.ok(reader.answer(MIRROR_MMIO, 0x60, new Uint8Array(4)));
  assert.ok(reg.readSinceSet());
  reg.set(1); // a new event, even with the same value: not read yet
  assert.not.ok(reg.readSinceSet());
  assert.not.ok(reader.answer(MIRROR_MMIO, 0x60, new Uint8Array(2)), "a read the device answers itself");
  assert.not.ok(reg.readSinceSet(), "leaves no mark");
});

test("disabled mirrors accept registers but answer nothing", () => {
  const mirrors = new ReadMirrors(false);
  const reg = mirrors.add(MIRROR_PIO, 0x3fd, 1);
  reg.set(0x60);
  const reader = new MirrorReader(mirrors.table());
  assert.not.ok(reader.answer(MIRROR_PIO, 0x3fd, new Uint8Array(1)));
  assert.equal(mirrors.table().entries, []);
});

test("a register published twice, a bad width or one register too many is refused", () => {
  const mirrors = new ReadMirrors();
  mirrors.add(MIRROR_PIO, 0x3fd, 1);
  assert.throws(() => mirrors.add(MIRROR_PIO, 0x3fd, 1), /0x3fd is published twice/);
  assert.throws(() => mirrors.add(MIRROR_PIO, 0x3fe, 3 as 1), /width 3/);
  for (let i = 1; i < MAX_MIRRORED_REGISTERS; i++) mirrors.add(MIRROR_MMIO, 0x1000 + 4 * i, 4);
  assert.throws(() => mirrors.add(MIRROR_MMIO, 0x9000, 4), /more than 64 mirrored registers/);
});

test.run();
