// When the stream to the host breaks, guest-init carries on over the serial
// console, and the host still gets a complete, verified result from it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestSession } from "../../lib/guest-protocol/guest-session.js";
import { FRAME_HEADER_BYTES, JobField, MessageType } from "../../lib/guest-protocol/messages.js";
import { jobFor, makeRootfs, runHostTest, text } from "./host-harness.js";

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
  const run = await runHostTest(job, { root, console, afterJob: (socket) => socket.destroy() });
  assert.is(run.messages.length, 0, "nothing arrived on the stream");
  const session = new GuestSession(job.key, job.outputPaths);
  const scan = session.fromConsole(readFileSync(console));
  const r = session.result();
  assert.ok(r.complete, JSON.stringify({ rejected: scan.rejected, lines: scan.consoleLines, got: scan.messages.map((m) => m.type), init: run.initStderr }));
  assert.is(scan.rejected.length, 0);
  assert.ok(scan.duplicates === 0, "nothing reached the host on the stream, so nothing is a duplicate");
  assert.ok(scan.consoleLines.some((l) => l.startsWith("bencher-init: stream to the host failed")), "says why");
  assert.is(text(r.stdout), "to-stdout\n");
  assert.is(text(r.stderr), "to-stderr\n");
  assert.is(r.exit?.code, 5);
  assert.ok(r.files[0]!.data.equals(readFileSync(`${root}/tmp/blob`)));
  assert.is(r.files[1]!.status, "missing");
  // Another run's key verifies none of it.
  const other = new GuestSession(jobFor(["x"]).key, job.outputPaths);
  const foreign = other.fromConsole(readFileSync(console));
  assert.is(foreign.messages.length, 0);
  assert.ok(foreign.rejected.length > 5);
  rmSync(`${root}/tmp/blob`);
});

test("a stream cut mid-run: the console resends what may be lost, and stream + console make one complete result", async () => {
  const console = join(work, "midrun.log");
  const job = jobFor(["sh", "-c", "echo one; sleep 0.3; echo two; echo three >&2; exit 2"]);
  const run = await runHostTest(job, { root, console, cutAfterMessages: 3 });
  assert.equal(run.messages.map((m) => m.type), ["ready", "started", "stdout"]);
  assert.not.ok(run.session.done);
  const scan = run.session.fromConsole(readFileSync(console));
  assert.is(scan.rejected.length, 0, scan.rejected.join("; "));
  assert.is(scan.duplicates, 3, "frames 0-2 came again and were ignored");
  const r = run.session.result();
  assert.ok(r.complete);
  assert.is(text(r.stdout), "one\ntwo\n");
  assert.is(text(r.stderr), "three\n");
  assert.is(r.exit?.code, 2);
});

test("no ACK after DONE: guest-init cannot know the frames arrived, so it resends them on the console", async () => {
  const console = join(work, "noack.log");
  const job = jobFor(["sh", "-c", "echo hi"]);
  const run = await runHostTest(job, { root, console, noAck: true });
  assert.ok(run.session.done);
  const fresh = new GuestSession(job.key, []);
  const scan = fresh.fromConsole(readFileSync(console));
  assert.ok(fresh.result().complete, "the console alone holds the whole result");
  assert.is(text(fresh.result().stdout), "hi\n");
  assert.is(run.session.fromConsole(readFileSync(console)).duplicates, scan.messages.length, "all duplicates for the host that had them");
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
  assert.is(run.messages.length, 0);
  assert.is(readFileSync(console, "utf8"), "bencher-init: job: no run key\n");
});

test("a bad job with a key is reported as an authenticated ERROR", async () => {
  const job = jobFor(["ls"], { workingDir: "/" });
  const frame = Buffer.from(
    (await import("../../lib/guest-protocol/job.js")).encodeJob(job),
  );
  const extra = Buffer.from([42, 0, 0, 0, 0]); // unknown field
  const raw = Buffer.concat([frame, extra]);
  raw.writeUInt32LE(raw.length - 4, 0);
  const run = await runHostTest(job, { root, rawJob: raw });
  assert.ok(run.result.complete);
  assert.is(run.result.error, "job: unknown field 42");
});

test("a vsock-less start (nobody listening) fails with a one-line diagnostic", async () => {
  const { spawnSync } = await import("node:child_process");
  const { locateGuestInit } = await import("../../guest-init/locate.js");
  const r = spawnSync(locateGuestInit(), ["--host-test", "--socket", join(work, "nobody.sock"), "--root", root], { encoding: "utf8" });
  assert.is(r.status, 1);
  assert.match(r.stderr, /^bencher-init: connect .*nobody\.sock: (No such file or directory|Connection refused)\n$/);
});

test.run();
