// --cpus on a real VM: while a hand-made guest spins, the vCPU's thread is
// seen by the kernel (/proc/self/task/<tid>) as allowed on exactly the CPU
// asked for and running there, every other thread of the VMM is kept off it
// when CPUs are left over, and afterwards every thread gets its CPUs back.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { Machine } from "../../../stages/boot/machine.js";
import { realModeSregs } from "../../../stages/boot/loader/cpu-state.js";
import { getAffinity, processThreadIds } from "../../../lib/cpu-affinity/sched-affinity.js";
import { formatCpuList } from "../../../lib/cpu-affinity/cpu-list.js";

const CODE_AT = 0x1000;
const SPIN = [0xeb, 0xfe]; // jmp $

/** Cpus_allowed_list of one of our threads; null when it has ended. */
function allowedList(tid: number): string | null {
  try {
    return /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/self/task/${tid}/status`, "utf8"))![1]!;
  } catch {
    return null;
  }
}

/**
 * KVM's own helper (kvm-nx-lpage-recovery) shows up among our threads once a
 * vCPU has run; the kernel starts it from the vCPU's thread, so it inherits
 * that CPU. It is not the VMM's: leave it out.
 */
function isKvmHelper(tid: number): boolean {
  try {
    return /^Name:\s*kvm-/m.test(readFileSync(`/proc/self/task/${tid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** The CPU the thread last ran on (field 39 of /proc/.../stat). */
function lastCpu(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 on
  return Number(fields[39 - 3]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function spinWhile(cpus: number[], vcpus: number, look: (m: Machine, tids: number[]) => Promise<void>): Promise<string[]> {
  const log: string[] = [];
  const machine = new Machine({ memoryMiB: 16, vcpus, assists: true, cpus, console: () => {}, log: (m) => log.push(m) });
  try {
    machine.mem.write(CODE_AT, Uint8Array.from(SPIN));
    for (let i = 0; i < vcpus; i++) {
      const vcpu = machine.vcpu(i);
      vcpu.setSregs(realModeSregs(vcpu.getSregs()));
      vcpu.setRegs({ rip: BigInt(CODE_AT), rflags: 2n, rsp: 0x8ff0n });
    }
    const running = machine.run({ timeoutMs: 60_000, startAll: true });
    // Each worker says which thread it is once it has pinned itself.
    const tids = () => log.map((l) => /^vCPU \d+ thread (\d+) runs on CPU/.exec(l)).filter((m) => m).map((m) => Number(m![1]));
    for (let waited = 0; tids().length < vcpus && waited < 20_000; waited += 50) await sleep(50);
    try {
      assert.is(tids().length, vcpus, `every vCPU reported its thread: ${log.join(" | ")}`);
      await sleep(300); // let the guests spin
      await look(machine, tids());
    } finally {
      machine.stop("aborted", "test done");
      const exit = await running;
      assert.is(exit.exitReason, "aborted", exit.detail);
    }
  } finally {
    machine.close();
  }
  return log;
}

test("one vCPU pinned to the last CPU: its thread is allowed there only and runs there; the VMM's other threads keep off it", async () => {
  const before = getAffinity();
  const target = before.at(-1)!;
  const rest = before.filter((c) => c !== target);
  const log = await spinWhile([target], 1, async (machine, [tid]) => {
    assert.equal(machine.pinning, { vcpuCpus: [target], vmmCpus: rest.length ? rest : null });
    assert.is(allowedList(tid!), String(target));
    for (let i = 0; i < 5; i++, await sleep(50)) assert.is(lastCpu(tid!), target, "the spinning vCPU thread last ran on its CPU");
    if (rest.length === 0) return;
    const others = processThreadIds().filter((t) => t !== tid && !isKvmHelper(t));
    assert.ok(others.length > 3, "main thread, V8's and libuv's threads are there");
    for (const other of others) {
      const list = allowedList(other);
      if (list !== null) assert.is(list, formatCpuList(rest), `thread ${other} is kept off CPU ${target}`);
    }
  });
  assert.ok(log.some((l) => l.startsWith(`CPU pinning: vCPU 0 → CPU ${target}; `)), log.join(" | "));
  // Afterwards every thread is back where it was.
  for (const tid of processThreadIds().filter((t) => !isKvmHelper(t))) {
    const list = allowedList(tid);
    if (list !== null) assert.is(list, formatCpuList(before), `thread ${tid} got its CPUs back`);
  }
});

test("more vCPUs than CPUs: vCPU i goes to cpus[i % n]", async () => {
  const cpus = getAffinity().slice(0, 2).reverse();
  await spinWhile(cpus, 3, async (machine, tids) => {
    const expected = [0, 1, 2].map((i) => cpus[i % cpus.length]!);
    assert.equal(machine.pinning!.vcpuCpus, expected);
    assert.equal(tids.map(allowedList).sort(), expected.map(String).sort());
  });
});

test("two pinned machines at once in one process: each vCPU stays on its CPU while the other starts and ends", async () => {
  const allowed = getAffinity();
  const target = allowed.at(-1)!;
  const inner: number[] = [];
  await spinWhile([target], 1, async (_outer, [outerTid]) => {
    await spinWhile([target], 1, async (_m, [innerTid]) => {
      inner.push(innerTid!);
      assert.is(allowedList(outerTid!), String(target), "the first machine's vCPU was not moved by the second");
      assert.is(allowedList(innerTid!), String(target));
    });
    assert.is(allowedList(outerTid!), String(target), "nor when the second ended");
    if (allowed.length > 1) assert.is(allowedList(process.pid), formatCpuList(allowed.slice(0, -1)), "the main thread stays off it until the first ends");
  });
  assert.is(inner.length, 1);
  assert.is(allowedList(process.pid), formatCpuList(allowed), "all back afterwards");
});

test("CPUs this process may not use are refused before anything is made", () => {
  const allowed = getAffinity();
  assert.throws(
    () => new Machine({ memoryMiB: 16, vcpus: 1, assists: true, cpus: [8000], console: () => {} }),
    (err: Error) => err.message === `cpus: CPU 8000 is not one this process may use (allowed: ${formatCpuList(allowed)})`,
  );
});

test.run();
