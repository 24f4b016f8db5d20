// The --json shape: UTF-8 text always, exact bytes as a base64 twin only where
// the bytes are not UTF-8, outputs as content or null.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CollectResult } from "../../../stages/collect/collect.js";
import { toJsonResult } from "../../../stages/collect/json-result.js";

function resultWith(more: Partial<CollectResult>): CollectResult {
  return {
    complete: true, exitCode: 0, signal: null, timedOut: false, bootTimedOut: false,
    stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputBytes: { stdout: 0, stderr: 0 },
    truncated: { stdout: false, stderr: false }, outputs: {}, files: [],
    metrics: { wallMs: 5, connectedMs: 1, bootMs: 2, startedMs: 3, exitedMs: 4, runMs: 1.5, userMs: 0, sysMs: 0, maxRssKiB: 100, transport: "vsock", streamFrames: 5, consoleFrames: 0, duplicateFrames: 0 },
    forgedFrames: 0, rejectedFrames: [], guestError: null, diagnostics: [],
    ...more,
  };
}

test("valid UTF-8 is text only; other bytes get an exact base64 twin", () => {
  const json = toJsonResult(resultWith({ stdout: Buffer.from("héllo ✓\n"), stderr: Buffer.from([0x61, 0xff, 0x00]) }));
  assert.is(json.stdout, "héllo ✓\n");
  assert.not.ok("stdoutBase64" in json);
  assert.is(json.stderr, "a\ufffd\u0000");
  assert.is(json.stderrBase64, Buffer.from([0x61, 0xff, 0x00]).toString("base64"));
  assert.not.ok("error" in json);
  const roundTrip = JSON.parse(JSON.stringify(json));
  assert.is(roundTrip.metrics.transport, "vsock");
  assert.is(roundTrip.metrics.runMs, 1.5);
});

test("outputs: content for files brought back, null for the rest; cut files listed", () => {
  const json = toJsonResult(resultWith({
    files: [
      { guestPath: "/a", status: "present", size: 2, bytes: 2, truncated: false, hostPath: null, data: Buffer.from("hi") },
      { guestPath: "/b", status: "missing", size: 0, bytes: 0, truncated: false, hostPath: null, data: null },
      { guestPath: "/c", status: "present", size: 9, bytes: 1, truncated: true, hostPath: null, data: Buffer.from([0xc3]) },
    ],
    timedOut: true,
    exitCode: null,
    error: "something",
  }));
  assert.equal(json.outputs, { "/a": "hi", "/b": null, "/c": "\ufffd" });
  assert.equal(json.outputsBase64, { "/c": "ww==" });
  assert.equal(json.truncated, { stdout: false, stderr: false, outputs: ["/c"] });
  assert.is(json.timedOut, true);
  assert.is(json.exitCode, null);
  assert.is(json.error, "something");
});

test.run();
