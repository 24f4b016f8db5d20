// XSAVE/XRSTOR semantics of the assists, on plain byte arrays (no VM).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { XSAVE_HEADER, xrstorFrom, xsaveAreaSize, xsaveInto, xsaveLayout } from "../../../../stages/boot/assists/xsave.js";
import type { CpuidEntry } from "../../../../stages/boot/kvm/structs.js";

const leaf = (index: number, eax: number, ebx: number): CpuidEntry => ({ function: 0xd, index, flags: 1, eax, ebx, ecx: 0, edx: 0 });
// This host's leaf 0xD: x87, SSE, AVX (256 bytes at 576), PKRU (8 bytes at 2432).
const CPUID = [leaf(0, 0x207, 0x988), leaf(1, 0, 0), leaf(2, 256, 576), leaf(9, 8, 2432)];
const layout = xsaveLayout(CPUID);
const AVX = 576;

function area(fill: (v: DataView, b: Uint8Array) => void): Uint8Array {
  const b = new Uint8Array(4096);
  fill(new DataView(b.buffer), b);
  return b;
}

/** A vCPU state with distinctive x87, SSE and AVX contents, all in use. */
function busyState(): Uint8Array {
  return area((v, b) => {
    v.setUint16(0, 0x027f, true);
    v.setUint32(24, 0x7f80, true);
    b.fill(0x11, 32, 160);
    b.fill(0x22, 160, 416);
    b.fill(0x33, AVX, AVX + 256);
    v.setBigUint64(XSAVE_HEADER, 7n, true);
  });
}

test("the layout comes from CPUID leaf 0xD's sub-leaves 2 and up", () => {
  assert.equal([...layout.entries()], [[2, { offset: 576, size: 256 }], [9, { offset: 2432, size: 8 }]]);
  assert.is(xsaveAreaSize(3n, layout), 576);
  assert.is(xsaveAreaSize(7n, layout), 832);
  assert.is(xsaveAreaSize(0x207n, layout), 2440);
});

test("xsave writes the requested components and their XSTATE_BV bits, nothing else", () => {
  const image = area((v, b) => {
    b.fill(0xee);
    v.setBigUint64(XSAVE_HEADER, 0x200n, true); // a bit outside the request
  });
  xsaveInto(image, busyState(), 7n, layout);
  const v = new DataView(image.buffer);
  assert.is(v.getUint16(0, true), 0x027f);
  assert.is(v.getUint32(24, true), 0x7f80);
  assert.is(v.getUint32(28, true), 0xffff, "MXCSR_MASK");
  assert.ok(image.subarray(32, 416).every((x, i) => x === (i < 128 ? 0x11 : 0x22)));
  assert.ok(image.subarray(AVX, AVX + 256).every((x) => x === 0x33));
  assert.is(v.getBigUint64(XSAVE_HEADER, true), 0x207n, "requested bits from the state, the rest kept");
  assert.ok(image.subarray(416, 512).every((x) => x === 0xee), "bytes 416-511 are not XSAVE's");

  const sseOnly = area((_, b) => b.fill(0xee));
  xsaveInto(sseOnly, busyState(), 2n, layout);
  assert.ok(sseOnly.subarray(0, 24).every((x) => x === 0xee), "x87 not requested");
  assert.is(new DataView(sseOnly.buffer).getUint32(24, true), 0x7f80, "MXCSR goes with SSE");
  assert.ok(sseOnly.subarray(AVX, AVX + 256).every((x) => x === 0xee), "AVX not requested");
});

test("xsave leaves a component in its initial state unwritten and says so in XSTATE_BV", () => {
  const state = busyState();
  new DataView(state.buffer).setBigUint64(XSAVE_HEADER, 3n, true); // AVX in init state
  const image = area((v, b) => {
    b.fill(0xee, AVX, AVX + 256);
    v.setBigUint64(XSAVE_HEADER, 4n, true);
  });
  xsaveInto(image, state, 7n, layout);
  assert.is(new DataView(image.buffer).getBigUint64(XSAVE_HEADER, true), 3n);
  assert.ok(image.subarray(AVX, AVX + 256).every((x) => x === 0xee));
});

test("xrstor loads what XSTATE_BV says is there and initializes the rest it was asked for", () => {
  const image = busyState();
  new DataView(image.buffer).setBigUint64(XSAVE_HEADER, 6n, true); // x87 initial, SSE and AVX given
  const state = area((_, b) => b.fill(0x99, 0, 1024));
  assert.is(xrstorFrom(image, state, 7n, 7n, layout), null);
  const v = new DataView(state.buffer);
  assert.is(v.getUint16(0, true), 0x037f, "x87 initialized: FCW as after FNINIT");
  assert.ok(state.subarray(2, 24).every((x) => x === 0) && state.subarray(32, 160).every((x) => x === 0));
  assert.ok(state.subarray(160, 416).every((x) => x === 0x22));
  assert.ok(state.subarray(AVX, AVX + 256).every((x) => x === 0x33));
  assert.is(v.getUint32(24, true), 0x7f80);
  assert.is(v.getBigUint64(XSAVE_HEADER, true) & 7n, 7n);
  assert.is(v.getBigUint64(XSAVE_HEADER + 8, true), 0n, "standard form for KVM_SET_XSAVE");

  // AVX not in XSTATE_BV: zeroed; MXCSR still loaded from memory (standard form).
  const initAvx = busyState();
  new DataView(initAvx.buffer).setBigUint64(XSAVE_HEADER, 1n, true);
  const s2 = busyState();
  assert.is(xrstorFrom(initAvx, s2, 7n, 7n, layout), null);
  assert.ok(s2.subarray(160, 416).every((x) => x === 0) && s2.subarray(AVX, AVX + 256).every((x) => x === 0));
  assert.is(new DataView(s2.buffer).getUint32(24, true), 0x7f80);
  assert.is(new DataView(s2.buffer).getBigUint64(XSAVE_HEADER, true) & 4n, 0n);
});

test("xrstor leaves components outside the request alone", () => {
  const image = area((v) => v.setBigUint64(XSAVE_HEADER, 0n, true));
  const state = busyState();
  assert.is(xrstorFrom(image, state, 2n, 7n, layout), null);
  assert.ok(state.subarray(32, 160).every((x) => x === 0x11), "x87 kept");
  assert.ok(state.subarray(AVX, AVX + 256).every((x) => x === 0x33), "AVX kept");
  assert.ok(state.subarray(160, 416).every((x) => x === 0), "SSE initialized");
});

test("xrstor refuses what the CPU refuses with #GP, before changing anything", () => {
  const cases: [string, (v: DataView) => void, RegExp][] = [
    ["compacted", (v) => v.setBigUint64(XSAVE_HEADER + 8, 1n << 63n, true), /compacted/],
    ["reserved header", (v) => v.setUint8(XSAVE_HEADER + 20, 1), /reserved/],
    ["XSTATE_BV beyond XCR0", (v) => v.setBigUint64(XSAVE_HEADER, 0x207n, true), /XCR0/],
    ["MXCSR reserved bits", (v) => v.setUint32(24, 0x1_0000, true), /MXCSR/],
  ];
  for (const [name, spoil, why] of cases) {
    const image = busyState();
    spoil(new DataView(image.buffer));
    const state = busyState();
    const before = state.slice();
    assert.match(xrstorFrom(image, state, 7n, 7n, layout) ?? "", why, name);
    assert.equal(state, before, `${name}: state unchanged`);
  }
});

test.run();
