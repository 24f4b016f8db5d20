// What collect does with the guest's bytes, without sockets: only genuine
// frames, in order, once each, make it into the run, whether they came on the
// stream, the serial console, or both; a bad frame never costs the verified
// frames before it.
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { MessageType } from "../../../lib/guest-protocol/messages.js";
import { GuestIntake } from "../../../stages/collect/guest-intake.js";
import { OutputFileStore } from "../../../stages/collect/output-files.js";
import { RunAssembler } from "../../../stages/collect/run-assembler.js";
import { signFrame, validRun } from "../../lib/guest-protocol/sign.js";

const key = randomBytes(32);
const paths = ["/out/a", "/out/b"];
const MAX = 1 << 20;

/** An intake as collect builds one (files kept in memory), and a look at what it assembled. */
function intakeFor(k: Uint8Array = key) {
  const files = new OutputFileStore(paths, undefined, MAX);
  const assembler = new RunAssembler(paths.length, files, MAX, true);
  const intake = new GuestIntake(k, assembler);
  return { intake, assembler, files: () => files.finish() };
}

function feed(frames: Buffer[], k: Uint8Array = key) {
  const run = intakeFor(k);
  run.intake.fromStream(Buffer.concat(frames));
  return run;
}

const s = (type: number, seq: number, payload = Buffer.alloc(0)) => signFrame(key, type, seq, payload);
const line = (frame: Buffer) => `bencher:${frame.toString("base64")}\n`;

test("a valid run is assembled whole, and its ACK counts every frame", () => {
  const { intake, assembler, files } = feed(validRun(key));
  assert.is(intake.doneVia, "stream");
  assert.is(assembler.output("stdout").toString(), "out");
  assert.is(assembler.output("stderr").toString(), "err");
  assert.equal([assembler.exit?.kind, assembler.exit?.code, assembler.exit?.wallNs], ["exited", 0, 123n]);
  assert.equal(
    files().map((f) => [f.guestPath, f.status, f.data?.toString() ?? null, f.truncated]),
    [["/out/a", "present", "hello", false], ["/out/b", "missing", null, false]],
  );
  assert.equal([...intake.ack()], [9, 0, 0, 0, 0x81, 1, 0, 0, 0, 9, 0, 0, 0]);
  assert.equal([intake.streamFrames, intake.forgedFrames, intake.duplicateFrames], [9, 0, 0]);
});

test("byte by byte arrival gives the same result", () => {
  const { intake, assembler } = intakeFor();
  for (const byte of Buffer.concat(validRun(key))) intake.fromStream(Buffer.from([byte]));
  assert.is(intake.doneVia, "stream");
  assert.is(assembler.output("stdout").toString(), "out");
});

test("changing any single byte of any frame never yields a complete run", () => {
  const frames = validRun(key);
  let caught = 0;
  for (let f = 0; f < frames.length; f++) {
    for (let i = 0; i < frames[f]!.length; i++) {
      const tampered = frames.map((x) => Buffer.from(x));
      tampered[f]![i]! ^= 0x01;
      const { intake } = feed(tampered);
      // A grown length field just waits for bytes that never come: incomplete.
      assert.is(intake.doneVia, null, `frame ${f} byte ${i}`);
      if (intake.forgedFrames > 0) caught++;
    }
  }
  const total = frames.reduce((n, f) => n + f.length, 0);
  assert.ok(caught >= total - 4 * frames.length, `all but length-field changes are caught at once (${caught} of ${total})`);
});

test("frames signed with another key are all rejected, none taken", () => {
  const { intake, assembler } = feed(validRun(randomBytes(32)));
  assert.is(intake.streamFrames, 0);
  assert.is(intake.forgedFrames, 9);
  assert.match(intake.rejected[0]!, /seq 0: bad HMAC/);
  assert.is(assembler.phase, "hello");
});

test("a replayed frame is taken once; reordered and dropped frames are rejected", () => {
  const f = validRun(key);
  const replayed = feed([f[0]!, f[1]!, f[2]!, f[2]!, ...f.slice(3)]);
  assert.is(replayed.intake.doneVia, "stream");
  assert.is(replayed.intake.duplicateFrames, 1);
  assert.is(replayed.assembler.output("stdout").toString(), "out", "not twice");
  const reordered = feed([f[0]!, f[2]!, f[1]!]);
  assert.match(reordered.intake.rejected[0]!, /seq 2: expected seq 1/);
  const dropped = feed([f[0]!, f[1]!, f[3]!, ...f.slice(4)]);
  assert.match(dropped.intake.rejected[0]!, /seq 3: expected seq 2/);
  assert.is(dropped.intake.doneVia, null, "every frame after a gap fails its seq");
  assert.is(dropped.intake.forgedFrames, 6);
});

test("of two genuine frames with one seq only the first is taken", () => {
  const f = validRun(key);
  const spliced = s(MessageType.STDOUT, 2, Buffer.from("fake"));
  const { intake, assembler } = feed([f[0]!, f[1]!, spliced, f[2]!]);
  assert.is(intake.duplicateFrames, 1);
  assert.is(assembler.output("stdout").toString(), "fake");
});

