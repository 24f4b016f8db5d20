// Test helper: builds guest frames the way guest-init does (PROTOCOL.md), so
// the host codec can be tested on exact, hand-made byte sequences.
import { guestFrameMac } from "../../../lib/guest-protocol/frame-mac.js";
import { MessageType } from "../../../lib/guest-protocol/messages.js";

export function signFrame(key: Uint8Array, type: number, seq: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(5 + payload.length + 32, 0);
  head[4] = type;
  head.writeUInt32LE(seq, 5);
  const body = Buffer.concat([head, payload]);
  return Buffer.concat([body, guestFrameMac(key, body)]);
}

export function exitPayload(code: number, signaled = false): Buffer {
  const p = Buffer.alloc(53);
  p[0] = signaled ? 1 : 0;
  p.writeUInt32LE(code, 1);
  p.writeBigUInt64LE(123n, 5);
  return p;
}

export function filePayload(index: number, status: number, size: bigint): Buffer {
  const p = Buffer.alloc(13);
  p.writeUInt32LE(index, 0);
  p[4] = status;
  p.writeBigUInt64LE(size, 5);
  return p;
}

export function fileData(index: number, data: string): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32LE(index, 0);
  return Buffer.concat([p, Buffer.from(data)]);
}

/** A complete, valid run: READY STARTED STDOUT STDERR EXIT FILE FILE_DATA FILE DONE. */
export function validRun(key: Uint8Array): Buffer[] {
  const frames: [number, Buffer][] = [
    [MessageType.READY, Buffer.from([1, 0])],
    [MessageType.STARTED, Buffer.alloc(0)],
    [MessageType.STDOUT, Buffer.from("out")],
    [MessageType.STDERR, Buffer.from("err")],
    [MessageType.EXIT, exitPayload(0)],
    [MessageType.FILE, filePayload(0, 0, 5n)],
    [MessageType.FILE_DATA, fileData(0, "hello")],
    [MessageType.FILE, filePayload(1, 1, 0n)],
    [MessageType.DONE, Buffer.alloc(0)],
  ];
  return frames.map(([type, payload], seq) => signFrame(key, type, seq, payload));
}
