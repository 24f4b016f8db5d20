// A guest that lies: a fake guest written here sends hand-made frames
// (test/lib/guest-protocol/sign.ts builds them as guest-init does) with bad
// MACs, wrong seqs, bad lengths, output past the limit, broken order, or
// silence. Forged frames are counted, described and ignored; nothing breaks
// the host's limits.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:net";
import { MessageType } from "../../../lib/guest-protocol/messages.js";
import { newRunKey } from "../../../lib/guest-protocol/job.js";
import { collect, type CollectResult } from "../../../stages/collect/collect.js";
import type { CollectRequest } from "../../../stages/collect/request.js";
import { exitPayload, fileData, filePayload, signFrame } from "../../lib/guest-protocol/sign.js";
import { connectFakeGuest, requestFor, socketDir, socketPathIn } from "./harness.js";

const dir = socketDir();
test.after(() => rmSync(dir, { recursive: true, force: true }));

const READY = Buffer.from([1, 0]);
const NONE = Buffer.alloc(0);

/** Runs collect with a fake guest: `guest` gets the key and a connected socket once collect listens. */
async function withFakeGuest(
  req: CollectRequest,
  guest: (key: Buffer, g: Awaited<ReturnType<typeof connectFakeGuest>>) => Promise<void> | void,
): Promise<{ result: CollectResult; ack: Buffer }> {
  const key = Buffer.from(req.keyHex!, "hex");
  let fake: Awaited<ReturnType<typeof connectFakeGuest>> | null = null;
  let guestDone: Promise<void> = Promise.resolve();
  const result = await collect(req, {
    onPhase: (phase) => {
      if (phase !== "listening") return;
      guestDone = connectFakeGuest(req.socketPath).then(async (g) => {
        fake = g;
        assert.is(g.job[4], MessageType.JOB);
        await guest(key, g);
      });
    },
  });
  await guestDone;
  const f = fake as Awaited<ReturnType<typeof connectFakeGuest>> | null;
  await new Promise((r) => setTimeout(r, 50));
  f?.socket.destroy();
  return { result, ack: f ? f.received() : Buffer.alloc(0) };
}

test("forged, foreign and out-of-sequence frames are counted, described and ignored; the genuine ones in the same chunk are kept", async () => {
  const req = requestFor(socketPathIn(dir), ["x"]);
  const { result, ack } = await withFakeGuest(req, (key, g) => {
    const forged = signFrame(key, MessageType.STDOUT, 1, Buffer.from("forged"));
    forged[forged.length - 1] ^= 1;
    const altered = signFrame(key, MessageType.STDOUT, 1, Buffer.from("altered"));
    altered.write("ALTERED", 9);
    g.socket.write(Buffer.concat([
      signFrame(key, MessageType.READY, 0, READY),
      forged,
      altered,
      signFrame(newRunKey(), MessageType.STDOUT, 1, Buffer.from("another run's key")),
      signFrame(key, MessageType.STDOUT, 7, Buffer.from("skips ahead")),
      signFrame(key, MessageType.READY, 0, READY), // replayed
      signFrame(key, MessageType.STARTED, 1),
      signFrame(key, MessageType.STDOUT, 2, Buffer.from("real")),
      signFrame(key, MessageType.EXIT, 3, exitPayload(0)),
      signFrame(key, MessageType.DONE, 4),
    ]));
  });
  assert.ok(result.complete, result.error);
  assert.is(result.stdout.toString(), "real");
  assert.is(result.exitCode, 0);
  assert.is(result.forgedFrames, 4);
  assert.is(result.metrics.duplicateFrames, 1);
  assert.equal(result.rejectedFrames.length, 4);
  assert.match(result.rejectedFrames[0]!, /bad HMAC/);
  assert.match(result.rejectedFrames[3]!, /seq 7: expected seq 1/);
  assert.is(ack.length, 13, "the ACK came back");
  assert.is(ack.readUInt32LE(9), 5, "it counts the 5 genuine frames");
});

test("a length field out of bounds gives up on the stream (there is no frame boundary left)", async () => {
  const req = requestFor(socketPathIn(dir), ["x"]);
  const { result } = await withFakeGuest(req, (key, g) => {
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(0x7fffffff, 0);
    g.socket.write(Buffer.concat([signFrame(key, MessageType.READY, 0, READY), huge]));
  });
  assert.not.ok(result.complete);
  assert.is(result.forgedFrames, 1);
  assert.match(result.rejectedFrames[0]!, /frame length 2147483647 is out of bounds/);
  assert.match(result.error!, /stream ended before DONE/);
  assert.is(result.metrics.bootMs !== null, true, "READY before it still counted");
});

/** Settles with `run`, or rejects after `ms`: a collect that hangs fails the test instead of holding it. */
function within<T>(ms: number, run: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms)));
  return Promise.race([run, late]).finally(() => clearTimeout(timer));
}

test("a stream the guest ends mid-command (its VM died) ends the run at once when there is no console", async () => {
  const req = requestFor(socketPathIn(dir), ["x"]);
  const { result } = await within(5000, withFakeGuest(req, (key, g) => {
    g.socket.end(Buffer.concat([signFrame(key, MessageType.READY, 0, READY), signFrame(key, MessageType.STARTED, 1)]));
  }));
  assert.not.ok(result.complete);
  assert.is(result.error, "the guest's stream ended before DONE");
});

