// collect() against the real guest-init (host-test mode: a Unix socket
// instead of vsock, a busybox directory instead of the VM's disk): output,
// exit status, deadlines, limits and the end of the run.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { exitStatusFor, signalExitStatus } from "../../../stages/collect/exit-status.js";
import { isRoot, joined, makeRootfs, processesRunning, requestFor, runWithGuest, socketDir, socketPathIn } from "./harness.js";

let root = "";
let dir = "";
test.before(() => {
  root = makeRootfs();
  dir = socketDir();
});
test.after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

if (!isRoot) {
  test("guest-init's host test needs root: skipped", () => {});
  test.run();
  process.exit(0);
}

test("stdout and stderr stay apart and stream live, in the order they were produced", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo one; sleep 0.4; echo two >&2; sleep 0.4; echo three; exit 3"]);
  const { result, chunks, tookMs, phases } = await runWithGuest(req, { root });
  assert.ok(result.complete, result.error);
  assert.is(result.stdout.toString(), "one\nthree\n");
  assert.is(result.stderr.toString(), "two\n");
  assert.equal(chunks.map((c) => [c.stream, c.data.toString()]), [["stdout", "one\n"], ["stderr", "two\n"], ["stdout", "three\n"]]);
  assert.ok(tookMs - chunks[0]!.atMs >= 600, `the first chunk came ${tookMs - chunks[0]!.atMs} ms before the end: live, not at the end`);
  assert.is(result.exitCode, 3);
  assert.is(result.signal, null);
  assert.is(exitStatusFor(result), 3);
  assert.not.ok(result.timedOut);
  assert.is(result.error, undefined);
  assert.is(result.forgedFrames, 0);
  assert.equal(phases, ["listening", "connected", "ready", "running", "exited", "done"]);
  assert.is(result.metrics.transport, "vsock");
  assert.ok(result.metrics.runMs! >= 800 && result.metrics.runMs! < 5000, `runMs ${result.metrics.runMs}`);
  assert.ok(result.metrics.startedMs! <= result.metrics.exitedMs!);
  assert.not.ok(existsSync(req.socketPath), "the socket file is gone once the guest connected");
});

test("the ACK reaches guest-init: it exits at once and resends nothing on the console", async () => {
  const consoleLog = join(dir, "acked.log");
  writeFileSync(consoleLog, "");
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo acked"], { consoleLog });
  const { result, guest } = await runWithGuest(req, { root, consoleLog });
  assert.ok(result.complete);
  assert.is(await guest!.exited, 0, guest!.stderr());
  assert.is(readFileSync(consoleLog, "utf8"), "", "no fallback: the ACK said everything arrived");
});

test("binary output arrives byte for byte on both streams", async () => {
  const blob = randomBytes(300_000);
  writeFileSync(join(root, "data/blob"), blob);
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "cat /data/blob; cat /data/blob >&2"]);
  const { result, chunks } = await runWithGuest(req, { root });
  assert.ok(result.stdout.equals(blob));
  assert.ok(result.stderr.equals(blob));
  assert.ok(joined(chunks, "stdout").equals(blob), "the live chunks are the same bytes");
  assert.equal(result.outputBytes, { stdout: blob.length, stderr: blob.length });
});

test("a command killed by a signal reports it; its status is 128 + N", async () => {
  const { result } = await runWithGuest(requestFor(socketPathIn(dir), ["/bin/crash"]), { root });
  assert.ok(result.complete);
  assert.is(result.exitCode, null);
  assert.is(result.signal, 11);
  assert.is(exitStatusFor(result), 139);
  assert.is(signalExitStatus(9), 137);
  assert.throws(() => signalExitStatus(0), /not a signal/);
});

test("a command that cannot run is the guest's error, with Docker's 127", async () => {
  const { result } = await runWithGuest(requestFor(socketPathIn(dir), ["no-such-program"]), { root });
  assert.ok(result.complete);
  assert.match(result.guestError!, /^cannot execute no-such-program: No such file or directory/);
  assert.match(result.error!, /the guest could not run the command: cannot execute/);
  assert.is(exitStatusFor(result), 127);
});

