import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildMpTable } from "../../../../stages/boot/loader/mptable.js";

const sum = (b: Uint8Array) => b.reduce((s, x) => (s + x) & 0xff, 0);

test("floating pointer and config table carry valid signatures and checksums", () => {
  const t = buildMpTable(4, 0x9fc00);
  const v = new DataView(t.buffer);
  assert.is(Buffer.from(t.subarray(0, 4)).toString(), "_MP_");
  assert.is(sum(t.subarray(0, 16)), 0);
  assert.is(v.getUint32(4, true), 0x9fc00 + 16, "points at the config table right after it");
  const table = t.subarray(16);
  assert.is(Buffer.from(table.subarray(0, 4)).toString(), "PCMP");
  assert.is(new DataView(table.buffer, table.byteOffset).getUint16(4, true), table.length);
  assert.is(sum(table), 0);
});

test("one enabled processor entry per vCPU, the first is the BSP; then bus, IOAPIC, 24 IRQs, 2 local", () => {
  const table = buildMpTable(3).subarray(16);
  const count = new DataView(table.buffer, table.byteOffset).getUint16(34, true);
  assert.is(count, 3 + 1 + 1 + 24 + 2);
  for (let i = 0; i < 3; i++) {
    const e = table.subarray(44 + i * 20);
    assert.is(e[0], 0);
    assert.is(e[1], i, "APIC ID");
    assert.is(e[3], i === 0 ? 3 : 1);
  }
  const ioapic = table.subarray(44 + 60 + 8);
  assert.is(ioapic[0], 2);
  assert.is(ioapic[1], 3, "IOAPIC ID after the vCPUs");
});

test("refuses impossible vCPU counts", () => {
  assert.throws(() => buildMpTable(0), /1\.\.254/);
  assert.throws(() => buildMpTable(255), /1\.\.254/);
});

test.run();
