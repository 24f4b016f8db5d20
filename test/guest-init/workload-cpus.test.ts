// guest-init keeps the workload on the CPUs it was given (bencher.cpus= in
// the guest, --cpus here), and so everything the workload starts; a list it
// cannot use is an ERROR frame, not a silent run elsewhere.
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { allowedCpus } from "../../lib/cpu-affinity/pinning.js";
import { jobFor, makeRootfs, runHostTest, text } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

const allowedLine = 'grep Cpus_allowed_list /proc/self/status; sh -c "grep Cpus_allowed_list /proc/self/status"';

test("the workload and its children run only on the given CPU", async () => {
  const cpu = allowedCpus().at(-1)!;
  const run = await runHostTest(jobFor(["sh", "-c", allowedLine]), { root, cpus: String(cpu) });
  assert.ok(run.result.complete, `${run.result.error} ${run.initStderr}`);
  assert.is(text(run.result.stdout), `Cpus_allowed_list:\t${cpu}\n`.repeat(2));
});

test("without a list the workload keeps every CPU guest-init has", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", allowedLine]), { root });
  const lines = text(run.result.stdout).trim().split("\n");
  assert.is(lines.length, 2);
  // More than one CPU shows as a range or a list, never a lone number.
  if (allowedCpus().length > 1) for (const line of lines) assert.match(line, /^Cpus_allowed_list:\t\d+[-,]/);
});

test("a malformed list or a CPU that does not exist: ERROR, the command never runs", async () => {
  const bad = await runHostTest(jobFor(["echo", "ran"]), { root, cpus: "1-" });
  assert.match(bad.result.error ?? "", /bencher\.cpus=1-: expected a CPU list such as 1 or 1-3/);
  assert.is(text(bad.result.stdout), "");
  const absent = await runHostTest(jobFor(["echo", "ran"]), { root, cpus: "127" });
  assert.match(absent.result.error ?? "", /run on CPUs 127: Invalid argument/);
  assert.is(text(absent.result.stdout), "");
});

test.run();
