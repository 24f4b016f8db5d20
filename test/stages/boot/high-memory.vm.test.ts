// Guest RAM above the 4 GiB MMIO hole on a real VM: a long-mode guest reads
// what the host put above 4 GiB and writes there, across the line between two
// 4 GiB regions and up to the last byte of RAM at the limit, and the host sees
// its writes; oversized RAM is refused in one line.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESET, REPORT_PORT, runGuest } from "./guest.js";
import { Machine, MAX_MEMORY_MIB } from "../../../stages/boot/machine.js";
import { layout } from "../../../stages/boot/loader/layout.js";

const GiB = 2 ** 30;
/** A page directory mapping guest virtual 4..5 GiB to the same physical range (free: below the test code at 0x10000). */
const HIGH_PD = 0xf000;

function imm64(v: number | bigint): number[] {
  const out: number[] = [];
  let x = BigInt(v);
  for (let i = 0; i < 8; i++, x >>= 8n) out.push(Number(x & 0xffn));
  return out;
}

test("a guest with 4 GiB reads and writes RAM above the hole, to its last byte, and the host sees it", async () => {
  const memoryMiB = 4096; // 3 GiB below the hole, 1 GiB from 4 GiB
  const fromHost = 4 * GiB + 0x1000;
  const last = 5 * GiB - 8;
  const code = [
    0x48, 0xbb, ...imm64(fromHost), // mov rbx, 4 GiB + 0x1000
    0x48, 0x8b, 0x03, // mov rax, [rbx]
    0x48, 0x83, 0xc0, 0x01, // add rax, 1
    0x48, 0x89, 0x43, 0x08, // mov [rbx+8], rax
    0x48, 0xb9, ...imm64(last), // mov rcx, 5 GiB - 8
    0x48, 0xba, ...imm64(0x11223344_55667788n), // mov rdx, 0x1122334455667788
    0x48, 0x89, 0x11, // mov [rcx], rdx
    0xba, REPORT_PORT & 0xff, REPORT_PORT >> 8, 0x00, 0x00, // mov edx, REPORT_PORT
    0xef, // out dx, eax: what the guest read, plus one
    ...RESET,
  ];
  let wrote = 0n;
  let lastQword = 0n;
  let regions: Machine["mem"]["regions"] = [];
  const run = await runGuest({
    mode: "long", code, memoryMiB,
    setup: (m) => {
      regions = m.mem.regions;
      const pdpt = m.mem.dataView(layout.pdpt, 4096);
      pdpt.setBigUint64(4 * 8, BigInt(HIGH_PD) | 0x03n, true);
      const pd = m.mem.dataView(HIGH_PD, 4096);
      for (let i = 0; i < 512; i++) pd.setBigUint64(i * 8, BigInt(4 * GiB + i * 2 ** 21) | 0x83n, true);
      m.mem.dataView(fromHost, 8).setBigUint64(0, 0xab_cdef_0123n, true);
    },
    after: (m) => {
      wrote = m.mem.dataView(fromHost + 8, 8).getBigUint64(0, true);
      lastQword = m.mem.dataView(last, 8).getBigUint64(0, true);
    },
  });
  assert.is(run.exit.exitReason, "reset", `${run.exit.exitReason}: ${run.exit.detail ?? ""}`);
  assert.equal(regions, [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: GiB }]);
  assert.equal(run.recorder.values, [0xcdef0124]);
  assert.is(wrote, 0xab_cdef_0124n);
  assert.is(lastQword, 0x11223344_55667788n);
});

test("at the limit (256 GiB: 3 GiB, then 64 regions from 4 GiB) every thread maps RAM, a write across a region line lands in both, and the guest writes the last byte", async () => {
  const memoryMiB = MAX_MEMORY_MIB;
  const top = 257 * GiB; // 1 GiB of the hole comes first
  const across = 8 * GiB - 4; // a qword across the line between the first two high regions
  const last = top - 8;
  const pds = { 7: 0x14000, 8: 0x15000, 256: 0x16000 }; // page directories for guest virtual 7..9 GiB and 256..257 GiB (free: past the test code)
  const code = [
    0x48, 0xba, ...imm64(0x0badc0de_feedf00dn), // mov rdx, 0x0badc0defeedf00d
    0x48, 0xb9, ...imm64(across), // mov rcx, 8 GiB - 4
    0x48, 0x89, 0x11, // mov [rcx], rdx
    0x48, 0xb9, ...imm64(last), // mov rcx, 257 GiB - 8
    0x48, 0x89, 0x11, // mov [rcx], rdx
    0x48, 0x8b, 0x01, // mov rax, [rcx]
    0x48, 0xc1, 0xe8, 0x20, // shr rax, 32
    0xba, REPORT_PORT & 0xff, REPORT_PORT >> 8, 0x00, 0x00, // mov edx, REPORT_PORT
    0xef, // out dx, eax: the high half it read back
    ...RESET,
  ];
  let regions: Machine["mem"]["regions"] = [];
  let lastQword = 0n;
  let halves: number[] = [];
  const run = await runGuest({
    // Guest RAM is mapped MAP_NORESERVE and the guest touches a few pages: only MemAvailable would stand in the way.
    mode: "long", code, memoryMiB, hostAvailableMiB: memoryMiB,
    setup: (m) => {
      regions = m.mem.regions;
      for (const [gib, pd] of Object.entries(pds)) {
        m.mem.dataView(layout.pdpt, 4096).setBigUint64(Number(gib) * 8, BigInt(pd) | 0x03n, true);
        const dir = m.mem.dataView(pd, 4096);
        for (let i = 0; i < 512; i++) dir.setBigUint64(i * 8, BigInt(Number(gib) * GiB + i * 2 ** 21) | 0x83n, true);
      }
    },
    after: (m) => {
      lastQword = m.mem.dataView(last, 8).getBigUint64(0, true);
      halves = [m.mem.dataView(across, 4).getUint32(0, true), m.mem.dataView(8 * GiB, 4).getUint32(0, true)];
    },
  });
  assert.is(memoryMiB, 256 * 1024);
  assert.is(run.exit.exitReason, "reset", `${run.exit.exitReason}: ${run.exit.detail ?? ""}`);
  assert.is(regions.length, 65);
  assert.equal(regions.slice(0, 3), [{ gpa: 0, size: 3 * GiB }, { gpa: 4 * GiB, size: 4 * GiB }, { gpa: 8 * GiB, size: 4 * GiB }]);
  assert.equal(regions[64], { gpa: 256 * GiB, size: GiB });
  assert.equal(run.recorder.values, [0x0badc0de]);
  assert.is(lastQword, 0x0badc0de_feedf00dn);
  assert.equal(halves, [0xfeedf00d, 0x0badc0de], "each half in its own region's view");
});

test("guest RAM the host cannot back, or beyond the limit, is refused in one line", () => {
  assert.throws(
    () => new Machine({ memoryMiB: 2048, hostAvailableMiB: 1000, vcpus: 1, assists: false, console: () => {} }),
    (e: Error) => e.message === "memoryMiB: 2048 MiB cannot be backed: the host has 1000 MiB available (MemAvailable in /proc/meminfo)",
  );
  assert.throws(
    () => new Machine({ memoryMiB: MAX_MEMORY_MIB + 1, vcpus: 1, assists: false, console: () => {} }),
    (e: Error) => e.message === `memoryMiB: ${MAX_MEMORY_MIB + 1} is not a whole number from 16 to ${MAX_MEMORY_MIB}`,
  );
});

test.run();
