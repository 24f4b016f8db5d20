// The i8042 keyboard controller: Linux's probe, the reset line, and a guest
// that writes without ever reading.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { I8042 } from "../../../../stages/boot/devices/i8042.js";

function controller() {
  let resets = 0;
  const k = new I8042(() => resets++);
  const r = (port: number) => { const d = new Uint8Array(1); k.pioRead(port, d); return d[0]; };
  const w = (port: number, v: number) => k.pioWrite(port, Uint8Array.of(v));
  return { r, w, resets: () => resets };
}

test("self test, configuration byte, and reset by command 0xfe or the output port", () => {
  const { r, w, resets } = controller();
  w(0x64, 0xaa);
  assert.is(r(0x64) & 1, 1);
  assert.is(r(0x60), 0x55);
  w(0x64, 0x60);
  w(0x60, 0x65);
  w(0x64, 0x20);
  assert.is(r(0x60), 0x65);
  assert.is(resets(), 0);
  w(0x64, 0xfe);
  assert.is(resets(), 1);
  w(0x64, 0xd1);
  w(0x60, 0xfe); // bit 0 low: reset
  assert.is(resets(), 2);
});

test("replies the guest never reads are dropped past a few bytes, not queued without end", () => {
  const { r, w } = controller();
  for (let i = 0; i < 100_000; i++) w(0x60, 0); // keyboard bytes: each answered with an ACK
  for (let i = 0; i < 1_000; i++) w(0x64, 0xaa); // self tests
  let queued = 0;
  while (r(0x64) & 1) {
    r(0x60);
    if (++queued > 100_000) break;
  }
  assert.ok(queued <= 16, `${queued} replies were queued`);
  assert.ok(queued > 0);
  // Still answers once the guest has read what was there.
  w(0x64, 0xaa);
  assert.is(r(0x60), 0x55);
  assert.is(r(0x64) & 1, 0);
});

test.run();
