// The host's verification of guest frames: only genuine frames, in order,
// once each, make it into a result.
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestSession } from "../../../lib/guest-protocol/guest-session.js";
import { GuestProtocolError, MessageType } from "../../../lib/guest-protocol/messages.js";
import { signFrame, validRun } from "./sign.js";

const key = randomBytes(32);
const paths = ["/out/a", "/out/b"];

function feed(frames: Buffer[], k: Uint8Array = key): GuestSession {
  const session = new GuestSession(k, paths);
  session.fromStream(Buffer.concat(frames));
  return session;
}

test("a valid run decodes into a complete result", () => {
  const session = feed(validRun(key));
  const r = session.result();
  assert.ok(r.complete);
  assert.is(r.stdout.toString(), "out");
  assert.is(r.stderr.toString(), "err");
  assert.equal([r.exit?.kind, r.exit?.code, r.exit?.wallNs], ["exited", 0, 123n]);
  assert.equal(
    r.files.map((f) => [f.path, f.status, f.data.toString(), f.truncated]),
    [["/out/a", "present", "hello", false], ["/out/b", "missing", "", false]],
  );
  assert.equal([...session.ack()], [9, 0, 0, 0, 0x81, 1, 0, 0, 0, 9, 0, 0, 0]);
});

test("byte by byte arrival gives the same result", () => {
  const session = new GuestSession(key, paths);
  for (const byte of Buffer.concat(validRun(key))) session.fromStream(Buffer.from([byte]));
  assert.ok(session.result().complete);
  assert.is(session.result().stdout.toString(), "out");
});

test("changing any single byte of any frame never yields a complete result", () => {
  const frames = validRun(key);
  let thrown = 0;
  for (let f = 0; f < frames.length; f++) {
    for (let i = 0; i < frames[f]!.length; i++) {
      const tampered = frames.map((x) => Buffer.from(x));
      tampered[f]![i]! ^= 0x01;
      try {
        // A grown length field just waits for bytes that never come: incomplete.
        assert.not.ok(feed(tampered).result().complete, `frame ${f} byte ${i}`);
      } catch (error) {
        if (!(error instanceof GuestProtocolError)) throw error;
        thrown++;
      }
    }
  }
  const total = frames.reduce((n, f) => n + f.length, 0);
  assert.ok(thrown >= total - 4 * frames.length, `all but length-field changes are caught at once (${thrown} of ${total})`);
});

test("frames signed with another key are rejected", () => {
  assert.throws(() => feed(validRun(randomBytes(32))), /bad HMAC/);
});

test("replayed, reordered and dropped frames are rejected", () => {
  const f = validRun(key);
  assert.throws(() => feed([f[0]!, f[1]!, f[2]!, f[2]!]), /seq 2: already received/);
  assert.throws(() => feed([f[0]!, f[2]!, f[1]!]), /seq 2: expected seq 1/);
  assert.throws(() => feed([f[0]!, f[1]!, f[3]!]), /seq 3: expected seq 2/);
});

test("a genuine frame spliced from the middle of another run is rejected", () => {
  const stdout = signFrame(key, MessageType.STDOUT, 2, Buffer.from("fake"));
  const f = validRun(key);
  assert.throws(() => feed([f[0]!, f[1]!, stdout, stdout]), /already received/);
});

test("frames out of the protocol's order are rejected even when signed", () => {
  const s = (type: number, seq: number, p = Buffer.alloc(0)) => signFrame(key, type, seq, p);
  const ready = s(MessageType.READY, 0, Buffer.from([1, 0]));
  assert.throws(() => feed([s(MessageType.STARTED, 0)]), /started message .* not expected after hello/);
  assert.throws(() => feed([ready, s(MessageType.STDOUT, 1, Buffer.from("x"))]), /stdout message .* not expected after ready/);
  assert.throws(() => feed([ready, s(MessageType.DONE, 1), s(MessageType.DONE, 2)]), /done message .* after done/);
  const f = validRun(key);
  // DONE before every requested file was reported.
  assert.throws(() => feed([...f.slice(0, 7), s(MessageType.DONE, 7)]), /after 1 of 2 output files/);
  // More file data than the FILE header announced.
  const more = Buffer.concat([Buffer.from([0, 0, 0, 0]), Buffer.from("hello!")]);
  assert.throws(() => feed([...f.slice(0, 6), s(MessageType.FILE_DATA, 6, more)]), /more than the 5 bytes/);
});

test("an oversized length is refused before the frame is buffered", () => {
  const session = new GuestSession(key, paths);
  const huge = Buffer.alloc(4);
  huge.writeUInt32LE(1 << 30, 0);
  assert.throws(() => session.fromStream(huge), /frame length 1073741824 is out of bounds/);
});

test("malformed payloads are rejected", () => {
  const ready = signFrame(key, MessageType.READY, 0, Buffer.from([1, 0]));
  assert.throws(() => feed([ready, signFrame(key, 0x42, 1)]), /unknown type 0x42/);
  assert.throws(() => feed([ready, signFrame(key, MessageType.STARTED, 1, Buffer.from([1]))]), /STARTED .* payload is 1 bytes/);
  assert.throws(() => feed([ready, signFrame(key, MessageType.STDOUT, 1)]), /STDOUT .* 0 data bytes/);
});

test("a stream cut before DONE is incomplete, and says how many bytes were cut", () => {
  const frames = validRun(key);
  const bytes = Buffer.concat(frames.slice(0, 5));
  const session = new GuestSession(key, paths);
  session.fromStream(bytes.subarray(0, bytes.length - 3));
  assert.not.ok(session.result().complete);
  assert.is(session.result().exit, null);
  assert.is(session.streamLeftoverBytes, frames[4]!.length - 3);
  assert.throws(() => session.ack(), /no ACK before DONE/);
});

test("console lines: frames verified, junk and forgeries skipped, duplicates counted", () => {
  const frames = validRun(key);
  const line = (f: Buffer) => `bencher:${f.toString("base64")}\n`;
  const forged = signFrame(randomBytes(32), MessageType.STDOUT, 2, Buffer.from("forged"));
  const console =
    "[    1.000] kernel says hi\r\n" +
    frames.slice(0, 2).map(line).join("") +
    line(forged) +
    "bencher:not base64!\n" +
    frames.slice(0, 3).map(line).join("") + // 0 and 1 again: duplicates
    frames.slice(3).map(line).join("");
  const session = new GuestSession(key, paths);
  // In two uneven pieces: a line split across chunks must still decode.
  const cut = 777;
  const a = session.fromConsole(console.slice(0, cut));
  const b = session.fromConsole(console.slice(cut));
  const scans = [a, b];
  assert.ok(session.result().complete);
  assert.is(session.result().stdout.toString(), "out");
  assert.is(scans.reduce((n, s) => n + s.duplicates, 0), 2);
  assert.is(scans.reduce((n, s) => n + s.rejected.length, 0), 2);
  assert.equal(a.consoleLines, ["[    1.000] kernel says hi"]);
});

test("stream and console share one sequence", () => {
  const frames = validRun(key);
  const session = new GuestSession(key, paths);
  session.fromStream(Buffer.concat(frames.slice(0, 4)));
  const scan = session.fromConsole(frames.slice(2).map((f) => `bencher:${f.toString("base64")}\n`).join(""));
  assert.is(scan.duplicates, 2);
  assert.ok(session.result().complete);
});

test.run();
