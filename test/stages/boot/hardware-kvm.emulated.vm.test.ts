// The boot stage's VM suites on a hardware-KVM host: each suite below runs
// unchanged on the emulated host (lib/reference/emulated-kvm-host), whose
// /dev/kvm is KVM on (emulated) AMD SVM, so the VMM is proved on the kind of
// KVM users have as well as on these machines' nested PVM.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEndedRun, reportStalls, runOnEmulatedKvmHost } from "../../../lib/reference/emulated-kvm-host/run.js";
import { productCacheLines } from "../../../lib/reference/emulated-kvm-host/product-cache.js";

// Small hand-made guests (exits, devices, vCPUs, reset, timeout, held starts,
// reads answered on vCPU threads), the stage executable, ioeventfd/irqfd, the
// instruction assists, our kernel to guest-init, THP-backed guest memory and
// vCPU pinning.
const SUITES = ["kvm/kvm", "machine", "read-mirror", "main", "notify-events", "assists", "boot", "huge-pages", "cpu-pinning"];

// About 3 min for all of them; a suite still running after this has hung.
const SUITE_LIMIT_S = 240;

const shared = mkdtempSync(join(tmpdir(), "boot-hardware-kvm-"));
process.on("exit", () => rmSync(shared, { recursive: true, force: true }));
const report = (suite: string) => join(shared, `${suite.replace("/", "-")}.txt`);

test("every boot-stage VM suite passes on a hardware-KVM host", async () => {
  const script = join(shared, "run.sh");
  writeFileSync(script, [
    ...productCacheLines(),
    // Each suite says on the console when it starts and ends, and one that
    // hangs is killed after SUITE_LIMIT_S (exit 137), so the others still run.
    ...SUITES.map((suite) => [
      `echo "suite ${suite}: start"`,
      `timeout -s KILL ${SUITE_LIMIT_S} node dist/test/stages/boot/${suite}.vm.test.js > ${report(suite)} 2>&1; status=$?`,
      `echo "exit $status" >> ${report(suite)}; echo "suite ${suite}: exit $status"`,
    ].join("\n")),
  ].join("\n") + "\n");
  const run = await runOnEmulatedKvmHost({ script, shared, timeoutMs: 15 * 60_000 });
  reportStalls(run);
  const progress = run.console.split(/\r?\n/).filter((line) => line.includes("suite ")).join("\n");
  assert.is(run.exitCode, 0, `${progress}\n${describeEndedRun(run)}`);
  for (const suite of SUITES) {
    const out = readFileSync(report(suite), "utf8");
    assert.match(out, /^exit 0$/m, `${suite}:\n${out.slice(-3000)}`);
    assert.match(out, /Skipped:\s+0/, `${suite} skipped tests`);
    assert.ok(Number(/Total:\s+(\d+)/.exec(out)?.[1]) > 0, `${suite} ran no test`);
  }
});

test.run();
