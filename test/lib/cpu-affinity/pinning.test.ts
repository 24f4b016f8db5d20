import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allowedCpus, cpusProblem, describePinning, onlineCpus, parseHostCpuList, planPinning } from "../../../lib/cpu-affinity/pinning.js";
import { getAffinity } from "../../../lib/cpu-affinity/sched-affinity.js";

test("cpusProblem: CPUs must exist and be allowed to this process", () => {
  const host = { allowed: [0, 1, 2], online: [0, 1, 2, 3] };
  assert.is(cpusProblem([1], host), null);
  assert.is(cpusProblem([2, 0], host), null);
  assert.is(cpusProblem([7], host), "CPU 7 does not exist or is offline (this host has CPUs 0-3)");
  assert.is(cpusProblem([3], host), "CPU 3 is not one this process may use (allowed: 0-2)");
  assert.is(cpusProblem([], host), "names no CPU");
  // Without /sys (inside a stage's sandbox) only the allowed set is known.
  assert.is(cpusProblem([7], { allowed: [0, 1] }), "CPU 7 is not one this process may use (allowed: 0-1)");
});

test("planPinning: vCPU i on cpus[i % n]; the VMM keeps the allowed CPUs left over", () => {
  assert.equal(planPinning([1], 1, [0, 1]), { vcpuCpus: [1], vmmCpus: [0] });
  assert.equal(planPinning([3, 1], 3, [0, 1, 2, 3]), { vcpuCpus: [3, 1, 3], vmmCpus: [0, 2] });
  assert.equal(planPinning([0, 1], 1, [0, 1]), { vcpuCpus: [0], vmmCpus: null }, "a listed CPU no vCPU uses is still kept free");
  assert.equal(planPinning([0], 2, [0]), { vcpuCpus: [0, 0], vmmCpus: null });
});

test("describePinning: one line for the boot log", () => {
  assert.is(describePinning({ vcpuCpus: [1], vmmCpus: [0] }), "vCPU 0 → CPU 1; VMM threads kept on CPU 0");
  assert.is(describePinning({ vcpuCpus: [0, 1], vmmCpus: null }), "vCPU 0 → CPU 0, vCPU 1 → CPU 1; no CPU left over: VMM threads share them");
});

test("onlineCpus reads /sys/devices/system/cpu/online under a root; undefined without it", () => {
  const root = mkdtempSync(join(tmpdir(), "cpus-sys-"));
  try {
    mkdirSync(join(root, "devices/system/cpu"), { recursive: true });
    writeFileSync(join(root, "devices/system/cpu/online"), "0-3,6\n");
    assert.equal(onlineCpus(root), [0, 1, 2, 3, 6]);
    assert.is(onlineCpus(join(root, "nothing")), undefined);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const real = onlineCpus();
  assert.ok(real && getAffinity().every((cpu) => real.includes(cpu)), "this process's CPUs are online");
});

test("allowedCpus: Cpus_allowed_list of /proc/self/status, as sched_getaffinity sees it", () => {
  assert.equal(allowedCpus(), getAffinity());
  const root = mkdtempSync(join(tmpdir(), "cpus-proc-"));
  try {
    mkdirSync(join(root, "self"), { recursive: true });
    writeFileSync(join(root, "self/status"), "Name:\tnode\nCpus_allowed:\t35\nCpus_allowed_list:\t0,2,4-5\nMems_allowed:\t1\n");
    assert.equal(allowedCpus(root), [0, 2, 4, 5]);
    writeFileSync(join(root, "self/status"), "Name:\tnode\n");
    assert.throws(() => allowedCpus(root), /has no Cpus_allowed_list/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("parseHostCpuList: syntax first, then this host", () => {
  const host = { allowed: [0, 1], online: [0, 1] };
  assert.equal(parseHostCpuList("1,0", host), [1, 0]);
  assert.throws(() => parseHostCpuList("1-", host), /"1-" is not a CPU number or range/);
  assert.throws(() => parseHostCpuList("2", host), /^CPU 2 does not exist or is offline \(this host has CPUs 0-1\)$/);
  assert.equal(parseHostCpuList(String(getAffinity()[0])), [getAffinity()[0]], "the real host by default");
});

test.run();
