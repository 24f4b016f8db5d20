import { test } from "uvu";
import * as assert from "uvu/assert";
import { Readable } from "node:stream";
import { encodeFrame, FrameDecoder, readFrames, MAX_FRAME_BYTES, countValues, decodePayload } from "../../../lib/ipc/frame.js";
import { ProtocolError } from "../../../lib/ipc/errors.js";

async function collect(chunks: Buffer[], max?: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const m of readFrames(Readable.from(chunks), max)) out.push(m);
  return out;
}

function kindOf(err: unknown): string {
  assert.instance(err, ProtocolError);
  return (err as ProtocolError).kind;
}

test("round-trips messages split at every byte boundary", async () => {
  const a = encodeFrame({ type: "log", level: "info", message: "héllo" });
  const b = encodeFrame({ type: "result", body: { n: 1, bytes: Buffer.from([1, 2, 3]) } });
  const all = Buffer.concat([a, b]);
  for (let cut = 0; cut <= all.length; cut++) {
    const got = await collect([all.subarray(0, cut), all.subarray(cut)]);
    assert.equal(got.length, 2);
    assert.equal((got[0] as any).message, "héllo");
    assert.equal([...(got[1] as any).body.bytes], [1, 2, 3]);
  }
});

test("one byte at a time works", async () => {
  const frame = encodeFrame({ x: [1, 2, 3] });
  const got = await collect([...frame].map((b) => Buffer.from([b])));
  assert.equal(got, [{ x: [1, 2, 3] }]);
});

test("a frame cut in its payload is a truncated error", async () => {
  const frame = encodeFrame({ hello: "world" });
  try {
    await collect([frame.subarray(0, frame.length - 2)]);
    assert.unreachable();
  } catch (err) {
    assert.is(kindOf(err), "truncated");
    assert.match((err as Error).message, /truncated frame/);
  }
});

test("a frame cut in its header is a truncated error", async () => {
  try {
    await collect([Buffer.from([0, 0])]);
    assert.unreachable();
  } catch (err) {
    assert.is(kindOf(err), "truncated");
  }
});

test("an oversized length is refused at once, before its payload arrives", async () => {
  const decoder = new FrameDecoder();
  const header = Buffer.alloc(4);
  header.writeUInt32BE(MAX_FRAME_BYTES + 1);
  try {
    decoder.push(header);
    assert.unreachable();
  } catch (err) {
    assert.is(kindOf(err), "oversized");
    assert.match((err as Error).message, /exceeds the 67108864-byte limit/);
  }
});

test("encodeFrame refuses a message over the limit", () => {
  assert.throws(() => encodeFrame({ big: "x".repeat(2000) }, 1000), (e: unknown) => kindOf(e) === "oversized");
});

test("malformed msgpack and trailing bytes are malformed errors", async () => {
  for (const payload of [Buffer.from([0xc1]), Buffer.from([0x01, 0x02])]) {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(payload.length);
    try {
      await collect([header, payload]);
      assert.unreachable();
    } catch (err) {
      assert.is(kindOf(err), "malformed");
    }
  }
});

test("a zero-length frame is malformed", async () => {
  try {
    await collect([Buffer.alloc(4)]);
    assert.unreachable();
  } catch (err) {
    assert.is(kindOf(err), "malformed");
  }
});

test("values are counted before decoding, every msgpack type alike", () => {
  const value = { a: [1, -1, 300, -300, 70000, 2 ** 40, 1.5, "s", "x".repeat(300), "y".repeat(70000), true, false, null], b: Buffer.alloc(5), c: new Map([["k", { d: [] }]]) };
  const payload = encodeFrame(value).subarray(4);
  // root map, 3 keys, a (1 array + 13 items), b, c (map, key, inner map, key d, empty array)
  assert.is(countValues(payload, 1000), 1 + 3 + 14 + 1 + 5);
  assert.is(countValues(payload, 10), 11, "stops once past the limit");
  assert.throws(() => decodePayload(payload, 20), /more than 20 values/);
  const maps = Buffer.alloc(5 + 200_000, 0x80);
  maps[0] = 0xdd;
  maps.writeUInt32BE(200_000, 1);
  assert.throws(() => decodePayload(maps), /more than 100000 values/);
});

test.run();
