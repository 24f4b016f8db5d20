// The product on a hardware-KVM host, as users run it: the README's commands
// on the emulated host (lib/reference/emulated-kvm-host), whose /dev/kvm is
// KVM on (emulated) AMD SVM instead of these machines' nested PVM. There none
// of the nested-PVM accommodations may be active: no CPU-feature masks, no
// syscall trap patch switched on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../lib/paths.js";
import { describeEndedRun, reportStalls, runOnEmulatedKvmHost } from "../../lib/reference/emulated-kvm-host/run.js";
import { productCacheLines } from "../../lib/reference/emulated-kvm-host/product-cache.js";

const shared = mkdtempSync(join(tmpdir(), "pipeline-hardware-kvm-"));
process.on("exit", () => rmSync(shared, { recursive: true, force: true }));
const cli = join(projectRoot, "bin", "bencher-run");
const image = join(shared, "hello-bench.oci");
const at = (name: string) => join(shared, name);
const read = (name: string) => readFileSync(at(name), "utf8");

test("the README's pipeline runs the example image on a hardware-KVM host, with nothing of the nested-PVM set-up", async () => {
  execFileSync(cli, ["image", join(projectRoot, "examples", "hello-bench.json"), "--out", image], { stdio: "ignore" });
  const script = at("run.sh");
  writeFileSync(script, [
    ...productCacheLines(),
    `bin/bencher-run pipeline --image ${image} --output /bench/result.json --output-dir ${at("results")} > ${at("readme.out")} 2> ${at("readme.err")}`,
    `echo $? > ${at("readme.status")}`,
    `bin/bencher-run pipeline --image ${image} --json --entrypoint /bin/sh --cmd -c 'cat /proc/cmdline; grep -m1 ^flags /proc/cpuinfo' > ${at("probe.json")} 2> ${at("probe.err")}`,
    `echo $? > ${at("probe.status")}`,
  ].join("\n") + "\n");
  const run = await runOnEmulatedKvmHost({ script, shared, timeoutMs: 15 * 60_000 });
  reportStalls(run);
  assert.is(run.exitCode, 0, describeEndedRun(run));

  // The README's command: the benchmark's line on stdout, its exit status, its result file.
  assert.is(read("readme.status").trim(), "0", read("readme.err"));
  assert.match(read("readme.out"), /^shell-sum: sum\(1\.\.100000\) = 5000050000 in \d+ ms on 1 CPU\(s\)$/m);
  assert.ok(existsSync(at("results/bench/result.json")), "the result file came back");
  assert.equal(JSON.parse(read("results/bench/result.json")).sum, 5000050000);

  // The guest as it booted there.
  assert.is(read("probe.status").trim(), "0", read("probe.err"));
  const result = JSON.parse(read("probe.json"));
  assert.is(result.status, 0);
  // The runner stops the VM once collect has finished; on a fast host the guest's own reset may come first.
  assert.ok(["stopped", "reset"].includes(result.vm.exitReason), `the VM ended by ${result.vm.exitReason}`);
  const [cmdline, flags] = (result.stdout as string).trim().split("\n");
  for (const arg of ["bencher_pvm_host", "clearcpuid", "noxsave", "noreplace-smp"]) {
    assert.not.ok(cmdline.split(" ").some((a) => a.startsWith(arg)), `${arg} on the guest's command line: ${cmdline}`);
  }
  // Features the nested-PVM command line clears, and the emulated CPU has: the guest keeps them.
  const guestFlags = flags.replace(/^flags\s*:\s*/, "").split(" ");
  for (const flag of ["popcnt", "sse4_2", "cx16", "movbe"]) assert.ok(guestFlags.includes(flag), `${flag} in the guest's CPU flags: ${flags}`);
});

test.run();
