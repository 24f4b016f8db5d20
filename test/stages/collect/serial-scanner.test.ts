// The serial console scanner: "bencher:<base64>" lines are frames; anything
// else, "bencher: text" included (our kernel patch prints one at every boot
// on a nested PVM host), is a console line, not a forged frame.
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestFrameVerifier } from "../../../stages/collect/frame-verifier.js";
import { SerialConsoleScanner } from "../../../stages/collect/serial-scanner.js";
import { signFrame } from "../../lib/guest-protocol/sign.js";
import { MessageType } from "../../../lib/guest-protocol/messages.js";

test("a kernel line 'bencher: text' is a console line, not a rejected frame", () => {
  const scanner = new SerialConsoleScanner(new GuestFrameVerifier(randomBytes(32)));
  const scan = scanner.push("[    8.050338] bencher: nested PVM host: user syscalls serviced from exception handlers\r\n");
  assert.equal(scan.rejected, []);
  assert.is(scan.consoleLines.length, 1);
});

test("a 'bencher:' line that is not base64 is still rejected, and a real frame still verifies", () => {
  const key = randomBytes(32);
  const scanner = new SerialConsoleScanner(new GuestFrameVerifier(key));
  const ready = signFrame(key, MessageType.READY, 0, Buffer.from([1, 0]));
  const scan = scanner.push(`bencher:not*base64\nbencher:${ready.toString("base64")}\n`);
  assert.is(scan.rejected.length, 1);
  assert.is(scan.messages.length, 1);
});

test("console lines come back without their newline or carriage return; a line cut between chunks waits for its end", () => {
  const key = randomBytes(32);
  const scanner = new SerialConsoleScanner(new GuestFrameVerifier(key));
  const ready = `bencher:${signFrame(key, MessageType.READY, 0, Buffer.from([1, 0])).toString("base64")}\r\n`;
  const first = scanner.push("[    1.000] kernel says hi\r\n" + ready.slice(0, 20));
  assert.equal(first.consoleLines, ["[    1.000] kernel says hi"]);
  assert.is(first.messages.length, 0);
  const second = scanner.push(ready.slice(20));
  assert.equal([second.messages.map((m) => m.type), second.rejected, second.consoleLines], [["ready"], [], []]);
});

test("a workload's unended console write before a frame, even 'bencher:' or a very long one, does not cost the frame", () => {
  const key = randomBytes(32);
  const scanner = new SerialConsoleScanner(new GuestFrameVerifier(key));
  const frame = (seq: number) => `bencher:${signFrame(key, MessageType.READY, seq, Buffer.from([1, 0])).toString("base64")}\n`;
  const glued = scanner.push(`bencher:${frame(0)}noise bencher:x${frame(1)}`);
  assert.equal([glued.messages.length, glued.rejected], [2, []]);
  scanner.push("y".repeat(1 << 20)); // no newline: the line goes on into the next frame
  const afterLong = scanner.push(frame(2));
  assert.equal([afterLong.messages.length, afterLong.rejected], [1, []]);
});

test.run();
