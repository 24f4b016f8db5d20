// How a run's outcome becomes the exit status, the runner-failure line, the
// stderr notes and the --json document (its schema is in the README).
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CollectResult } from "../../stages/collect/collect.js";
import type { BootResult } from "../../stages/boot/boot.js";
import { runnerFailure, statusFor, vmEnding, whyNotReturned, type PipelineResult } from "../../bin/pipeline/result.js";
import { toJsonDocument } from "../../bin/pipeline/json-document.js";
import { statusNotes } from "../../bin/commands/pipeline.js";

function collected(over: Partial<CollectResult> = {}): CollectResult {
  return {
    complete: true, exitCode: 0, signal: null, timedOut: false, bootTimedOut: false,
    stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputBytes: { stdout: 0, stderr: 0 },
    truncated: { stdout: false, stderr: false }, outputs: {}, files: [],
    metrics: { wallMs: 1, connectedMs: 1, bootMs: 1, startedMs: 1, exitedMs: 1, runMs: 1, userMs: 0, sysMs: 0, maxRssKiB: 1, transport: "vsock", streamFrames: 5, consoleFrames: 0, duplicateFrames: 0 },
    forgedFrames: 0, rejectedFrames: [], guestError: null, diagnostics: [],
    ...over,
  };
}

const bootEnded = (exitReason: BootResult["exitReason"], detail?: string): BootResult => ({ exitReason, wallMs: 1, startupMs: 1, assists: {}, ...(detail ? { detail } : {}) });

function status(c: CollectResult, boot: BootResult | null = bootEnded("reset"), bootError?: string): number {
  return statusFor(c, runnerFailure(c, boot, bootError));
}

test("exit status: the command's code, 128+N on signal N, 124 on timeout", () => {
  assert.is(status(collected()), 0);
  assert.is(status(collected({ exitCode: 42 })), 42);
  assert.is(status(collected({ exitCode: null, signal: 9 })), 137);
  assert.is(status(collected({ exitCode: null, signal: 11 })), 139);
  assert.is(status(collected({ exitCode: null, timedOut: true, complete: false })), 124);
});

test("exit status: 127 not found, 126 not executable (as docker run)", () => {
  const base = { exitCode: null, complete: true };
  assert.is(status(collected({ ...base, guestError: "cannot execute nope: No such file or directory" })), 127);
  assert.is(status(collected({ ...base, guestError: "cannot execute /etc/passwd: Permission denied" })), 126);
});

test("exit status 125 and one line when the runner failed", () => {
  const noGuest = collected({ exitCode: null, complete: false, bootTimedOut: true, error: "no guest connected within 300 s" });
  assert.is(status(noGuest, bootEnded("aborted")), 125);
  assert.is(runnerFailure(noGuest, bootEnded("aborted"), undefined), "no guest connected within 300 s");
  const crashed = collected({ exitCode: null, complete: false, error: "the run was stopped before the guest's DONE (the VM stopped (triple-fault))" });
  assert.match(runnerFailure(crashed, bootEnded("triple-fault", "at rip 0x0"), undefined)!, /VM ended: triple-fault \(at rip 0x0\)$/);
  const vmmFailed = collected({ exitCode: null, complete: false, error: "the run was stopped" });
  assert.match(runnerFailure(vmmFailed, null, "boot: KVM_CREATE_VM: EBUSY")!, /^boot failed: boot: KVM_CREATE_VM: EBUSY; the run was stopped$/);
  const badUser = collected({ exitCode: null, guestError: "unknown user nosuch" });
  assert.is(status(badUser), 125);
  assert.match(runnerFailure(badUser, bootEnded("reset"), undefined)!, /unknown user nosuch/);
});

test("a guest kernel panic is the reason, not an ordinary reset or a broken stream", () => {
  const gone = collected({ complete: false, exitCode: null, error: "the VM stopped (reset) before the command's result arrived" });
  const panicked: BootResult = { ...bootEnded("reset"), panic: "sysrq triggered crash" };
  const failure = runnerFailure(gone, panicked, undefined)!;
  assert.is(failure, "guest kernel panicked: sysrq triggered crash");
  assert.is(statusFor(gone, failure), 125);
});

test("a command that exited is not a runner failure even if a file was cut off after it", () => {
  const c = collected({ exitCode: 3, complete: false, error: "the guest's stream ended before DONE" });
  assert.is(runnerFailure(c, bootEnded("aborted"), undefined), undefined);
  assert.is(status(c), 3);
});

function pipelineResult(over: Partial<PipelineResult> = {}): PipelineResult {
  return {
    status: 0, exitCode: 0, signal: null, timedOut: false, stdout: Buffer.from("hello\n"), stderr: Buffer.alloc(0),
    truncated: { stdout: false, stderr: false, outputs: [] }, outputs: {}, notReturned: {}, savedOutputs: {},
    metrics: { wallMs: 10, prepareMs: 0, bootMs: 5, runMs: 1, userMs: 0, sysMs: 0, maxRssKiB: 100, transport: "vsock", kernelBootMs: 4, vmMs: 8 },
    image: { digest: "sha256:" + "a".repeat(64), cached: true }, guestError: null, forgedFrames: 0, vm: { exitReason: "reset" },
    ...over,
  };
}

