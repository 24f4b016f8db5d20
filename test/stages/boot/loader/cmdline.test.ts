// The quiet-CPU arguments: vCPU 0 keeps the housekeeping, the rest are
// tickless and named for guest-init; refused without a vCPU to spare.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildCmdline, quietCpuArgs } from "../../../../stages/boot/loader/cmdline.js";

test("quietCpuArgs: vCPUs 1..n-1 tickless, RCU callbacks and interrupts on vCPU 0, the same CPUs for guest-init", () => {
  assert.equal(quietCpuArgs(2), ["nohz_full=1", "rcu_nocbs=1", "irqaffinity=0", "bencher.cpus=1"]);
  assert.equal(quietCpuArgs(4), ["nohz_full=1-3", "rcu_nocbs=1-3", "irqaffinity=0", "bencher.cpus=1-3"]);
  assert.throws(() => quietCpuArgs(1), /quiet CPUs need at least 2 vCPUs .* not 1/);
  assert.throws(() => quietCpuArgs(0), /not 0/);
});

test("buildCmdline adds them only when asked, before the caller's own arguments", () => {
  const plain = buildCmdline({ virtio: [], pvmHost: false, extra: "bencher.port=9" });
  assert.not.match(plain, /nohz_full|bencher\.cpus/);
  const quiet = buildCmdline({ virtio: [], pvmHost: false, extra: "bencher.port=9", quietCpusOf: 3 });
  assert.ok(quiet.endsWith(" nohz_full=1-2 rcu_nocbs=1-2 irqaffinity=0 bencher.cpus=1-2 bencher.port=9"), quiet);
  assert.throws(() => buildCmdline({ virtio: [], pvmHost: false, quietCpusOf: 1 }), /at least 2 vCPUs/);
});

test.run();
