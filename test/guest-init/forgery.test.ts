// Frames from a real guest-init run, tampered with on the way: collect's
// intake must refuse every variant, and take the untouched stream whole.
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { GuestJob } from "../../lib/guest-protocol/job.js";
import { jobFor, makeRootfs, replay, runHostTest } from "./host-harness.js";

let root = "";
let job: GuestJob;
let frames: Buffer[] = [];

test.before(async () => {
  root = makeRootfs();
  job = jobFor(["sh", "-c", "echo result=42; echo warn >&2; exit 0"], { outputPaths: ["/etc/group"] });
  const run = await runHostTest(job, { root });
  assert.ok(run.result.complete, run.result.error);
  for (let at = 0; at < run.streamBytes.length; ) {
    const len = run.streamBytes.readUInt32LE(at);
    frames.push(run.streamBytes.subarray(at, at + 4 + len));
    at += 4 + len;
  }
});
test.after(() => rmSync(root, { recursive: true, force: true }));

/** What collect makes of these bytes on its stream. */
function outcome(bytes: Buffer[]): { complete: boolean; forged: number; duplicates: number; stdout: string } {
  const { intake, assembler } = replay(job, { stream: Buffer.concat(bytes) });
  return {
    complete: intake.doneVia !== null,
    forged: intake.forgedFrames,
    duplicates: intake.duplicateFrames,
    stdout: assembler.output("stdout").toString(),
  };
}

/** Tampering is caught (a frame fails verification) and the run never completes. */
function assertRejected(bytes: Buffer[], what: string): void {
  const o = outcome(bytes);
  assert.not.ok(o.complete, what);
  assert.ok(o.forged > 0, what);
}

test("the untouched stream verifies", () => {
  assert.ok(frames.length >= 7);
  assert.equal(outcome(frames), { complete: true, forged: 0, duplicates: 0, stdout: "result=42\n" });
});

test("a rewritten stdout (result=43) is rejected", () => {
  const forged = frames.map((f) => Buffer.from(f));
  const stdout = forged.find((f) => f.includes("result=42"))!;
  stdout.write("result=43", stdout.indexOf("result=42"));
  assertRejected(forged, "rewritten stdout");
  assert.not.match(outcome(forged).stdout, /43/);
});

test("a rewritten exit code is rejected", () => {
  const forged = frames.map((f) => Buffer.from(f));
  const exit = forged.find((f) => f[4] === 0x05)!;
  exit[10] = 1; // value:u32 starts after the 9-byte header and how:u8
  assertRejected(forged, "rewritten exit code");
});

test("dropping or swapping frames is rejected; a repeated frame is taken once; cutting leaves it incomplete", () => {
  const stdout = frames.findIndex((f) => f[4] === 0x03);
  assertRejected([...frames.slice(0, stdout), ...frames.slice(stdout + 1)], "dropped");
  const swapped = [...frames];
  [swapped[stdout], swapped[stdout + 1]] = [swapped[stdout + 1]!, swapped[stdout]!];
  assertRejected(swapped, "swapped");
  const repeated = outcome([...frames.slice(0, stdout + 1), frames[stdout]!, ...frames.slice(stdout + 1)]);
  assert.equal(repeated, { complete: true, forged: 0, duplicates: 1, stdout: "result=42\n" }, "the repeat is a duplicate, never output twice");
  assert.equal(outcome(frames.slice(0, -1)), { complete: false, forged: 0, duplicates: 0, stdout: "result=42\n" });
});

test("a frame from another run with the same seq is rejected", async () => {
  const other = jobFor(["sh", "-c", "echo result=43"], { outputPaths: job.outputPaths });
  const run = await runHostTest(other, { root });
  const theirs = run.streamBytes.subarray(0, run.streamBytes.readUInt32LE(0) + 4);
  assertRejected([theirs, ...frames.slice(1)], "foreign READY");
});

test.run();
