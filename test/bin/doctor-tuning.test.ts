// doctor's tuning advice: each check against a fake /proc and /sys tree
// (ideal, not ideal with the exact command, not exposed at all), then the
// real machine, where tuning never makes doctor fail.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runCli } from "./helpers.js";
import {
  checkBoost, checkCpusForPinning, checkGovernor, checkNmiWatchdog, checkPerfEventParanoid, checkSmt, checkSwappiness,
  checkThpDefrag, checkThpEnabled, selected, tuningChecks,
} from "../../bin/doctor/tuning-checks.js";
import { formatCheck } from "../../bin/doctor/check.js";

const roots: string[] = [];
/** A fake root holding `files` (path under the root → content). */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "doctor-tuning-"));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content + "\n");
  }
  return root;
}
test.after(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

const SWAP_IN_USE = "Filename\tType\tSize\tUsed\tPriority\n/swapfile\tfile\t1048572\t0\t-2";
const NO_SWAP = "Filename\tType\tSize\tUsed\tPriority";
const THP = "sys/kernel/mm/transparent_hugepage";
const CPU = "sys/devices/system/cpu";

test("selected word of a sysfs choice list", () => {
  assert.is(selected("always [madvise] never"), "madvise");
  assert.is(selected("[always] defer defer+madvise madvise never"), "always");
  assert.is(selected("performance"), "performance");
});

test("vm.swappiness: ≤ 10 is fine; higher with swap in use is advice with the sysctl; no swap: no matter", () => {
  const high = checkSwappiness(fakeRoot({ "proc/sys/vm/swappiness": "60", "proc/swaps": SWAP_IN_USE }));
  assert.equal([high.status, high.value, high.fix], ["warn", "60", "sudo sysctl -w vm.swappiness=10"]);
  assert.match(formatCheck(high), /^warn vm\.swappiness: 60: .* — fix: sudo sysctl -w vm\.swappiness=10$/);
  assert.is(checkSwappiness(fakeRoot({ "proc/sys/vm/swappiness": "10", "proc/swaps": SWAP_IN_USE })).status, "ok");
  const noSwap = checkSwappiness(fakeRoot({ "proc/sys/vm/swappiness": "60", "proc/swaps": NO_SWAP }));
  assert.equal([noSwap.status, noSwap.fix], ["ok", undefined]);
  assert.match(noSwap.detail, /no swap in use/);
  assert.is(checkSwappiness(fakeRoot({})).status, "n/a");
});

test("transparent huge pages: madvise is the aim; always and never get the command; defrag always is advice", () => {
  const at = (enabled: string, defrag = "always defer defer+madvise [madvise] never") => fakeRoot({ [`${THP}/enabled`]: enabled, [`${THP}/defrag`]: defrag });
  assert.equal(checkThpEnabled(at("always [madvise] never")).status, "ok");
  for (const choice of ["[always] madvise never", "always madvise [never]"]) {
    const r = checkThpEnabled(at(choice));
    assert.is(r.status, "warn");
    assert.is(r.value, selected(choice));
    assert.is(r.fix, "echo madvise | sudo tee /sys/kernel/mm/transparent_hugepage/enabled");
  }
  const defrag = checkThpDefrag(at("always [madvise] never", "[always] defer defer+madvise madvise never"));
  assert.equal([defrag.status, defrag.value, defrag.fix], ["warn", "always", "echo defer+madvise | sudo tee /sys/kernel/mm/transparent_hugepage/defrag"]);
  assert.is(checkThpDefrag(at("x")).value, "madvise");
  assert.is(checkThpEnabled(fakeRoot({})).status, "n/a");
  assert.is(checkThpDefrag(fakeRoot({})).status, "n/a");
});

test("perf_event_paranoid: ≤ 1 is fine, 2 and up get the sysctl", () => {
  assert.is(checkPerfEventParanoid(fakeRoot({ "proc/sys/kernel/perf_event_paranoid": "-1" })).status, "ok");
  assert.is(checkPerfEventParanoid(fakeRoot({ "proc/sys/kernel/perf_event_paranoid": "1" })).status, "ok");
  const strict = checkPerfEventParanoid(fakeRoot({ "proc/sys/kernel/perf_event_paranoid": "4" }));
  assert.equal([strict.status, strict.value, strict.fix], ["warn", "4", "sudo sysctl -w kernel.perf_event_paranoid=1"]);
});

test("CPU governor: performance everywhere is fine; anything else names the CPUs and gives the command; no cpufreq is n/a", () => {
  const gov = (g0: string, g1: string) => fakeRoot({ [`${CPU}/cpu0/cpufreq/scaling_governor`]: g0, [`${CPU}/cpu1/cpufreq/scaling_governor`]: g1, [`${CPU}/online`]: "0-1" });
  assert.equal(checkGovernor(gov("performance", "performance")).status, "ok");
  const mixed = checkGovernor(gov("powersave", "performance"));
  assert.is(mixed.status, "warn");
  assert.is(mixed.value, "powersave on CPU 0, performance on CPU 1");
  assert.is(mixed.fix, "echo performance | sudo tee /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor");
  assert.is(checkGovernor(gov("schedutil", "schedutil")).value, "schedutil");
  const none = checkGovernor(fakeRoot({ [`${CPU}/cpu0/topology/core_id`]: "0" }));
  assert.equal([none.status, none.value], ["n/a", null]);
  assert.match(formatCheck(none), /^n\/a  CPU frequency governor: not available \(/);
});

test("turbo/boost: Intel's no_turbo or cpufreq's boost; neither is n/a", () => {
  const intelOn = checkBoost(fakeRoot({ [`${CPU}/intel_pstate/no_turbo`]: "0" }));
  assert.equal([intelOn.status, intelOn.fix], ["warn", "echo 1 | sudo tee /sys/devices/system/cpu/intel_pstate/no_turbo"]);
  assert.is(checkBoost(fakeRoot({ [`${CPU}/intel_pstate/no_turbo`]: "1" })).status, "ok");
  const boostOn = checkBoost(fakeRoot({ [`${CPU}/cpufreq/boost`]: "1" }));
  assert.equal([boostOn.status, boostOn.fix], ["warn", "echo 0 | sudo tee /sys/devices/system/cpu/cpufreq/boost"]);
  assert.is(checkBoost(fakeRoot({ [`${CPU}/cpufreq/boost`]: "0" })).status, "ok");
  assert.is(checkBoost(fakeRoot({})).status, "n/a");
});

test("SMT on is advice; off or unsupported is fine", () => {
  const on = checkSmt(fakeRoot({ [`${CPU}/smt/control`]: "on" }));
  assert.equal([on.status, on.fix], ["warn", "echo off | sudo tee /sys/devices/system/cpu/smt/control"]);
  assert.is(checkSmt(fakeRoot({ [`${CPU}/smt/control`]: "off" })).status, "ok");
  assert.is(checkSmt(fakeRoot({ [`${CPU}/smt/control`]: "notsupported" })).status, "ok");
  assert.is(checkSmt(fakeRoot({})).status, "n/a");
});

test("NMI watchdog on is advice", () => {
  const on = checkNmiWatchdog(fakeRoot({ "proc/sys/kernel/nmi_watchdog": "1" }));
  assert.equal([on.status, on.fix], ["warn", "sudo sysctl -w kernel.nmi_watchdog=0"]);
  assert.is(checkNmiWatchdog(fakeRoot({ "proc/sys/kernel/nmi_watchdog": "0" })).status, "ok");
});

test("CPUs for --cpus: one CPU cannot keep the VMM off the vCPU", () => {
  const one = checkCpusForPinning(fakeRoot({ "proc/self/status": "Name:\tnode\nCpus_allowed_list:\t3\n" }));
  assert.is(one.status, "warn");
  assert.match(one.detail, /only CPU 3 is usable/);
  const four = checkCpusForPinning(fakeRoot({ "proc/self/status": "Cpus_allowed_list:\t0-3\n", [`${CPU}/isolated`]: "3" }));
  assert.is(four.status, "ok");
  assert.match(four.detail, /^4 usable \(0-3\): e\.g\. --cpus 3 runs the vCPU on CPU 3 and the VMM on 0-2; isolated from the scheduler: 3$/);
});

test("an empty root: every check is n/a, none throws, none fails", () => {
  const checks = tuningChecks(fakeRoot({}));
  assert.is(checks.length, 9);
  for (const c of checks) assert.is(c.status, "n/a", c.name);
});

test("this machine: every check reports its value; doctor's exit status ignores tuning", async () => {
  const checks = tuningChecks();
  for (const c of checks) {
    assert.ok(["ok", "warn", "n/a"].includes(c.status), `${c.name}: ${c.status}`);
    if (c.status === "warn") assert.ok(c.fix, `${c.name} advises without a command`);
    if (c.status !== "n/a") assert.ok(c.value, `${c.name} shows its current value`);
  }
  const r = await runCli(["doctor", "--json"]);
  const report = JSON.parse(r.stdout);
  assert.equal(report.tuning.map((c: { name: string }) => c.name), checks.map((c) => c.name));
  assert.is(r.exitCode, report.checks.some((c: { status: string }) => c.status === "fail") ? 1 : 0, "only readiness checks decide");
});

test.run();