test("vm ending: a VM the runner stopped after collect is 'stopped', not 'aborted'", () => {
  const tail = { consoleTail: "[ 1.0] last line" };
  assert.equal(vmEnding({ ...bootEnded("aborted", "Error: boot stopped by SIGTERM"), ...tail }, true, undefined),
    { exitReason: "stopped", detail: "stopped by the runner once collect had finished" });
  // Stopped for another reason (the user's interrupt, collect never listening): the stage's word stands.
  assert.equal(vmEnding(bootEnded("aborted", "Error: boot stopped by SIGTERM"), false, undefined), { exitReason: "aborted", detail: "Error: boot stopped by SIGTERM" });
  // The VM had ended on its own before collect finished: its own reason, and the console tail when the run failed.
  assert.equal(vmEnding({ ...bootEnded("triple-fault", "at rip 0x0"), ...tail }, true, "no DONE"), { exitReason: "triple-fault", detail: "at rip 0x0", ...tail });
  assert.equal(vmEnding({ ...bootEnded("reset"), ...tail }, false, undefined), { exitReason: "reset" });
});

test("--json: text fields, base64 twins only for bytes that are not UTF-8", () => {
  const binary = Buffer.from([0, 0xff, 0xfe, 0x41]);
  const doc = toJsonDocument(pipelineResult({
    stdout: binary, stderr: Buffer.from("héllo\n"),
    outputs: { "/a.txt": Buffer.from("text"), "/b.bin": binary, "/missing": null },
    notReturned: { "/missing": "no such file in the guest" },
  }));
  assert.equal(doc.outputsNotReturned, { "/missing": "no such file in the guest" }, "why it is null");
  assert.is(doc.schema, 1);
  assert.is(doc.stdoutBase64, binary.toString("base64"));
  assert.is(doc.stderr, "héllo\n");
  assert.is(doc.stderrBase64, undefined);
  assert.equal(doc.outputs, { "/a.txt": "text", "/b.bin": binary.toString("utf8"), "/missing": null });
  assert.equal(doc.outputsBase64, { "/b.bin": binary.toString("base64") });
  // A JSON round trip keeps every byte through the twin.
  const back = JSON.parse(JSON.stringify(doc));
  assert.ok(Buffer.from(back.stdoutBase64, "base64").equals(binary));
});

test("--json: every documented field is there, nothing undefined", () => {
  const doc = toJsonDocument(pipelineResult());
  for (const key of ["schema", "status", "exitCode", "signal", "timedOut", "stdout", "stderr", "truncated", "outputs", "metrics", "image", "forgedFrames", "vm"]) {
    assert.ok(key in doc, key);
  }
  for (const key of ["wallMs", "prepareMs", "bootMs", "runMs", "transport"]) assert.ok(key in doc.metrics, key);
  assert.not.ok("error" in doc);
  assert.not.ok("stdoutBase64" in doc);
  assert.not.ok("outputsNotReturned" in doc, "only when an output is null");
  const failed = toJsonDocument(pipelineResult({ status: 125, exitCode: null, error: "no guest connected within 300 s" }));
  assert.is(failed.error, "no guest connected within 300 s");
});

test("stderr notes explain a timeout, a runner failure and truncation", () => {
  assert.equal(statusNotes(pipelineResult(), undefined), []);
  assert.equal(statusNotes(pipelineResult({ status: 124, timedOut: true, exitCode: null }), 5), ["the command timed out after 5 s and was stopped"]);
  assert.equal(statusNotes(pipelineResult({ status: 125, error: "boom" }), undefined), ["boom"]);
  // A VM that ended badly: the end of its console (the run directory is gone), first partial line dropped.
  const consoleTail = "ial line\r\n" + Array.from({ length: 20 }, (_, i) => `[ ${i}.0] line ${i}`).join("\r\n") + "\r\n\r\n";
  const vm = { exitReason: "triple-fault" as const, consoleTail };
  assert.equal(statusNotes(pipelineResult({ status: 125, error: "VM ended: triple-fault", vm }), undefined), [
    "VM ended: triple-fault",
    "the guest's console, last 12 lines:",
    ...Array.from({ length: 12 }, (_, i) => `  | [ ${i + 8}.0] line ${i + 8}`),
  ]);
  // guest-init said why the command could not run: its words, not the kernel's last lines.
  const workdir = "the guest could not run the command: working directory /etc/passwd: Not a directory";
  assert.equal(statusNotes(pipelineResult({ status: 125, error: workdir, guestError: "working directory /etc/passwd: Not a directory", vm }), undefined), [workdir]);
  assert.equal(
    statusNotes(pipelineResult({ truncated: { stdout: true, stderr: false, outputs: ["/f"] } }), undefined),
    ["stdout was cut short at --max-output-size", "output file /f was cut short"],
  );
  // A file that did not come back from a command that ran: why; after a timeout or failure, that note alone.
  const notReturned = { "/missing": "no such file in the guest" };
  assert.equal(statusNotes(pipelineResult({ notReturned }), undefined), ["output file /missing was not brought back: no such file in the guest"]);
  assert.equal(statusNotes(pipelineResult({ status: 124, timedOut: true, exitCode: null, notReturned }), 5), ["the command timed out after 5 s and was stopped"]);
  assert.equal(statusNotes(pipelineResult({ status: 125, error: "boom", notReturned }), undefined), ["boom"]);
});

test("why an output did not come back, in words", () => {
  assert.equal(
    (["missing", "not-regular", "unreadable", "not-received"] as const).map(whyNotReturned),
    ["no such file in the guest", "not a regular file in the guest", "the guest could not read it", "the run ended before the guest sent it"],
  );
});

test.run();
