// The per-run key must be out of the workload's reach, even as root: these
// workloads look for it, or for guest-init, everywhere they can.
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jobFor, makeRootfs, runHostTest, text } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

test("the key is in no env, argv, file or process memory the workload can read", async () => {
  const job = jobFor([
    "sh",
    "-c",
    // Dump everything readable under /proc (env, argv, memory maps of every visible process) and /dev/shm, /tmp.
    "for p in /proc/[0-9]*; do cat $p/environ $p/cmdline; dd if=$p/mem bs=4096 skip=1 count=2048 2>/dev/null; done | od -An -tx1 -v | tr -d ' \\n'; " +
      "cat /proc/cmdline",
  ]);
  const run = await runHostTest(job, { root });
  const dump = text(run.result.stdout);
  assert.ok(dump.length > 1000, "the dump read something");
  const keyHex = Buffer.from(job.key).toString("hex");
  assert.not.ok(dump.includes(keyHex), "key bytes in the workload's view");
  assert.not.ok(dump.includes(keyHex.slice(0, 16)), "part of the key in the workload's view");
});

test("guest-init's process is invisible: only the workload's PID namespace shows in /proc", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "sleep 0.2 & ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '"]), { root });
  // sh (1), sleep, ls, grep, sort, tr: all small numbers in a fresh namespace.
  const pids = text(run.result.stdout).trim().split(" ").map(Number);
  assert.is(pids[0], 1);
  assert.ok(pids.every((p) => p < 50), `pids ${pids}`);
});

test("a root workload keeps only Docker's default capabilities", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "grep -E '^Cap(Eff|Bnd|Inh|Amb)' /proc/self/status"]), { root });
  const caps = Object.fromEntries(text(run.result.stdout).trim().split("\n").map((l) => l.split(/:\s+/)));
  const docker = [0, 1, 3, 4, 5, 6, 7, 8, 10, 13, 18, 27, 29, 31].reduce((m, c) => m | (1n << BigInt(c)), 0n);
  assert.is(BigInt("0x" + caps.CapBnd), docker);
  assert.is(BigInt("0x" + caps.CapEff), docker);
  assert.is(BigInt("0x" + caps.CapInh), 0n);
  assert.is(BigInt("0x" + caps.CapAmb), 0n);
});

test("the workload holds no descriptor of guest-init's (stream, console, root, pipes)", async () => {
  // ls lists the shell's descriptors: no pipe or redirection, whose fds would
  // show; "; true" keeps sh from exec'ing ls.
  const run = await runHostTest(jobFor(["sh", "-c", "ls /proc/$$/fd; true"]), { root });
  assert.is(text(run.result.stdout), "0\n1\n2\n");
});

test("a root workload cannot mount, so it cannot bring back a /proc that shows guest-init", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>&1; echo rc=$?"]), { root });
  assert.match(text(run.result.stdout), /rc=[1-9]/);
  rmSync(`${root}/tmp/p`, { recursive: true, force: true });
});

test.run();
