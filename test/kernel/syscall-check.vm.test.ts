// Issue 9: with our kernel recipe, a static PID 1 makes real system calls on
// this host. Boots the built kernel with QEMU microvm on KVM (our VMM's own
// boot test is in test/stages/boot) and checks every line syscall-check prints.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { locateKernel } from "../../kernel/locate.js";
import { guestCmdline, isNestedPvmHost } from "../../kernel/cmdline.js";
import { syscallCheckInitramfs } from "../../kernel/syscall-check/initramfs.js";
import { bootWithQemu } from "../../lib/reference/qemu-microvm.js";
import { projectRoot } from "../../lib/paths.js";

const EXPECTED_CHECKS = ["pid1", "open-read", "open-enoent", "mmap", "fork-wait-exit", "clock_gettime", ...(isNestedPvmHost() ? [] : ["vector-registers"]), "getpid"];

test("syscall-check passes as PID 1 under QEMU microvm on KVM", async () => {
  const dir = mkdtempSync(join(tmpdir(), "bencher-syscall-check-"));
  try {
    const binary = join(dir, "syscall-check");
    await execa("musl-gcc", ["-static", "-O2", "-o", binary, join(projectRoot, "kernel/syscall-check/syscall-check.c")]);
    const initramfs = join(dir, "initramfs.cpio");
    writeFileSync(initramfs, syscallCheckInitramfs(binary));

    // QEMU cannot assist xsave/xrstor, so on a nested PVM host its guest kernel keeps
    // only x87/SSE state per task (kernel/cmdline.ts, QEMU_PVM_HOST_ARGS): AVX
    // registers are not kept there, and our VMM's boot test checks them instead.
    const initArgs = isNestedPvmHost() ? ["--", "skip-vector-registers"] : [];
    const result = await bootWithQemu({ kernel: locateKernel(), initramfs, cmdline: guestCmdline(initArgs) });
    const lines = result.console.split(/\r?\n/);
    const tail = lines.slice(-25).join("\n");
    assert.not.ok(result.timedOut, `QEMU timed out; console tail:\n${tail}`);
    for (const check of EXPECTED_CHECKS) {
      assert.ok(lines.some((l) => l.startsWith(`ok ${check} `)), `check ${check} did not pass; console tail:\n${tail}`);
    }
    assert.not.ok(lines.some((l) => l.startsWith("FAIL ")), `a check failed:\n${tail}`);
    assert.ok(lines.includes("syscall-check: PASS"), `no PASS line:\n${tail}`);
    // Time to PID 1 ≈ the guest's boot clock at its first checks; cost of a syscall from the getpid loop.
    const metric = lines.find((l) => l.startsWith("metric getpid_ns "));
    const boottime = /boottime ([\d.]+) s/.exec(lines.find((l) => l.startsWith("ok clock_gettime ")) ?? "")?.[1];
    console.log(`  syscall-check under QEMU: ${metric ?? "no metric"}; guest boot clock at the checks ${boottime ?? "?"} s; wall ${(result.wallMs / 1000).toFixed(1)} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