test("a stream the guest ends mid-command, with a console: the console's silence ends the run after the stall time", async () => {
  const consoleLog = join(dir, "silent.log");
  writeFileSync(consoleLog, "");
  const req = requestFor(socketPathIn(dir), ["x"], { consoleLog, stallTimeoutMs: 300 });
  const { result } = await within(5000, withFakeGuest(req, (key, g) => {
    g.socket.end(Buffer.concat([signFrame(key, MessageType.READY, 0, READY), signFrame(key, MessageType.STARTED, 1)]));
  }));
  assert.not.ok(result.complete);
  assert.is(result.error, "the guest's stream ended before DONE, and its console brought nothing in the 0.3 s after");
});

test("output past the limit is dropped by the host even when the guest ignores the job's limit", async () => {
  const req = requestFor(socketPathIn(dir), ["x"], {}, { maxOutputBytes: 10, maxFileBytes: 3 });
  const { result } = await withFakeGuest(req, (key, g) => {
    g.socket.write(Buffer.concat([
      signFrame(key, MessageType.READY, 0, READY),
      signFrame(key, MessageType.STARTED, 1),
      signFrame(key, MessageType.STDOUT, 2, Buffer.from("0123456")),
      signFrame(key, MessageType.STDOUT, 3, Buffer.from("789abcdef")),
      signFrame(key, MessageType.STDOUT, 4, Buffer.from("more")),
      signFrame(key, MessageType.EXIT, 5, exitPayload(0)), // says it dropped nothing
      signFrame(key, MessageType.DONE, 6),
    ]));
  });
  assert.ok(result.complete);
  assert.is(result.stdout.toString(), "0123456789");
  assert.ok(result.truncated.stdout);
  assert.not.ok(result.truncated.stderr);
});

test("a genuine frame out of protocol order ends the run as a protocol failure", async () => {
  const req = requestFor(socketPathIn(dir), ["x"]);
  const { result } = await withFakeGuest(req, (key, g) => {
    g.socket.write(Buffer.concat([
      signFrame(key, MessageType.READY, 0, READY),
      signFrame(key, MessageType.STDOUT, 1, Buffer.from("before STARTED")),
    ]));
  });
  assert.not.ok(result.complete);
  assert.match(result.error!, /^the guest broke the protocol: guest stdout message \(seq 1\) not expected in phase ready/);
  assert.is(result.stdout.length, 0);
});

test("file data beyond the announced size, or for the wrong file, is a protocol failure", async () => {
  const req = requestFor(socketPathIn(dir), ["x"], {}, { outputPaths: ["/a", "/b"] });
  const { result } = await withFakeGuest(req, (key, g) => {
    g.socket.write(Buffer.concat([
      signFrame(key, MessageType.READY, 0, READY),
      signFrame(key, MessageType.STARTED, 1),
      signFrame(key, MessageType.EXIT, 2, exitPayload(0)),
      signFrame(key, MessageType.FILE, 3, filePayload(0, 0, 3n)),
      signFrame(key, MessageType.FILE_DATA, 4, fileData(0, "abcdef")),
    ]));
  });
  assert.match(result.error!, /more than the 3 bytes announced/);
  assert.ok(result.files[0]!.truncated, "what arrived of the file is marked cut");
  assert.is(result.files[1]!.status, "not-received");
});

test("a guest that goes silent after EXIT is given up after the stall timeout", async () => {
  const req = requestFor(socketPathIn(dir), ["x"], { stallTimeoutMs: 300 }, { outputPaths: ["/a"] });
  const started = Date.now();
  const { result } = await withFakeGuest(req, (key, g) => {
    g.socket.write(Buffer.concat([
      signFrame(key, MessageType.READY, 0, READY),
      signFrame(key, MessageType.STARTED, 1),
      signFrame(key, MessageType.STDOUT, 2, Buffer.from("printed")),
      signFrame(key, MessageType.EXIT, 3, exitPayload(6)),
    ]));
  });
  assert.not.ok(result.complete);
  assert.is(result.exitCode, 6);
  assert.is(result.stdout.toString(), "printed");
  assert.match(result.error!, /sent nothing for 0\.3 s after the command exited, and no DONE/);
  assert.ok(Date.now() - started < 3000);
});

test("one connection only: a second one is refused", async () => {
  const req = requestFor(socketPathIn(dir), ["x"], { stallTimeoutMs: 200 });
  let second = "";
  await withFakeGuest(req, async (key, g) => {
    second = await new Promise<string>((resolve) => {
      const s = connect(req.socketPath);
      s.on("connect", () => s.on("close", () => resolve("accepted then closed")));
      s.on("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? "error"));
    });
    g.socket.write(Buffer.concat([signFrame(key, MessageType.READY, 0, READY), signFrame(key, MessageType.ERROR, 1, Buffer.from("bad job")), signFrame(key, MessageType.DONE, 2)]));
  });
  assert.ok(["ENOENT", "ECONNREFUSED"].includes(second), second);
});

test.run();
