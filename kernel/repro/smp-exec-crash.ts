// Reproduces the intermittent user-space crash of multi-vCPU guests on nested
// PVM hosts (kernel/repro/README.md): boots several VMs at once from a bare
// busybox initramfs that runs exec-check.c, and prints what each one saw.
//
//   node dist/kernel/repro/smp-exec-crash.js [--vmm ours|qemu|tcg] [--vms 2]
//        [--vcpus 2] [--kernel PATH] [--cmdline "ARGS"] [--run "exec-check execp 150 /bin/busybox true"]
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { parseArgs } from "node:util";
import { guestCmdline } from "../cmdline.js";
import { locateKernel } from "../locate.js";
import { writeNewc } from "../../lib/initramfs/newc.js";
import { bootWithQemu } from "../../lib/reference/qemu-microvm.js";
import { projectRoot } from "../../lib/paths.js";
import { boot } from "../../stages/boot/boot.js";
import { parseBootRequest } from "../../stages/boot/request.js";

const BUSYBOX = "/bin/busybox"; // Debian's busybox-static
const TIMEOUT_MS = 1_500_000;

const { values } = parseArgs({
  options: {
    vmm: { type: "string", default: "ours" },
    vms: { type: "string", default: "2" },
    vcpus: { type: "string", default: "2" },
    kernel: { type: "string" },
    run: { type: "string", default: `exec-check execp 150 ${BUSYBOX} true` },
    cmdline: { type: "string", default: "" }, // extra kernel arguments (e.g. an experiment's switch)
    one: { type: "string" }, // internal: boot one VM from this initramfs
  },
});
function count(name: "vms" | "vcpus", max: number): number {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    console.error(`smp-exec-crash: --${name} ${values[name]}: must be a whole number from 1 to ${max}`);
    process.exit(2);
  }
  return n;
}
if (!["ours", "qemu", "tcg"].includes(values.vmm!)) {
  console.error(`smp-exec-crash: --vmm ${values.vmm}: must be ours, qemu or tcg`);
  process.exit(2);
}
const vms = count("vms", 8);
const vcpus = count("vcpus", 8);
const kernel = values.kernel ?? locateKernel();

/** The guest's console lines that matter: the checks' results and the kernel's crash reports. */
function summary(console: string): string {
  const checks = console.match(/^CHECK .*$/gm) ?? [];
  const crashes = (console.match(/segfault at|general protection fault ip/g) ?? []).length;
  return `${checks.join("; ") || "no CHECK line (see the console log)"}; kernel crash reports: ${crashes}`;
}

async function bootOne(initramfs: string, consoleLog: string): Promise<string> {
  if (values.vmm === "ours") {
    const ctx = { progress: () => {}, log: () => {}, signal: new AbortController().signal };
    const r = await boot(parseBootRequest({ kernel, initramfs, cmdline: values.cmdline, vcpus, memoryMiB: 256, timeoutMs: TIMEOUT_MS, consoleLog }), ctx);
    return `${summary(readFileSync(consoleLog, "utf8"))} (VM ended: ${r.exitReason})`;
  }
  const accel = values.vmm === "tcg" ? "tcg" : "kvm";
  const r = await bootWithQemu({ kernel, initramfs, cmdline: guestCmdline(values.cmdline ? values.cmdline.split(/\s+/) : []), vcpus, accel, timeoutMs: TIMEOUT_MS });
  writeFileSync(consoleLog, r.console);
  return summary(r.console);
}

function buildInitramfs(dir: string): string {
  const checker = join(dir, "exec-check");
  execFileSync("gcc", ["-O2", "-static", "-o", checker, join(projectRoot, "kernel/repro/exec-check.c")]);
  const init = [
    `#!${BUSYBOX} sh`,
    `${BUSYBOX} mkdir -p /proc /sbin /usr/bin /usr/sbin`,
    `${BUSYBOX} mount -t proc proc /proc`,
    `${BUSYBOX} --install -s /bin`,
    values.run,
    "reboot -f",
  ].join("\n");
  const path = join(dir, "initramfs.cpio");
  writeFileSync(path, writeNewc([
    { type: "dir", path: "dev" },
    { type: "chardev", path: "dev/console", major: 5, minor: 1 },
    { type: "chardev", path: "dev/null", major: 1, minor: 3 },
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
    { type: "file", path: "bin/exec-check", data: readFileSync(checker), mode: 0o755 },
    { type: "file", path: "init", data: Buffer.from(init + "\n"), mode: 0o755 },
  ]));
  return path;
}

if (values.one) {
  console.log(await bootOne(values.one, `${values.one}.console-${process.pid}.log`));
} else {
  const dir = mkdtempSync(join(tmpdir(), "smp-exec-crash-"));
  let keep = false;
  try {
    const initramfs = buildInitramfs(dir);
    const self = fileURLToPath(import.meta.url);
    const args = ["--vmm", values.vmm!, "--vcpus", String(vcpus), "--kernel", kernel, "--run", values.run!, "--cmdline", values.cmdline!, "--one", initramfs];
    console.log(`host kernel ${release()}; ${vms} VM(s) at once, ${vcpus} vCPU(s) each, ${values.vmm}; kernel ${kernel}${values.cmdline ? `; extra kernel arguments: ${values.cmdline}` : ""}; guest runs: ${values.run}`);
    const runs = Array.from({ length: vms }, () => execa(process.execPath, [self, ...args], { reject: false }));
    for (const [i, r] of (await Promise.all(runs)).entries()) {
      const line = (r.stdout || r.stderr).trim();
      // Anything but a finished check without crashes or wrong registers keeps the logs (a VM that never reported too).
      keep ||= !line.startsWith("CHECK ") || !/crash reports: 0\b/.test(line) || /\b[1-9]\d* (crashed|of \d+ processes saw wrong)/.test(line);
      console.log(`VM ${i + 1}: ${line}`);
    }
    if (keep) console.log(`console logs kept in ${dir}`);
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
