// Checks one guest frame: length bounds, HMAC-SHA256 under the run key, and
// the sequence number; then decodes its payload. Anything off throws.
import { timingSafeEqual } from "node:crypto";
import { guestFrameMac } from "../../lib/guest-protocol/frame-mac.js";
import {
  FILE_STATUSES,
  FRAME_HEADER_BYTES,
  FRAME_MAC_BYTES,
  GuestDuplicateFrameError,
  GuestProtocolError,
  MAX_CHUNK_BYTES,
  MAX_GUEST_FRAME_LENGTH,
  MessageType,
  RUN_KEY_BYTES,
  type GuestMessage,
} from "../../lib/guest-protocol/messages.js";

export class GuestFrameVerifier {
  private readonly key: Buffer;
  /** The seq the next frame must carry. */
  nextSeq = 0;

  constructor(key: Uint8Array) {
    if (key.length !== RUN_KEY_BYTES) throw new Error(`guest protocol: run key must be ${RUN_KEY_BYTES} bytes`);
    this.key = Buffer.from(key);
  }

  /** Verifies a whole frame (length field included) and returns its message. */
  verify(frame: Buffer): GuestMessage {
    if (frame.length < FRAME_HEADER_BYTES + FRAME_MAC_BYTES) throw new GuestProtocolError(`guest frame: ${frame.length} bytes is too short`);
    const length = frame.readUInt32LE(0);
    if (length !== frame.length - 4 || length > MAX_GUEST_FRAME_LENGTH)
      throw new GuestProtocolError(`guest frame: length field ${length} does not match a frame of ${frame.length} bytes`);
    const signed = frame.subarray(0, frame.length - FRAME_MAC_BYTES);
    const mac = frame.subarray(frame.length - FRAME_MAC_BYTES);
    const expected = guestFrameMac(this.key, signed);
    const seq = frame.readUInt32LE(5);
    if (!timingSafeEqual(mac, expected)) throw new GuestProtocolError(`guest frame seq ${seq}: bad HMAC (forged or altered)`);
    if (seq < this.nextSeq) throw new GuestDuplicateFrameError(`guest frame seq ${seq}: already received`);
    if (seq !== this.nextSeq)
      throw new GuestProtocolError(`guest frame seq ${seq}: expected seq ${this.nextSeq} (replayed, reordered or dropped frame)`);
    const message = decodePayload(frame[4]!, seq, frame.subarray(FRAME_HEADER_BYTES, frame.length - FRAME_MAC_BYTES));
    this.nextSeq++;
    return message;
  }
}

function expectLength(payload: Buffer, length: number, what: string, seq: number): void {
  if (payload.length !== length) throw new GuestProtocolError(`guest ${what} frame seq ${seq}: payload is ${payload.length} bytes, expected ${length}`);
}

function expectChunk(data: Buffer, what: string, seq: number): Buffer {
  if (data.length < 1 || data.length > MAX_CHUNK_BYTES) throw new GuestProtocolError(`guest ${what} frame seq ${seq}: ${data.length} data bytes`);
  return Buffer.from(data); // own copy: the stream buffer is reused
}

function decodePayload(type: number, seq: number, p: Buffer): GuestMessage {
  switch (type) {
    case MessageType.READY:
      expectLength(p, 2, "READY", seq);
      return { type: "ready", seq, version: p.readUInt16LE(0) };
    case MessageType.STARTED:
      expectLength(p, 0, "STARTED", seq);
      return { type: "started", seq };
    case MessageType.STDOUT:
    case MessageType.STDERR: {
      const stream = type === MessageType.STDOUT ? "stdout" : "stderr";
      return { type: stream, seq, data: expectChunk(p, stream.toUpperCase(), seq) };
    }
    case MessageType.EXIT: {
      expectLength(p, 53, "EXIT", seq);
      const how = p[0];
      if (how !== 0 && how !== 1) throw new GuestProtocolError(`guest EXIT frame seq ${seq}: unknown kind ${how}`);
      const value = p.readUInt32LE(1);
      return {
        type: "exit",
        seq,
        exit: {
          kind: how === 0 ? "exited" : "signaled",
          code: how === 0 ? value : null,
          signal: how === 1 ? value : null,
          wallNs: p.readBigUInt64LE(5),
          userUs: p.readBigUInt64LE(13),
          sysUs: p.readBigUInt64LE(21),
          maxRssKiB: p.readBigUInt64LE(29),
          stdoutDroppedBytes: p.readBigUInt64LE(37),
          stderrDroppedBytes: p.readBigUInt64LE(45),
        },
      };
    }
    case MessageType.FILE: {
      expectLength(p, 13, "FILE", seq);
      const status = FILE_STATUSES[p[4]!];
      if (!status) throw new GuestProtocolError(`guest FILE frame seq ${seq}: unknown status ${p[4]}`);
      return { type: "file", seq, index: p.readUInt32LE(0), status, size: p.readBigUInt64LE(5) };
    }
    case MessageType.FILE_DATA:
      if (p.length < 4) throw new GuestProtocolError(`guest FILE_DATA frame seq ${seq}: no index`);
      return { type: "file-data", seq, index: p.readUInt32LE(0), data: expectChunk(p.subarray(4), "FILE_DATA", seq) };
    case MessageType.ERROR:
      return { type: "error", seq, text: p.toString("utf8") };
    case MessageType.DONE:
      expectLength(p, 0, "DONE", seq);
      return { type: "done", seq };
    default:
      throw new GuestProtocolError(`guest frame seq ${seq}: unknown type 0x${type.toString(16)}`);
  }
}
