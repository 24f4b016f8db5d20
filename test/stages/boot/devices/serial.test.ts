// The 16550A as Linux's 8250 driver probes and uses it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Serial } from "../../../../stages/boot/devices/serial.js";
import { MIRROR_PIO, MirrorReader, ReadMirrors } from "../../../../stages/boot/read-mirror.js";

function uart() {
  const out: number[] = [];
  let irqs = 0;
  const s = new Serial(0x3f8, { trigger: () => irqs++ }, (b) => out.push(...b));
  const r = (reg: number) => { const d = new Uint8Array(1); s.pioRead(0x3f8 + reg, d); return d[0]; };
  const w = (reg: number, v: number) => s.pioWrite(0x3f8 + reg, Uint8Array.of(v));
  return { s, out, r, w, irqs: () => irqs };
}

test("scratch register, IER read-back and FIFO detection (the 8250 autoconfig probe)", () => {
  const u = uart();
  u.w(7, 0xa5);
  assert.is(u.r(7), 0xa5);
  u.w(1, 0x0f);
  assert.is(u.r(1), 0x0f);
  u.w(2, 0x01); // enable FIFO
  assert.is(u.r(2) & 0xc0, 0xc0, "16550A FIFO bits");
});

test("loopback: modem control outputs read back as modem status inputs", () => {
  const u = uart();
  u.w(4, 0x10 | 0x0a); // loop, RTS, OUT2
  assert.is(u.r(6) & 0xf0, 0x90); // CTS, DCD
  u.w(4, 0x1f);
  assert.is(u.r(6) & 0xf0, 0xf0);
});

test("transmit: bytes reach the output, THR-empty interrupts when enabled, divisor latch is separate", () => {
  const u = uart();
  u.w(3, 0x80); // DLAB
  u.w(0, 0x01);
  u.w(1, 0x00);
  assert.is(u.r(0), 0x01);
  u.w(3, 0x03);
  u.w(0, 0x41);
  assert.equal(u.out, [0x41], "divisor writes are not output");
  assert.is(u.irqs(), 0);
  u.w(1, 0x02); // enable THRI: interrupt at once (transmitter empty)
  assert.is(u.irqs(), 1);
  assert.is(u.r(2) & 0x0f, 0x02, "IIR says THR empty");
  assert.is(u.r(2) & 0x01, 0x01, "and reading IIR acknowledged it");
  u.w(0, 0x42);
  assert.is(u.irqs(), 2);
  assert.is(u.r(5) & 0x60, 0x60, "LSR: transmitter empty");
});

test("receive: input is readable with data-ready and raises an interrupt when enabled", () => {
  const u = uart();
  u.w(1, 0x01);
  u.s.receive(Uint8Array.of(0x61, 0x62));
  assert.is(u.irqs(), 1);
  assert.is(u.r(5) & 1, 1);
  assert.is(u.r(2) & 0x0f, 0x04);
  assert.is(u.r(0), 0x61);
  assert.is(u.r(0), 0x62);
  assert.is(u.r(5) & 1, 0);
});

test("loopback: bytes past the 16-byte receive FIFO are lost, not queued without end", () => {
  const u = uart();
  u.w(4, 0x10);
  for (let i = 0; i < 100_000; i++) u.w(0, i & 0xff);
  const got: number[] = [];
  while (u.r(5) & 1 && got.length <= 100_000) got.push(u.r(0));
  assert.equal(got, Array.from({ length: 16 }, (_, i) => i), "the first 16 bytes, in order");
  u.w(0, 0x99);
  assert.is(u.r(0), 0x99, "room again once read");
});

test("host input: receive() takes what fits in the FIFO and says how much", () => {
  const u = uart();
  assert.is(u.s.receive(new Uint8Array(40).fill(0x61)), 16);
  assert.is(u.s.receive(Uint8Array.of(0x62)), 0, "full");
  assert.is(u.r(0), 0x61);
  assert.is(u.s.receive(Uint8Array.of(0x62, 0x63)), 1, "one byte of room");
  let n = 0;
  while (u.r(5) & 1) { u.r(0); n++; }
  assert.is(n, 16);
});

test("the line status is published for the vCPU threads and follows the input", () => {
  const u = uart();
  const mirrors = new ReadMirrors();
  u.s.publishReads((port, width) => mirrors.add(MIRROR_PIO, port, width));
  const reader = new MirrorReader(mirrors.table());
  const lsr = () => {
    const d = new Uint8Array(1);
    assert.ok(reader.answer(MIRROR_PIO, 0x3fd, d), "LSR is published");
    assert.is(d[0], u.r(5), "the same value the device reads");
    return d[0];
  };
  assert.is(lsr(), 0x60, "transmitter empty, no data");
  u.s.receive(Uint8Array.of(0x41, 0x42));
  assert.is(lsr(), 0x61, "data ready");
  assert.is(u.r(0), 0x41);
  assert.is(lsr(), 0x61, "one byte left");
  assert.is(u.r(0), 0x42);
  assert.is(lsr(), 0x60);
  u.w(4, 0x10); // loopback: a byte written comes back as input
  u.w(0, 0x43);
  assert.is(lsr(), 0x61);
  u.w(2, 0x02); // FIFO control: clear the receiver
  assert.is(lsr(), 0x60);
});

test.run();
