// Guest RAM on transparent huge pages: when the host offers them (THP
// "always" or "madvise"), touched guest RAM is backed by 2 MiB pages
// (AnonHugePages in /proc/self/smaps); turned off, it is not.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Machine } from "../../../stages/boot/machine.js";
import { describeHugePages, thpEligible, transparentHugePages } from "../../../stages/boot/host-memory.js";

const MEMORY_MIB = 72; // a size no other mapping of this process has

/** AnonHugePages (kB) of this process's mapping of exactly `sizeKiB`; throws when there is none. */
function anonHugePagesKiB(sizeKiB: number): number {
  const blocks = readFileSync("/proc/self/smaps", "latin1").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const block = blocks.find((b) => new RegExp(`^Size:\\s+${sizeKiB} kB$`, "m").test(b));
  if (!block) throw new Error(`no mapping of ${sizeKiB} kB in /proc/self/smaps`);
  return Number(/^AnonHugePages:\s+(\d+) kB$/m.exec(block)?.[1] ?? 0);
}

function touchedMachine(hugePages: boolean): { machine: Machine; hugeKiB: number; log: string[] } {
  const log: string[] = [];
  const machine = new Machine({ memoryMiB: MEMORY_MIB, vcpus: 1, assists: false, hugePages, console: () => {}, log: (m) => log.push(m) });
  try {
    // Touch 16 MiB of guest RAM from 16 MiB on, one byte per 4 KiB page.
    for (let gpa = 16 << 20; gpa < 32 << 20; gpa += 4096) machine.mem.write(gpa, Uint8Array.of(1));
    return { machine, hugeKiB: anonHugePagesKiB(MEMORY_MIB * 1024), log };
  } finally {
    machine.close();
  }
}

const thp = transparentHugePages();

test("host THP mode is read from sysfs", () => {
  assert.is(transparentHugePages("always [madvise] never\n"), "madvise");
  assert.is(transparentHugePages("[always] madvise never\n"), "always");
  assert.is(transparentHugePages("always madvise [never]\n"), "never");
  assert.is(transparentHugePages("garbage"), undefined);
});

test("with THP on the host, touched guest RAM is backed by huge pages, and the log says so", () => {
  const { machine, hugeKiB, log } = touchedMachine(true);
  if (thp !== "always" && thp !== "madvise") {
    assert.is(machine.hugePages, false);
    assert.match(log.join("\n"), /transparent huge pages: not used \(host mode never\)|THPeligible 0/);
    console.log(`  (host THP mode ${thp}: huge pages not offered, checked that none are used)`);
    return;
  }
  assert.is(machine.hugePages, true);
  assert.match(log.join("\n"), new RegExp(`guest RAM: ${MEMORY_MIB} MiB in 1 region\\(s\\); transparent huge pages: MADV_HUGEPAGE \\(host mode ${thp}, THPeligible 1\\)`));
  assert.ok(hugeKiB >= 2048, `AnonHugePages ${hugeKiB} kB after touching 16 MiB`);
});

test("turned off, guest RAM gets no huge pages", () => {
  const { machine, hugeKiB, log } = touchedMachine(false);
  assert.is(machine.hugePages, false);
  assert.is(hugeKiB, 0);
  assert.match(log.join("\n"), /transparent huge pages: not used \(turned off\)$/m);
});

test("where /sys is hidden (the stage sandbox), huge pages are asked for and smaps says whether they apply", () => {
  const smaps = [
    "7f0000000000-7f0004800000 rw-p 00000000 00:00 0 ",
    "Size:              73728 kB",
    "THPeligible:    1",
    "7f0004800000-7f0004a00000 rw-p 00000000 00:00 0 ",
    "THPeligible:    0",
    "",
  ].join("\n");
  assert.is(thpEligible(0x7f0000000000n, smaps), true);
  assert.is(thpEligible(0x7f0004800000n, smaps), false);
  assert.is(thpEligible(0x7f0009000000n, smaps), undefined);
  const ram = { addr: 0x7f0000000000n, hugePages: true };
  assert.equal(describeHugePages(true, undefined, ram, smaps), { text: "MADV_HUGEPAGE (host mode unknown, THPeligible 1)", used: true });
  assert.equal(describeHugePages(true, undefined, { ...ram, addr: 0x7f0004800000n }, smaps), { text: "MADV_HUGEPAGE (host mode unknown, THPeligible 0)", used: false });
  assert.equal(describeHugePages(true, "never", ram, smaps), { text: "not used (host mode never)", used: false });
  assert.equal(describeHugePages(true, "madvise", { addr: 0n, hugePages: false, hugePagesRefused: "madvise failed: Invalid argument (errno 22)" }), { text: "MADV_HUGEPAGE refused: madvise failed: Invalid argument (errno 22)", used: false });
});

test.run();