test("the timeout stops waiting and returns what was printed so far", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo before; echo err-before >&2; sleep 30; echo after"], { timeoutMs: 1000 });
  const { result, tookMs } = await runWithGuest(req, { root });
  assert.ok(result.timedOut);
  assert.not.ok(result.complete);
  assert.is(result.stdout.toString(), "before\n");
  assert.is(result.stderr.toString(), "err-before\n");
  assert.is(result.exitCode, null);
  assert.is(result.error, undefined, "a timeout is not a runner failure");
  assert.is(exitStatusFor(result), 124);
  assert.ok(tookMs < 5000, `resolved after ${tookMs} ms`);
});

// A host that gives up before DONE sends STOP: guest-init kills the command
// with everything it started and ends (the VM resets), so a VMM run on its
// own ends with the run rather than at its own deadline.
const givingUp = [
  ["its timeout", { timeoutMs: 1000 }, ""],
  ["the coordinator's abort", {}, ""],
  // Its stdout and stderr closed, the command is waited for where STOP is still heard.
  ["its timeout, the command's outputs closed", { timeoutMs: 1000 }, "exec >&- 2>&-; "],
] as const;
for (const [how, more, closeOutputs] of givingUp) {
  test(`the host giving up (${how}) stops the guest: command and children killed, nothing more sent`, async () => {
    const consoleLog = join(dir, `stop-${how.length}.log`);
    writeFileSync(consoleLog, "");
    const controller = new AbortController();
    if (!("timeoutMs" in more)) setTimeout(() => controller.abort(new Error("interrupted")), 1000);
    const secs = 1000 + Math.floor(Math.random() * 8000); // names this run's processes apart from any others
    const req = requestFor(socketPathIn(dir), ["sh", "-c", `echo before; ${closeOutputs}sleep ${secs} & sleep ${secs + 1}`], { consoleLog, ...more });
    const { result, guest, guestEndedItself } = await runWithGuest(req, { root, consoleLog, ctx: { signal: controller.signal }, guestGraceMs: 5000 });
    assert.is(result.stdout.toString(), "before\n");
    assert.ok(guestEndedItself, "guest-init ended by itself");
    assert.is(await guest!.exited, 0);
    assert.is(processesRunning(`sleep ${secs}`) + processesRunning(`sleep ${secs + 1}`), 0, "the command and its child are gone");
    const console = readFileSync(consoleLog, "utf8");
    assert.match(console, /bencher-init: the host stopped the run: command killed/);
    assert.not.match(console, /bencher:/, "nothing resent on the console: nobody reads it");
  });
}

test("the host giving up while output files come stops the guest sending them", async () => {
  const consoleLog = join(dir, "stop-in-outputs.log");
  writeFileSync(consoleLog, "");
  const controller = new AbortController();
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "head -c 50000000 /dev/urandom > /data/stop-big"], { consoleLog }, { outputPaths: ["/data/stop-big"] });
  const { result, guest, guestEndedItself } = await runWithGuest(req, {
    root, consoleLog, guestGraceMs: 5000,
    ctx: { signal: controller.signal, onPhase: (phase) => phase === "exited" && controller.abort(new Error("interrupted")) },
  });
  rmSync(join(root, "data/stop-big"));
  assert.not.ok(result.complete);
  assert.ok(guestEndedItself, "guest-init ended by itself");
  assert.is(await guest!.exited, 0);
  const console = readFileSync(consoleLog, "utf8");
  // Seen between two files' frames, or when the host's closing the stream after STOP broke a write off.
  assert.match(console, /bencher-init: the host stopped the run: (output files not sent|nothing more sent)/, console.slice(0, 600));
  assert.not.match(console, /continuing on the serial console/);
  assert.ok(console.length < 100_000, `${console.length} bytes on the console: the file went there instead`);
});

