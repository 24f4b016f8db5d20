// The emulated hardware-KVM host itself: what the product tests that run on
// it rely on. (Needs no /dev/kvm here: it is QEMU's software CPU.)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEndedRun, runOnEmulatedKvmHost } from "../../../../lib/reference/emulated-kvm-host/run.js";

const shared = mkdtempSync(join(tmpdir(), "emulated-kvm-host-test-"));
test.after(() => rmSync(shared, { recursive: true, force: true }));

test("a script runs on a host with a hardware-style /dev/kvm and this machine's files; its status and files come back", async () => {
  const script = join(shared, "probe.sh");
  writeFileSync(script, [
    "set -e",
    `out=${shared}/probe.txt`,
    'echo "kvm=$(stat -c %t:%T /dev/kvm)" > $out',
    'echo "pvm=$(test -e /sys/module/kvm_pvm && echo yes || echo no)" >> $out',
    'echo "kvm_amd=$(test -e /sys/module/kvm_amd && echo yes || echo no)" >> $out',
    'echo "cwd=$(pwd)" >> $out',
    'echo "node=$(node -p process.version)" >> $out',
    'echo "idle=$(pgrep -f idle-vm.js >/dev/null && echo yes || echo no)" >> $out',
    'echo "cpus=$(nproc)" >> $out',
    `echo "loopback=$(node -e 'const net = require("net"); const s = net.createServer((c) => c.end()).listen(0, "127.0.0.1", () => net.connect(s.address().port, "127.0.0.1", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); }))')" >> $out`,
    "exit 7",
  ].join("\n"));
  const run = await runOnEmulatedKvmHost({ script, shared, timeoutMs: 5 * 60_000 });
  assert.is(run.exitCode, 7, describeEndedRun(run));
  assert.not.ok(run.stalled);
  assert.not.match(run.console, /Kernel panic/, "the host powered off, it did not panic");
  const seen = Object.fromEntries(readFileSync(join(shared, "probe.txt"), "utf8").trim().split("\n").map((l) => l.split("=")));
  assert.is(seen.kvm, "a:e8", "/dev/kvm is the misc device 10:232");
  assert.is(seen.pvm, "no", "not the nested PVM hypervisor of these machines");
  assert.is(seen.kvm_amd, "yes", "KVM on (emulated) AMD SVM");
  assert.is(seen.node, process.version, "this machine's Node, through its own files");
  assert.ok(seen.cwd.length > 1, "runs in the project");
  assert.is(seen.cpus, "2", "every CPU is up once the script runs");
  assert.is(seen.idle, "yes", "the idle VM that keeps KVM's static keys on is held while the script runs");
  assert.is(seen.loopback, "connected", "127.0.0.1 answers: tests serve registries there");
});

test("a host that stops its heartbeat is ended as stalled, long before the timeout, and the script runs again on a fresh one", async () => {
  // The first try stops every child of init but the script itself (the
  // heartbeat loop among them) and sleeps; the second finds its mark and ends.
  const script = join(shared, "stall.sh");
  const mark = join(shared, "stalled-once");
  writeFileSync(script, [
    `[ -e ${mark} ] && exit 3`,
    `touch ${mark}`,
    'for p in $(pgrep -P 1 -x sh); do [ "$p" = $$ ] || kill -STOP "$p"; done',
    "sleep 600",
  ].join("\n") + "\n");
  const run = await runOnEmulatedKvmHost({ script, shared, stallMs: 20_000, timeoutMs: 5 * 60_000, stallRetries: 1 });
  assert.ok(existsSync(mark), `the first try ran: ${run.console.slice(-500)}`);
  assert.is(run.stalls, 1, describeEndedRun(run));
  assert.is(run.exitCode, 3, "the second try ran to its end");
  assert.not.ok(run.stalled, "the last host did not stall");
  assert.not.ok(run.timedOut);
});

test("a path with a space cannot go on the host's command line: one line, no VM started", async () => {
  const message = await runOnEmulatedKvmHost({ script: "/tmp/a b.sh", shared }).then(() => "no error", (err: Error) => err.message);
  assert.is(message, "emulated KVM host: script /tmp/a b.sh: must be an absolute path without spaces (it goes on a kernel command line)");
});

test.run();
