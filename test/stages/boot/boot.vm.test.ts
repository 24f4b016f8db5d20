// The boot stage end to end: our kernel boots to a static /init that checks
// system calls (kernel/syscall-check) and reboots, which ends the VM. On a
// nested PVM host this takes about 2.5 minutes (the guest kernel is emulated).
// The kernel comes from the recipe's cache (kernel/locate.ts) or BENCHER_KERNEL.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { boot } from "../../../stages/boot/boot.js";
import { parseBootRequest } from "../../../stages/boot/request.js";
import { locateKernel, locateKernelBzImage } from "../../../kernel/locate.js";
import { syscallCheckInitramfs } from "../../../kernel/syscall-check/initramfs.js";
import { projectRoot } from "../../../lib/paths.js";
import { Machine } from "../../../stages/boot/machine.js";
import { loadLinux } from "../../../stages/boot/loader/linux.js";
import { buildCmdline } from "../../../stages/boot/loader/cmdline.js";
import { isNestedPvmHost } from "../../../kernel/cmdline.js";
import { markerGuestElf } from "../../../bench/lib/marker-guest.js";

const work = mkdtempSync(join(tmpdir(), "bencher-boot-test-"));
const logs: string[] = [];
const ctx = {
  progress: (_f: number | null, m: string) => logs.push(`progress ${m}`),
  log: (_l: string, m: string) => logs.push(m),
  signal: new AbortController().signal,
};

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a failure");
}

let kernelPath: string | undefined;
/** Resolved once, so every test boots the same kernel even if the recipe changes meanwhile. */
function kernel(): string {
  return (kernelPath ??= process.env.BENCHER_KERNEL ?? locateKernel());
}

function initramfs(): string {
  const binary = join(work, "syscall-check");
  execFileSync("musl-gcc", ["-static", "-O2", "-o", binary, join(projectRoot, "kernel/syscall-check/syscall-check.c")]);
  const path = join(work, "initramfs.cpio");
  writeFileSync(path, syscallCheckInitramfs(binary));
  return path;
}

test("a kernel that is not one is refused with a one-line error", async () => {
  const bogus = join(work, "not-a-kernel");
  writeFileSync(bogus, "hello");
  const req = parseBootRequest({ kernel: bogus, timeoutMs: 5000 });
  assert.match(await failure(boot(req, ctx)), /^kernel \/.*: neither an ELF vmlinux nor a bzImage$/);
  assert.match(await failure(boot(parseBootRequest({ kernel: join(work, "missing"), timeoutMs: 5000 }), ctx)), /^kernel .*missing: ENOENT$/);
});

test("holdUntilExists: the VM is made at once, its guest runs only once the path appears, and the wait is not VM time", async () => {
  const guest = join(work, "marker-guest.elf");
  writeFileSync(guest, markerGuestElf("held guest runs"));
  const consoleLog = join(work, "held-console.log");
  const listener = join(work, "v_1024");
  const started = performance.now();
  const running = boot(parseBootRequest({ kernel: guest, consoleLog, holdUntilExists: listener, timeoutMs: 20_000 }), ctx);
  await new Promise((r) => setTimeout(r, 600));
  const before = existsSync(consoleLog) ? readFileSync(consoleLog, "latin1") : "";
  writeFileSync(listener, "");
  const result = await running;
  const elapsed = performance.now() - started;
  assert.is(before, "", "nothing ran while held");
  assert.is(result.exitReason, "triple-fault");
  assert.is(readFileSync(consoleLog, "latin1"), "held guest runs\n");
  assert.ok(result.heldMs !== undefined && result.heldMs >= 300, `heldMs ${result.heldMs}`);
  assert.ok(result.wallMs <= elapsed - result.heldMs! + 1, `wallMs ${result.wallMs} leaves out the ${result.heldMs} ms held (elapsed ${Math.round(elapsed)})`);
});

test("holdUntilExists in a directory that is not there: one line before any VM is made", async () => {
  const missing = join(work, "no-such-dir", "v_1024");
  const message = await failure(boot(parseBootRequest({ kernel: kernel(), holdUntilExists: missing, timeoutMs: 5000 }), ctx));
  assert.is(message, `holdUntilExists ${missing}: its directory: ENOENT`);
});

