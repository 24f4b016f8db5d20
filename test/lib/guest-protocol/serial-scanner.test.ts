// Console lines that mention "bencher: " as text (our kernel patch prints one
// at every boot on a nested PVM host) are console lines, not forged frames.
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GuestFrameVerifier } from "../../../lib/guest-protocol/frame-verifier.js";
import { SerialConsoleScanner } from "../../../lib/guest-protocol/serial-scanner.js";
import { signFrame } from "./sign.js";
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

test.run();
