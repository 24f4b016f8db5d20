// When the stream fails, the frames come on the serial console log the VMM
// writes: collect follows that file and feeds its "bencher:" lines to the
// same verifier, so stream + console make one verified result. Console
// noise and fake "bencher:" lines (the workload can write to the console)
// are ignored.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MessageType } from "../../../lib/guest-protocol/messages.js";
import { newRunKey } from "../../../lib/guest-protocol/job.js";
import { collect } from "../../../stages/collect/collect.js";
import { exitPayload, signFrame } from "../../lib/guest-protocol/sign.js";
import { streamProxy } from "../../guest-init/host-harness.js";
import { connectFakeGuest, isRoot, makeRootfs, requestFor, runWithGuest, socketDir, socketPathIn } from "./harness.js";

const dir = socketDir();
let root = "";
test.before(() => {
  if (isRoot) root = makeRootfs();
});
test.after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (root) rmSync(root, { recursive: true, force: true });
});

const line = (frame: Buffer) => `bencher:${frame.toString("base64")}\n`;

test("fake guest: stream cut after STARTED, the rest on the console among noise and forgeries", async () => {
  const consoleLog = join(dir, "fake-console.log");
  writeFileSync(consoleLog, "[    1.234] Linux booting\n");
  const req = requestFor(socketPathIn(dir), ["x"], { consoleLog });
  const key = Buffer.from(req.keyHex!, "hex");
  const frames = [
    signFrame(key, MessageType.READY, 0, Buffer.from([1, 0])),
    signFrame(key, MessageType.STARTED, 1),
    signFrame(key, MessageType.STDOUT, 2, Buffer.from("from the console\n")),
    signFrame(key, MessageType.STDERR, 3, Buffer.from([0xff, 0x00, 0xfe])),
    signFrame(key, MessageType.EXIT, 4, exitPayload(9)),
    signFrame(key, MessageType.DONE, 5),
  ];
  const chunks: string[] = [];
  const result = await collect(req, {
    onOutput: (stream, data) => chunks.push(`${stream}:${data.toString("hex")}`),
    onPhase: async (phase) => {
      if (phase !== "listening") return;
      const g = await connectFakeGuest(req.socketPath);
      g.socket.end(Buffer.concat(frames.slice(0, 2)));
      await new Promise((r) => setTimeout(r, 300)); // the stream is gone; the console follows, in pieces
      appendFileSync(consoleLog, "bencher-init: stream to the host failed: Broken pipe\n" + line(frames[0]!) + line(frames[1]!));
      appendFileSync(consoleLog, "bencher:not-base64!!\n" + line(signFrame(newRunKey(), MessageType.STDOUT, 2, Buffer.from("forged"))));
      await new Promise((r) => setTimeout(r, 300));
      appendFileSync(consoleLog, `workload says hi ${line(signFrame(key, MessageType.STDOUT, 2, Buffer.from("forged too"))).slice(0, 30)}\n`);
      appendFileSync(consoleLog, frames.slice(2).map(line).join(""));
    },
  });
  assert.ok(result.complete, result.error);
  assert.is(result.stdout.toString(), "from the console\n");
  assert.ok(result.stderr.equals(Buffer.from([0xff, 0x00, 0xfe])));
  assert.equal(chunks, [`stdout:${Buffer.from("from the console\n").toString("hex")}`, "stderr:ff00fe"]);
  assert.is(result.exitCode, 9);
  assert.is(result.metrics.transport, "vsock+serial");
  assert.is(result.metrics.streamFrames, 2);
  assert.is(result.metrics.consoleFrames, 4);
  assert.is(result.metrics.duplicateFrames, 2, "READY and STARTED came again on the console");
  assert.is(result.forgedFrames, 3);
  assert.equal(result.diagnostics, ["bencher-init: stream to the host failed: Broken pipe"]);
});

test("fake guest: the VM goes away before DONE reaches the console; the last console look still counts", async () => {
  const consoleLog = join(dir, "late-console.log");
  writeFileSync(consoleLog, "");
  const req = requestFor(socketPathIn(dir), ["x"], { consoleLog });
  const key = Buffer.from(req.keyHex!, "hex");
  const controller = new AbortController();
  const result = await collect(req, {
    signal: controller.signal,
    onPhase: async (phase) => {
      if (phase !== "listening") return;
      const g = await connectFakeGuest(req.socketPath);
      g.socket.destroy();
      // The last line has no newline: the VM was killed right after writing it.
      appendFileSync(consoleLog, line(signFrame(key, MessageType.READY, 0, Buffer.from([1, 0]))) + line(signFrame(key, MessageType.STARTED, 1)).trimEnd());
      controller.abort(new Error("VM exited"));
    },
  });
  assert.not.ok(result.complete);
  assert.is(result.metrics.consoleFrames, 2, "both lines were read, the unterminated one too");
  assert.match(result.error!, /VM exited/);
});

if (isRoot) {
  test("real guest-init: stream cut after READY; guest-init resends on the console and collect completes from it", async () => {
    const consoleLog = join(dir, "real-console.log");
    const req = requestFor(socketPathIn(dir), ["sh", "-c", "sleep 0.5; echo one; echo two >&2; exit 4"], { consoleLog });
    const proxyPath = join(dir, "proxy.sock");
    const proxy = await streamProxy(proxyPath, req.socketPath, { cutAfterFrames: 1 }); // READY only
    try {
      const { result } = await runWithGuest(req, { root, consoleLog, guestSocket: proxyPath });
      assert.ok(result.complete, `${result.error} ${JSON.stringify(result.rejectedFrames)}`);
      assert.is(result.stdout.toString(), "one\n");
      assert.is(result.stderr.toString(), "two\n");
      assert.is(result.exitCode, 4);
      assert.is(result.metrics.transport, "vsock+serial");
      assert.is(result.metrics.streamFrames, 1);
      assert.ok(result.metrics.duplicateFrames >= 1, "READY came again");
      assert.is(result.forgedFrames, 0);
      assert.ok(result.diagnostics.some((d) => d.startsWith("bencher-init: stream to the host failed")), JSON.stringify(result.diagnostics));
    } finally {
      proxy.server.close();
    }
  });
}

test.run();