test("the deadline stops a booting kernel and the result carries the console tail", async () => {
  const consoleLog = join(work, "timeout-console.log");
  // earlyprintk: the kernel writes to the serial port from its first steps (console=ttyS0 starts seconds later here).
  const req = parseBootRequest({ kernel: kernel(), timeoutMs: 4000, consoleLog, memoryMiB: 128, cmdline: "earlyprintk=ttyS0" });
  const result = await boot(req, ctx);
  assert.is(result.exitReason, "timeout");
  assert.ok(result.wallMs >= 4000 && result.wallMs < 15000, `wall ${result.wallMs} ms`);
  const log = readFileSync(consoleLog, "utf8");
  assert.match(log, /Linux version/, "the console log holds the kernel's output");
  assert.ok((result.consoleTail ?? "").length > 0 && log.endsWith(result.consoleTail!), "the tail is the end of the log");
});

/** syscall-check's verdict; when it failed, the message holds the checks that did. */
function assertSyscallCheckPassed(log: string): void {
  const failed = log.split(/\r?\n/).filter((l) => l.startsWith("FAIL "));
  assert.match(log, /syscall-check: PASS/, failed.length ? failed.join("\n") : "syscall-check printed no verdict");
}

test("our kernel boots to /init with 320 MiB, system calls work, and its reboot ends the VM", async () => {
  const consoleLog = join(work, "console.log");
  const req = parseBootRequest({
    kernel: kernel(), initramfs: initramfs(), vcpus: 1, memoryMiB: 320, timeoutMs: 15 * 60 * 1000, consoleLog,
  });
  const result = await boot(req, ctx);
  const log = readFileSync(consoleLog, "utf8");
  console.log(`boot: ${JSON.stringify(result)}`);
  assert.is(result.exitReason, "reset", `${result.detail}\n${result.consoleTail}`);
  assertSyscallCheckPassed(log);
  assert.match(log, /BIOS-e820: \[mem 0x0000000000100000-0x0000000013ffffff\] usable/, "the guest sees exactly 320 MiB");
  assert.ok(result.bootMs !== undefined && result.bootMs < result.wallMs);
  assert.is(result.consoleTail, undefined, "no tail on a clean end");
});

// With 2 vCPUs, so syscall-check also moves processes between CPUs with their vector registers live.
test("the same kernel as a bzImage (payload extracted by the VMM) boots to /init with 2 vCPUs and passes the system-call check", async () => {
  const bzImage = process.env.BENCHER_BZIMAGE ?? locateKernelBzImage();
  assert.is(readFileSync(bzImage).readUInt32LE(0x202), 0x53726448, "a real bzImage (HdrS)");
  const consoleLog = join(work, "bzimage-console.log");
  const req = parseBootRequest({ kernel: bzImage, initramfs: initramfs(), vcpus: 2, memoryMiB: 128, timeoutMs: 15 * 60 * 1000, consoleLog });
  const result = await boot(req, ctx);
  assert.is(result.exitReason, "reset", `${result.detail}\n${result.consoleTail}`);
  assert.ok(logs.some((l) => /^bzImage kernel entry/.test(l)), `the boot log says it loaded a bzImage: ${logs.filter((l) => /kernel entry/.test(l)).join(" | ")}`);
  const log = readFileSync(consoleLog, "utf8");
  assertSyscallCheckPassed(log);
  // When it did not, the kernel's lines on bringing up CPUs say why (a vCPU that never came up).
  const bringUp = log.split(/\r?\n/).filter((l) => /smp|CPU ?1|Booting|do_boot_cpu|failed to/i.test(l)).join("\n");
  assert.match(log, /^ok vector-registers-across-cpus /m, `the check across CPUs ran; the kernel on its CPUs:\n${bringUp}`);
});

test("the kernel brings up every vCPU it is given (MP table, INIT/SIPI)", async () => {
  // Only up to SMP bring-up, to stay quick; scenarios/multi_cpu.json boots 3 vCPUs all the way to the command.
  const controller = new AbortController();
  let text = "";
  const machine = new Machine({
    memoryMiB: 128, vcpus: 3, assists: isNestedPvmHost(), pvmHostCpuid: isNestedPvmHost(),
    console: (b) => {
      text += Buffer.from(b).toString("latin1");
      if (/smp: Brought up [^\r\n]*\r?\n/.test(text)) controller.abort(new Error("seen"));
    },
  });
  try {
    loadLinux(machine, { kernel: readFileSync(kernel()), cmdline: buildCmdline({ virtio: [], pvmHost: isNestedPvmHost() }) });
    const exit = await machine.run({ timeoutMs: 5 * 60 * 1000, signal: controller.signal });
    assert.is(exit.exitReason, "aborted", `${exit.detail}\n${text.slice(-2000)}`);
    assert.match(text, /smp: Brought up 1 node, 3 CPUs/);
  } finally {
    machine.close();
  }
});

test.after(() => {
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
});

test.run();