test("boot time does not count against the timeout: it starts at STARTED", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "sleep 0.5; echo made-it"], { timeoutMs: 1200 });
  const { result } = await runWithGuest(req, { root, guestDelayMs: 1500 });
  assert.ok(result.complete, result.error);
  assert.not.ok(result.timedOut);
  assert.is(result.stdout.toString(), "made-it\n");
  assert.ok(result.metrics.connectedMs! >= 1500, `connected at ${result.metrics.connectedMs} ms`);
});

test("boot deadline: no guest ever connects", async () => {
  const req = requestFor(socketPathIn(dir), ["true"], { bootTimeoutMs: 400, timeoutMs: 100_000 });
  const { result, tookMs } = await runWithGuest(req, { root, noGuest: true });
  assert.ok(result.bootTimedOut);
  assert.not.ok(result.timedOut);
  assert.not.ok(result.complete);
  assert.match(result.error!, /^no guest connected within 0\.4 s/);
  assert.is(exitStatusFor(result), 125);
  assert.ok(tookMs >= 400 && tookMs < 3000, `took ${tookMs} ms`);
  assert.is(result.metrics.transport, "none");
  assert.not.ok(existsSync(req.socketPath), "the listening socket is removed");
});

test("boot deadline: the console's guest-init diagnostic says why", async () => {
  const consoleLog = join(dir, "boot-diag.log");
  writeFileSync(consoleLog, "[    0.000000] Linux version 6.1\nbencher-init: connect vsock port 1024: Connection reset by peer\n");
  const req = requestFor(socketPathIn(dir), ["true"], { bootTimeoutMs: 300, consoleLog });
  const { result } = await runWithGuest(req, { root, noGuest: true });
  assert.match(result.error!, /no guest connected within 0\.3 s \(guest said: bencher-init: connect vsock port 1024: Connection reset by peer\)/);
  assert.equal(result.diagnostics, ["bencher-init: connect vsock port 1024: Connection reset by peer"]);
});

test("max output size: the excess is dropped and the result says truncated", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "head -c 50000 /dev/zero; echo small >&2"], {}, { maxOutputBytes: 1000 });
  const { result, chunks } = await runWithGuest(req, { root });
  assert.ok(result.complete);
  assert.is(result.stdout.length, 1000);
  assert.is(joined(chunks, "stdout").length, 1000);
  assert.equal(result.truncated, { stdout: true, stderr: false });
  assert.is(result.stderr.toString(), "small\n");
});

test("a large flood arrives whole and in order", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "seq 1 2000000"]);
  const { result } = await runWithGuest(req, { root });
  assert.ok(result.complete);
  const lines = result.stdout.toString().split("\n");
  assert.is(lines.length, 2_000_001);
  assert.is(lines[1_999_999], "2000000");
  assert.not.ok(result.truncated.stdout);
});

test("retainOutput false: output only streams, the result keeps the counts", async () => {
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo streamed"]);
  const { result, chunks } = await runWithGuest(req, { root, ctx: { retainOutput: false } });
  assert.is(result.stdout.length, 0);
  assert.is(result.outputBytes.stdout, 9);
  assert.is(joined(chunks, "stdout").toString(), "streamed\n");
});

test("the coordinator's abort (the VM is gone) ends the run with what arrived", async () => {
  const controller = new AbortController();
  const req = requestFor(socketPathIn(dir), ["sh", "-c", "echo partial; sleep 30"]);
  setTimeout(() => controller.abort(new Error("VM exited")), 800);
  const { result, tookMs } = await runWithGuest(req, { root, ctx: { signal: controller.signal } });
  assert.not.ok(result.complete);
  assert.not.ok(result.timedOut);
  assert.is(result.stdout.toString(), "partial\n");
  assert.match(result.error!, /stopped before the guest's DONE \(VM exited\)/);
  assert.ok(tookMs < 3000);
});

test("a socket path that exists is refused, and left alone", async () => {
  const path = socketPathIn(dir);
  writeFileSync(path, "not mine");
  const { collect } = await import("../../../stages/collect/collect.js");
  await collect(requestFor(path, ["true"])).then(
    () => assert.unreachable("should refuse"),
    (err: Error) => assert.match(err.message, /cannot listen on .*: already exists/),
  );
  assert.ok(existsSync(path));
});

test.run();
