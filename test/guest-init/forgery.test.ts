// Frames from a real guest-init run, tampered with on the way: the host codec
// must refuse every variant, and accept the untouched stream.
import { rmSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestSession } from "../../lib/guest-protocol/guest-session.js";
import { GuestProtocolError } from "../../lib/guest-protocol/messages.js";
import { jobFor, makeRootfs, runHostTest } from "./host-harness.js";

let root = "";
let key: Uint8Array;
let frames: Buffer[] = [];
const outputs = ["/etc/group"];

test.before(async () => {
  root = makeRootfs();
  const job = jobFor(["sh", "-c", "echo result=42; echo warn >&2; exit 0"], { outputPaths: outputs });
  key = job.key;
  const run = await runHostTest(job, { root });
  assert.ok(run.result.complete);
  for (let at = 0; at < run.streamBytes.length; ) {
    const len = run.streamBytes.readUInt32LE(at);
    frames.push(run.streamBytes.subarray(at, at + 4 + len));
    at += 4 + len;
  }
});
test.after(() => rmSync(root, { recursive: true, force: true }));

function outcome(bytes: Buffer[]): "complete" | "incomplete" | "rejected" {
  const session = new GuestSession(key, outputs);
  try {
    session.fromStream(Buffer.concat(bytes));
  } catch (error) {
    if (error instanceof GuestProtocolError) return "rejected";
    throw error;
  }
  return session.result().complete ? "complete" : "incomplete";
}

test("the untouched stream verifies", () => {
  assert.ok(frames.length >= 7);
  assert.is(outcome(frames), "complete");
});

test("a rewritten stdout (result=43) is rejected", () => {
  const forged = frames.map((f) => Buffer.from(f));
  const stdout = forged.find((f) => f.includes("result=42"))!;
  stdout.write("result=43", stdout.indexOf("result=42"));
  assert.is(outcome(forged), "rejected");
});

test("a rewritten exit code is rejected", () => {
  const forged = frames.map((f) => Buffer.from(f));
  const exit = forged.find((f) => f[4] === 0x05)!;
  exit[10] = 1; // value:u32 starts after the 9-byte header and how:u8
  assert.is(outcome(forged), "rejected");
});

test("dropping, repeating or swapping frames is rejected; cutting leaves it incomplete", () => {
  const stdout = frames.findIndex((f) => f[4] === 0x03);
  assert.is(outcome([...frames.slice(0, stdout), ...frames.slice(stdout + 1)]), "rejected");
  assert.is(outcome([...frames.slice(0, stdout + 1), frames[stdout]!, ...frames.slice(stdout + 1)]), "rejected");
  const swapped = [...frames];
  [swapped[stdout], swapped[stdout + 1]] = [swapped[stdout + 1]!, swapped[stdout]!];
  assert.is(outcome(swapped), "rejected");
  assert.is(outcome(frames.slice(0, -1)), "incomplete");
});

test("a frame from another run with the same seq is rejected", async () => {
  const other = jobFor(["sh", "-c", "echo result=43"], { outputPaths: outputs });
  const run = await runHostTest(other, { root });
  const theirs = run.streamBytes.subarray(0, run.streamBytes.readUInt32LE(0) + 4);
  assert.is(outcome([theirs, ...frames.slice(1)]), "rejected");
});

test.run();
