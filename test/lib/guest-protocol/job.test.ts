// The JOB frame: its exact bytes, and refusal of jobs guest-init would reject.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeJob, newRunKey, type GuestJob } from "../../../lib/guest-protocol/job.js";
import { JobField, MessageType } from "../../../lib/guest-protocol/messages.js";

function job(more: Partial<GuestJob> = {}): GuestJob {
  return {
    argv: ["/bin/echo", "hé"],
    env: ["A=1"],
    workingDir: "/w",
    user: "1000:1000",
    outputPaths: ["/o"],
    rootfsType: "squashfs",
    maxOutputBytes: 10,
    maxFileBytes: 2n ** 40n,
    key: Buffer.alloc(32, 7),
    ...more,
  };
}

/** Reads the fields back as guest-init does. */
function fields(frame: Buffer): [number, Buffer][] {
  assert.is(frame.readUInt32LE(0), frame.length - 4);
  assert.is(frame[4], MessageType.JOB);
  assert.is(frame.readUInt32LE(5), 0);
  const out: [number, Buffer][] = [];
  for (let at = 9; at < frame.length; ) {
    const len = frame.readUInt32LE(at + 1);
    out.push([frame[at]!, frame.subarray(at + 5, at + 5 + len)]);
    at += 5 + len;
  }
  return out;
}

test("encodes every field, in order, as tag/length/value", () => {
  const f = fields(encodeJob(job()));
  const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  assert.equal(
    f.map(([tag, v]) => [tag, v.toString("hex")]),
    [
      [JobField.KEY, "07".repeat(32)],
      [JobField.ARG, Buffer.from("/bin/echo").toString("hex")],
      [JobField.ARG, Buffer.from("hé").toString("hex")],
      [JobField.ENV, Buffer.from("A=1").toString("hex")],
      [JobField.WORKDIR, Buffer.from("/w").toString("hex")],
      [JobField.USER, Buffer.from("1000:1000").toString("hex")],
      [JobField.OUTPUT, Buffer.from("/o").toString("hex")],
      [JobField.ROOTFS_TYPE, Buffer.from("squashfs").toString("hex")],
      [JobField.MAX_OUTPUT, u64(10n).toString("hex")],
      [JobField.MAX_FILE, u64(2n ** 40n).toString("hex")],
    ],
  );
});

test("run keys are 32 random bytes, different each time", () => {
  const a = newRunKey();
  assert.is(a.length, 32);
  assert.not.equal(a, newRunKey());
});

test("refuses jobs guest-init could not run, naming what is wrong", () => {
  const bad: [Partial<GuestJob>, RegExp][] = [
    [{ argv: [] }, /argv is empty/],
    [{ argv: ["a\0b"] }, /argv\[0\] .* contains a NUL/],
    [{ env: ["NOEQUALS"] }, /env entry "NOEQUALS" is not NAME=value/],
    [{ env: ["=x"] }, /env entry "=x" is not NAME=value/],
    [{ workingDir: "rel" }, /working directory "rel" is not absolute/],
    [{ outputPaths: ["out.txt"] }, /output path "out.txt" is not absolute/],
    [{ key: Buffer.alloc(16) }, /key must be 32 bytes/],
    [{ rootfsType: "xfs" as never }, /rootfs type "xfs"/],
    [{ maxOutputBytes: -1 }, /max output bytes -1/],
    [{ maxFileBytes: 1.5 }, /max file bytes 1.5/],
    [{ argv: ["x".repeat(1 << 20)] }, /more than the 1048576 allowed/],
  ];
  for (const [change, message] of bad) assert.throws(() => encodeJob(job(change)), message);
});

test.run();
