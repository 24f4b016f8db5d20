// The boot stage's VM suites on a hardware-KVM host: each suite runs
// unchanged on the emulated host (lib/reference/emulated-kvm-host), whose
// /dev/kvm is KVM on (emulated) AMD SVM, so the VMM is proved on the kind of
// KVM users have as well as on these machines' nested PVM. They run as the
// test runner runs VM files there (test/emulated-host-files.ts), under the
// same rules: a file that fails runs once more on a fresh host, because
// QEMU's software CPU under nested SVM now and then faults a guest on its
// own; one that fails twice fails here.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { basename } from "node:path";
import { runFilesInEmulatedHost } from "../../emulated-host-files.js";
import { HARDWARE_KVM_SUITE_FILES } from "./hardware-kvm-suites.js";

// About 3 min for all of them; a suite still running after this has hung.
const SUITE_LIMIT_MS = 240_000;

test("every boot-stage VM suite passes on a hardware-KVM host", async () => {
  const runs = await runFilesInEmulatedHost(HARDWARE_KVM_SUITE_FILES, SUITE_LIMIT_MS);
  const name = (file: string) => basename(file);
  for (const run of runs) {
    if (run.firstTry !== undefined) console.log(`${name(run.file)}: failed on its first try, ran again on a fresh host; the first try:\n${run.firstTry.slice(-3000)}`);
    assert.is(run.code, 0, `${name(run.file)}:\n${run.out.slice(-3000)}`);
    assert.match(run.out, /Skipped:\s+0/, `${name(run.file)} skipped tests`);
    assert.ok(Number(/Total:\s+(\d+)/.exec(run.out)?.[1]) > 0, `${name(run.file)} ran no test`);
  }
  assert.is(runs.length, HARDWARE_KVM_SUITE_FILES.length, "every suite has a result");
});

test.run();
