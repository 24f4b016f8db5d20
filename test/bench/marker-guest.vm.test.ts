// The benchmarks' 300-byte guest boots in both VMMs the VMM benchmark
// compares: ours (64-bit entry, through the boot stage) and QEMU's microvm
// (PVH entry, 32-bit). Each prints the line and ends on the triple fault.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { markerGuestElf } from "../../bench/lib/marker-guest.js";
import { qemuCpuModel } from "../../lib/reference/qemu-microvm.js";
import { boot } from "../../stages/boot/boot.js";

const LINE = "marker guest says hello";
const work = mkdtempSync(join(tmpdir(), "bencher-marker-guest-"));
const kernel = join(work, "marker-guest.elf");
writeFileSync(kernel, markerGuestElf(LINE));
/** The same with 1000 reads of the serial line status first (the benchmark's read-cost guest). */
const reader = join(work, "marker-guest-reads.elf");
writeFileSync(reader, markerGuestElf(LINE, { statusReads: 1000 }));

test.after(() => rmSync(work, { recursive: true, force: true }));

for (const [what, elf] of [["", kernel], [" (after 1000 line status reads)", reader]]) {
  test(`our VMM${what}: the line on the console, then the triple fault ends the VM`, async () => {
    const consoleLog = join(work, `console-${what.length}.log`);
    const ctx = { progress: () => {}, log: () => {}, signal: new AbortController().signal };
    const result = await boot({ kernel: elf, vcpus: 1, memoryMiB: 64, consoleLog, timeoutMs: 20_000 }, ctx);
    assert.is(result.exitReason, "triple-fault");
    assert.is(readFileSync(consoleLog, "latin1"), LINE + "\n");
    assert.equal(result.assists, {});
  });

  test(`QEMU microvm${what}: the line on its serial, then the triple fault ends QEMU (-no-reboot)`, async () => {
    const q = await execa("qemu-system-x86_64", [
      "-enable-kvm", "-M", "microvm,acpi=off", "-cpu", qemuCpuModel(), "-m", "64", "-smp", "1",
      "-kernel", elf, "-nographic", "-nodefaults", "-no-reboot", "-serial", "stdio",
    ], { reject: false, timeout: 20_000, stdin: "ignore" });
    assert.is(q.exitCode, 0, q.stderr);
    assert.is(q.stdout, LINE);
  });
}

test.run();
