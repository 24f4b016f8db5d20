// When the stream to the host breaks, guest-init carries on over the serial
// console, and the host still gets a complete, verified result from it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeJob } from "../../lib/guest-protocol/job.js";
import { FRAME_HEADER_BYTES, JobField, MessageType } from "../../lib/guest-protocol/messages.js";
import { jobFor, makeRootfs, replay, runHostTest, text } from "./host-harness.js";

let root = "";
let work = "";
test.before(() => {
  root = makeRootfs();
  work = mkdtempSync(join(tmpdir(), "guest-init-console-"));
});
test.after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test("a stream cut after the job: every frame comes over the console, verified", async () => {
  const console = join(work, "cut.log");
  const job = jobFor(["sh", "-c", "echo to-stdout; echo to-stderr >&2; head -c 200000 /dev/urandom > /tmp/blob; exit 5"], {
    outputPaths: ["/tmp/blob", "/tmp/none"],
  });
  const run = await runHostTest(job, { root, console, cutAfterJob: true });
  const r = run.result;
  assert.ok(r.complete, JSON.stringify({ error: r.error, rejected: r.rejectedFrames, diagnostics: r.diagnostics, init: run.initStderr }));
  assert.is(r.metrics.streamFrames, 0, "nothing arrived on the stream");
  assert.is(r.metrics.transport, "serial");
  assert.is(r.forgedFrames, 0);
  assert.is(r.metrics.duplicateFrames, 0, "nothing reached the host on the stream, so nothing is a duplicate");
  assert.ok(r.diagnostics.some((l) => l.startsWith("bencher-init: stream to the host failed")), "says why");
  assert.is(text(r.stdout), "to-stdout\n");
  assert.is(text(r.stderr), "to-stderr\n");
  assert.is(r.exitCode, 5);
  assert.ok(r.files[0]!.data!.equals(readFileSync(`${root}/tmp/blob`)));
  assert.is(r.files[1]!.status, "missing");
  // Another run's key verifies none of it.
  const foreign = replay(jobFor(["x"], { outputPaths: job.outputPaths }), { console: readFileSync(console) }).intake;
  assert.is(foreign.consoleFrames, 0);
  assert.ok(foreign.forgedFrames > 5);
  rmSync(`${root}/tmp/blob`);
});

test("a stream cut mid-run: the console resends what may be lost, and stream + console make one complete result", async () => {
  const console = join(work, "midrun.log");
  const job = jobFor(["sh", "-c", "echo one; sleep 0.3; echo two; echo three >&2; exit 2"]);
  const run = await runHostTest(job, { root, console, cutAfterFrames: 3 });
  const r = run.result;
  assert.ok(r.complete, `${r.error} ${JSON.stringify(r.rejectedFrames)}`);
  assert.is(r.metrics.streamFrames, 3, "READY, STARTED, STDOUT on the stream");
  assert.ok(r.metrics.consoleFrames > 0, "the rest on the console");
  assert.is(r.metrics.transport, "vsock+serial");
  assert.is(r.forgedFrames, 0, r.rejectedFrames.join("; "));
  assert.is(r.metrics.duplicateFrames, 3, "frames 0-2 came again and were ignored");
  assert.is(text(r.stdout), "one\ntwo\n");
  assert.is(text(r.stderr), "three\n");
  assert.is(r.exitCode, 2);
});

test("no ACK after DONE: guest-init cannot know the frames arrived, so it resends them on the console", async () => {
  const console = join(work, "noack.log");
  const job = jobFor(["sh", "-c", "echo hi"]);
  const run = await runHostTest(job, { root, console, noAck: true });
  assert.ok(run.result.complete);
  assert.is(run.result.metrics.transport, "vsock");
  const resent = readFileSync(console);
  const fresh = replay(job, { console: resent });
  assert.is(fresh.intake.doneVia, "console", "the console alone holds the whole result");
  assert.is(text(fresh.assembler.output("stdout")), "hi\n");
  // A host that had every frame but DONE (collect takes nothing after DONE) finds the resent ones all duplicates.
  const done = run.streamBytes.length - (4 + 5 + 32);
  assert.is(run.streamBytes[done + 4], MessageType.DONE);
  const had = replay(job, { stream: run.streamBytes.subarray(0, done), console: resent }).intake;
  assert.equal(
    [had.duplicateFrames, had.consoleFrames, had.forgedFrames, had.doneVia],
    [fresh.intake.consoleFrames - 1, 1, 0, "console"],
    "all duplicates for the host that had them",
  );
});

test("with the ACK nothing is repeated on the console", async () => {
  const console = join(work, "ack.log");
  const run = await runHostTest(jobFor(["sh", "-c", "echo hi"]), { root, console });
  assert.ok(run.result.complete);
  assert.is(readFileSync(console, "utf8"), "");
});

test("no job key: only a plain diagnostic, no frame, non-zero exit", async () => {
  const console = join(work, "nokey.log");
  const body = Buffer.from([JobField.ARG, 2, 0, 0, 0, 0x6c, 0x73]);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32LE(5 + body.length);
  header[4] = MessageType.JOB;
  const run = await runHostTest(jobFor(["ls"]), { root, console, rawJob: Buffer.concat([header, body]) });
  assert.is(run.initExitCode, 1);
  assert.is(run.result.metrics.streamFrames, 0);
  assert.is(readFileSync(console, "utf8"), "bencher-init: job: no run key\n");
  assert.not.ok(run.result.complete);
  assert.equal(run.result.diagnostics, ["bencher-init: job: no run key"], "collect shows it, untrusted");
});

test("a bad job with a key is reported as an authenticated ERROR", async () => {
  const job = jobFor(["ls"], { workingDir: "/" });
  const frame = encodeJob(job);
  const extra = Buffer.from([42, 0, 0, 0, 0]); // unknown field
  const raw = Buffer.concat([frame, extra]);
  raw.writeUInt32LE(raw.length - 4, 0);
  const run = await runHostTest(job, { root, rawJob: raw });
  assert.ok(run.result.complete);
  assert.is(run.result.guestError, "job: unknown field 42");
});

test("a vsock-less start (nobody listening) fails with a one-line diagnostic", async () => {
  const { spawnSync } = await import("node:child_process");
  const { locateGuestInit } = await import("../../guest-init/locate.js");
  const r = spawnSync(locateGuestInit(), ["--host-test", "--socket", join(work, "nobody.sock"), "--root", root], { encoding: "utf8" });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^bencher-init: connect .*nobody\.sock: (No such file or directory|Connection refused)\n$/);
});

test.run();
