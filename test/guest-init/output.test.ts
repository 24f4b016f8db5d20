// stdout and stderr: streamed as produced, binary-exact, large, and capped.
import { readFileSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jobFor, makeRootfs, processesRunning, replay, runHostTest, text } from "./host-harness.js";

let root = "";
test.before(() => {
  root = makeRootfs();
});
test.after(() => rmSync(root, { recursive: true, force: true }));

test("stdout and stderr stay apart", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "echo out; echo err >&2; echo out2"]), { root });
  assert.is(text(run.result.stdout), "out\nout2\n");
  assert.is(text(run.result.stderr), "err\n");
});

test("binary output arrives byte for byte", async () => {
  const run = await runHostTest(jobFor(["cat", "/bin/busybox"]), { root });
  assert.ok(run.result.stdout.equals(readFileSync(`${root}/bin/busybox`)));
});

test("a flood of 40 MB on both streams arrives whole", async () => {
  const mb = 20;
  const run = await runHostTest(
    jobFor(["sh", "-c", `head -c ${mb}000000 /dev/urandom | tee /tmp/flood >&2; cat /tmp/flood`]),
    { root },
  );
  assert.is(run.result.stdout.length, mb * 1_000_000);
  assert.ok(run.result.stdout.equals(run.result.stderr));
  assert.is(run.result.exitCode, 0);
  const expected = createHash("sha256").update(readFileSync(`${root}/tmp/flood`)).digest("hex");
  assert.is(createHash("sha256").update(run.result.stdout).digest("hex"), expected);
  rmSync(`${root}/tmp/flood`);
});

test("output past the limit is counted, not sent, and the command is not blocked", async () => {
  const job = jobFor(["sh", "-c", "head -c 5000000 /dev/zero; echo done >&2"], { maxOutputBytes: 100_000 });
  const run = await runHostTest(job, { root });
  assert.ok(run.result.complete);
  assert.is(run.result.stdout.length, 100_000);
  assert.equal(run.result.truncated, { stdout: true, stderr: false });
  assert.is(text(run.result.stderr), "done\n");
  assert.ok(run.streamBytes.length < 200_000, `${run.streamBytes.length} bytes on the stream: the rest was not sent`);
  // The exact counts are in the EXIT report, which collect's result sums up as `truncated`.
  const { exit } = replay(job, { stream: run.streamBytes }).assembler;
  assert.is(exit?.stdoutDroppedBytes, 4_900_000n);
  assert.is(exit?.stderrDroppedBytes, 0n);
});

test("output is streamed as produced, so a killed run still returns it", async () => {
  const secs = 1000 + Math.floor(Math.random() * 8000); // names this run's sleep apart from any other
  const run = await runHostTest(jobFor(["sh", "-c", `echo before; sleep ${secs}; echo after`]), { root, killAfterMs: 1500 });
  assert.not.ok(run.result.complete);
  assert.is(text(run.result.stdout), "before\n");
  assert.is(run.result.metrics.exitedMs, null, "no EXIT");
  assert.ok(run.chunks[0]!.atMs < 1000, `the first output came ${run.chunks[0]!.atMs} ms after the connection`);
  // The host test's own hygiene: a killed guest-init takes its workload with it, as a VM's end would.
  // The kernel kills the rest of the command's PID namespace after its first process: allow it a moment.
  for (let i = 0; i < 100 && processesRunning(`sleep ${secs}`) > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.is(processesRunning(`sleep ${secs}`), 0, "the workload went with guest-init");
});

test("a command that closes its outputs early is still waited for", async () => {
  const run = await runHostTest(jobFor(["sh", "-c", "exec >&- 2>&-; sleep 1; exit 7"]), { root });
  assert.is(run.result.exitCode, 7);
  assert.ok(run.result.metrics.runMs! >= 1000);
});

test.run();
