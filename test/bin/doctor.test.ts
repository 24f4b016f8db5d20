import { test } from "uvu";
import * as assert from "uvu/assert";
import { accessSync, constants, existsSync, mkdtempSync, rmSync, chownSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { cli, runCli } from "./helpers.js";
import { TUNING_HEADING } from "../../bin/commands/doctor.js";
import { checkKvm, explainMissingKvm } from "../../bin/doctor/kvm-check.js";
import { checkFreeDisk } from "../../bin/doctor/disk-check.js";
import { explainUsernsFailure } from "../../bin/doctor/userns-check.js";
import { checkMkfs, findTool } from "../../bin/doctor/tools-check.js";

function kvmUsable(): boolean {
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

test("doctor prints one line per check and its exit status matches them", async () => {
  const r = await runCli(["doctor", "--json"]);
  const report = JSON.parse(r.stdout);
  const names = report.checks.map((c: { name: string }) => c.name);
  assert.equal(names, ["kvm", "mkfs.ext4", "user namespaces", "guest kernel", "guest-init", "free disk"]);
  assert.is(r.exitCode, report.ok ? 0 : 1);
  assert.is(report.ok, report.checks.every((c: { status: string }) => c.status !== "fail"));
  for (const c of report.checks) if (c.status === "fail") assert.ok(c.fix, `${c.name} failed without a fix`);

  const kvm = report.checks[0];
  assert.is(kvm.status === "ok", kvmUsable());
  if (existsSync("/sys/module/kvm_pvm") && kvm.status === "ok") assert.match(kvm.detail, /nested PVM host/);
  assert.is(report.checks[2].status, "ok", "user namespaces work on this machine");

  const text = await runCli(["doctor"]);
  const lines = text.stdout.trim().split("\n");
  assert.is(lines.indexOf(TUNING_HEADING), 6, "six readiness lines, then the tuning advice");
  assert.is(lines.length, 7 + report.tuning.length);
  assert.is(text.exitCode, r.exitCode);
});

test("doctor as an ordinary user outside the kvm group: KVM fails with the fix, exit 1", async () => {
  if (process.getuid!() !== 0) return;
  const cache = mkdtempSync(join(tmpdir(), "doctor-user-"));
  chownSync(cache, 65534, 65534);
  try {
    const r = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", cli, "doctor"], { reject: false, env: { BENCHER_RUN_CACHE: cache, HOME: cache } });
    assert.is(r.exitCode, 1);
    // On a machine without the device at all (a PVM guest's kernel offers none), that is what it says instead.
    const kvmLine = existsSync("/dev/kvm") ? /^FAIL kvm: \/dev\/kvm: permission denied — fix: sudo usermod -aG kvm \$USER/m : /^FAIL kvm: \/dev\/kvm does not exist.* — fix: /m;
    assert.match(String(r.stdout), kvmLine);
    assert.match(String(r.stdout), /^ok   user namespaces: stage sandbox works .*ordinary user/m);
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test("checkKvm: a missing device and a device that is not KVM", () => {
  const missing = checkKvm("/nonexistent/kvm");
  assert.is(missing.status, "fail");
  assert.match(missing.detail, /^\/nonexistent\/kvm does not exist/);
  assert.ok(missing.fix);
  const notKvm = checkKvm("/dev/null");
  assert.is(notKvm.status, "fail");
  assert.match(notKvm.detail, /answers KVM API version -1, expected 12/);
});

test("a missing /dev/kvm is explained from the CPU's flags: a module to load only where the CPU can virtualize", () => {
  const facts = (flags: string, pvmModule = false) => ({ cpuFlags: new Set(flags.split(" ")), pvmModule });
  assert.equal(explainMissingKvm("/dev/kvm", facts("fpu vmx sse2")), { detail: "/dev/kvm does not exist", fix: "load kvm_intel (sudo modprobe kvm_intel)" });
  assert.equal(explainMissingKvm("/dev/kvm", facts("fpu svm hypervisor")), { detail: "/dev/kvm does not exist", fix: "load kvm_amd (sudo modprobe kvm_amd)" });
  // This project's own machines, when their kernel is a PVM guest: kvm_pvm is there but registers no device.
  const pvmGuest = explainMissingKvm("/dev/kvm", facts("fpu sse2 hypervisor", true));
  assert.match(pvmGuest.detail, /kvm_pvm is loaded but offers no device/);
  assert.match(pvmGuest.fix, /bare metal, or a VM with nested virtualization/);
  const cloudVm = explainMissingKvm("/dev/kvm", facts("fpu sse2 hypervisor"));
  assert.match(cloudVm.detail, /virtual machine whose CPU has neither VT-x \(vmx\) nor AMD-V \(svm\)/);
  assert.match(cloudVm.fix, /enable nested virtualization/);
  assert.match(explainMissingKvm("/dev/kvm", facts("fpu sse2")).fix, /enable VT-x\/AMD-V in the firmware/);
});

test("user namespace failures are explained from the kernel's knobs", () => {
  const base = { apparmorRestrict: null, unprivilegedClone: null, maxUserNamespaces: "1000" };
  const apparmor = explainUsernsFailure({ ...base, apparmorRestrict: "1" }, "unshare: write failed /proc/self/uid_map: Operation not permitted");
  assert.match(apparmor.detail, /AppArmor/);
  assert.match(apparmor.fix, /kernel\.apparmor_restrict_unprivileged_userns=0/);
  assert.match(explainUsernsFailure({ ...base, unprivilegedClone: "0" }, "").fix, /unprivileged_userns_clone=1/);
  assert.match(explainUsernsFailure({ ...base, maxUserNamespaces: "0" }, "").fix, /max_user_namespaces=15000/);
  assert.match(explainUsernsFailure(base, "unshare: unshare failed: Operation not permitted").detail, /could not start: unshare: unshare failed/);
  assert.match(explainUsernsFailure(base, "sandbox: bwrap not found on PATH (Debian package bubblewrap; ./setup installs it)").fix, /apt-get install bubblewrap/);
});

test("free disk: fails below the minimum, warns below the comfortable amount", () => {
  assert.is(checkFreeDisk(tmpdir(), 1).status, "ok");
  const tooLittle = checkFreeDisk(join(tmpdir(), "not", "made", "yet"), Number.MAX_SAFE_INTEGER);
  assert.is(tooLittle.status, "fail");
  assert.match(tooLittle.fix!, /--workdir/);
  assert.is(checkFreeDisk(tmpdir(), 1, Number.MAX_SAFE_INTEGER).status, "warn");
  // Not there yet: measured where it will be made, and said so.
  assert.match(checkFreeDisk(join(tmpdir(), "not", "made", "yet"), 1).detail, / free in .*not\/made\/yet \(made on the first run, in /);
  // A file where the work root or one of its parents must be: no run could make it.
  const file = join(tmpdir(), `doctor-file-${process.pid}`);
  writeFileSync(file, "");
  try {
    for (const root of [file, join(file, "runs")]) {
      const r = checkFreeDisk(root, 1);
      assert.is(r.status, "fail");
      assert.is(r.detail, `${root}: ${file} is not a directory`);
    }
  } finally {
    rmSync(file);
  }
});

test("mkfs.ext4 is found where Debian puts it", () => {
  assert.is(checkMkfs().status, existsSync("/usr/sbin/mkfs.ext4") || existsSync("/sbin/mkfs.ext4") ? "ok" : "fail");
  assert.is(findTool("mkfs.ext4", ["/nonexistent"]), null);
});

test.run();