test("a signed frame out of the protocol's order ends the run as the guest's protocol error", () => {
  const ready = s(MessageType.READY, 0, Buffer.from([1, 0]));
  assert.match(feed([s(MessageType.STARTED, 0)]).intake.protocolError!, /started message \(seq 0\) not expected in phase hello/);
  assert.match(feed([ready, s(MessageType.STDOUT, 1, Buffer.from("x"))]).intake.protocolError!, /stdout message .* not expected in phase ready/);
  assert.match(feed([ready, s(MessageType.DONE, 1)]).intake.protocolError!, /done message .* not expected in phase ready/);
  const f = validRun(key);
  // DONE before every requested file was reported.
  assert.match(feed([...f.slice(0, 7), s(MessageType.DONE, 7)]).intake.protocolError!, /after 1 of 2 output files/);
  // More file data than the FILE header announced.
  const more = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from("hello!")]);
  assert.match(feed([...f.slice(0, 6), s(MessageType.FILE_DATA, 6, more)]).intake.protocolError!, /more than the 5 bytes announced/);
});

test("once the run is over, nothing more is taken", () => {
  const f = validRun(key);
  const { intake, assembler } = feed([...f, s(MessageType.STDOUT, 9, Buffer.from("late"))]);
  assert.is(intake.doneVia, "stream");
  assert.is(intake.streamFrames, 9);
  assert.is(assembler.output("stdout").toString(), "out");
});

test("an oversized length is refused before the frame is buffered, and ends the stream's framing", () => {
  const { intake } = intakeFor();
  const huge = Buffer.alloc(4);
  huge.writeUInt32LE(1 << 30, 0);
  assert.match(intake.fromStream(huge) ?? "", /frame length 1073741824 is out of bounds/);
  assert.is(intake.streamLeftoverBytes, 0, "nothing held");
  assert.is(intake.forgedFrames, 1);
  assert.is(intake.fromStream(Buffer.concat(validRun(key))), "guest stream: frame length 1073741824 is out of bounds");
  assert.is(intake.streamFrames, 0, "no frame boundary is trusted after it");
});

test("malformed payloads are rejected", () => {
  const ready = s(MessageType.READY, 0, Buffer.from([1, 0]));
  assert.match(feed([ready, s(0x42, 1)]).intake.rejected[0]!, /unknown type 0x42/);
  assert.match(feed([ready, s(MessageType.STARTED, 1, Buffer.from([1]))]).intake.rejected[0]!, /STARTED .* payload is 1 bytes/);
  assert.match(feed([ready, s(MessageType.STDOUT, 1)]).intake.rejected[0]!, /STDOUT .* 0 data bytes/);
});

test("a stream cut before DONE is incomplete, and says how many bytes were cut", () => {
  const frames = validRun(key);
  const bytes = Buffer.concat(frames.slice(0, 5));
  const { intake, assembler } = intakeFor();
  intake.fromStream(bytes.subarray(0, bytes.length - 3));
  assert.is(intake.doneVia, null);
  assert.is(assembler.exit, null);
  assert.is(intake.streamLeftoverBytes, frames[4]!.length - 3);
  assert.throws(() => intake.ack(), /no ACK before DONE/);
});

test("verified frames before a bad one in the same chunk are all kept", () => {
  const forged = s(MessageType.STDOUT, 3, Buffer.from("forged"));
  forged[forged.length - 1]! ^= 1;
  const good = [s(MessageType.READY, 0, Buffer.from([1, 0])), s(MessageType.STARTED, 1), s(MessageType.STDOUT, 2, Buffer.from("kept"))];
  const { intake, assembler } = feed([...good, forged]);
  assert.equal([intake.streamFrames, intake.forgedFrames], [3, 1]);
  assert.is(assembler.phase, "running");
  assert.is(assembler.output("stdout").toString(), "kept");
  // The same when the bad frame is a length out of bounds: the framing ends there, not before.
  const huge = Buffer.alloc(4, 0xff);
  const cut = intakeFor();
  assert.ok(cut.intake.fromStream(Buffer.concat([...good, huge])));
  assert.is(cut.assembler.output("stdout").toString(), "kept");
});

test("console lines: frames verified, junk and forgeries skipped, duplicates counted, diagnostics kept", () => {
  const frames = validRun(key);
  const forged = signFrame(randomBytes(32), MessageType.STDOUT, 2, Buffer.from("forged"));
  const console =
    "[    1.000] kernel says hi\r\n" +
    frames.slice(0, 2).map(line).join("") +
    "bencher-init: stream to the host failed: Broken pipe\r\n" +
    line(forged) +
    "bencher:not base64!\n" +
    frames.slice(0, 3).map(line).join("") + // 0 and 1 again: duplicates
    frames.slice(3).map(line).join("");
  const { intake, assembler } = intakeFor();
  // In two uneven pieces: a line split across chunks must still decode.
  intake.fromConsole(console.slice(0, 777));
  assert.is(intake.doneVia, null);
  intake.fromConsole(console.slice(777));
  assert.is(intake.doneVia, "console");
  assert.is(assembler.output("stdout").toString(), "out");
  assert.equal([intake.consoleFrames, intake.duplicateFrames, intake.forgedFrames], [9, 2, 2]);
  assert.equal(intake.diagnostics, ["bencher-init: stream to the host failed: Broken pipe"]);
});

test("a last console line without newline counts once the console ends", () => {
  const frames = validRun(key);
  const { intake } = intakeFor();
  intake.fromConsole(frames.map(line).join("").trimEnd());
  assert.is(intake.doneVia, null);
  intake.endConsole();
  assert.is(intake.doneVia, "console");
});

test("stream and console share one sequence", () => {
  const frames = validRun(key);
  const { intake } = intakeFor();
  intake.fromStream(Buffer.concat(frames.slice(0, 4)));
  intake.fromConsole(frames.slice(2).map(line).join(""));
  assert.equal([intake.streamFrames, intake.consoleFrames, intake.duplicateFrames], [4, 5, 2]);
  assert.is(intake.doneVia, "console");
});

test.run();
