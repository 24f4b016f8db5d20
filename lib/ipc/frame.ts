// Length-prefixed msgpack frames: a 4-byte big-endian payload length, then the
// payload. One frame carries one message. The decoder is incremental so it can
// be fed pipe chunks of any size, and it refuses an oversized length as soon
// as the header arrives, before buffering anything.
// "msgpackr/pack" is msgpackr without its optional native string extractor:
// loading that addon costs every stage process ~15 ms at start-up, and our
// frames are small metadata, where it gains nothing.
import { Packr } from "msgpackr/pack";
import type { Readable } from "node:stream";
import { ProtocolError } from "./errors.js";

/** Frames above this size are refused (a sane bound: requests and results are metadata, not images). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

const HEADER_BYTES = 4;

// Plain maps and arrays only (no msgpackr records or structure sharing), so
// every frame decodes alone and any msgpack implementation can read it.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Encodes one message as a frame (header + payload). */
export function encodeFrame(message: unknown, maxBytes = MAX_FRAME_BYTES): Buffer {
  const payload = packr.pack(message);
  if (payload.length > maxBytes) {
    throw new ProtocolError("oversized", `frame of ${payload.length} bytes exceeds the ${maxBytes}-byte limit`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(payload.length, 0);
  return Buffer.concat([header, payload]);
}

/**
 * Most msgpack values (maps, arrays, strings, numbers... each counts one) one
 * payload may hold. Counted before decoding: a legal frame of millions of
 * one-byte empty maps would otherwise become gigabytes of JavaScript objects
 * (a 64 MiB one took the coordinator past 5 GB). No message needs nearly as
 * many: results are metadata, bulk bytes travel as one binary value each.
 */
export const MAX_FRAME_VALUES = 100_000;

/** Decodes one frame's payload; a payload that is not exactly one msgpack value is malformed. */
export function decodePayload(payload: Buffer, maxValues = MAX_FRAME_VALUES): unknown {
  if (countValues(payload, maxValues) > maxValues) {
    throw new ProtocolError("malformed", `malformed frame payload: more than ${maxValues} values`);
  }
  let value: unknown;
  try {
    value = packr.unpack(payload);
  } catch (err) {
    throw new ProtocolError("malformed", `malformed frame payload: ${(err as Error).message}`);
  }
  checkPlainData(value, 0);
  return value;
}

/**
 * Counts the msgpack values in `payload` by walking its headers, allocating
 * nothing; stops once past `limit`. A payload cut short is counted as far as
 * it goes (the decoder then reports it).
 */
export function countValues(payload: Buffer, limit: number): number {
  let at = 0;
  let pending = 1; // values still to read
  let count = 0;
  const end = payload.length;
  while (pending > 0 && at < end) {
    pending--;
    if (++count > limit) return count;
    const b = payload[at++]!;
    if (b <= 0x7f || b >= 0xe0) continue; // fixint
    if (b <= 0x8f) { pending += 2 * (b & 0x0f); continue; } // fixmap
    if (b <= 0x9f) { pending += b & 0x0f; continue; } // fixarray
    if (b <= 0xbf) { at += b & 0x1f; continue; } // fixstr
    switch (b) {
      case 0xc0: case 0xc1: case 0xc2: case 0xc3: break; // nil, (reserved), false, true
      case 0xc4: case 0xd9: at += 1 + (at < end ? payload[at]! : 0); break; // bin8, str8
      case 0xc5: case 0xda: at += 2 + (at + 2 <= end ? payload.readUInt16BE(at) : 0); break; // bin16, str16
      case 0xc6: case 0xdb: at += 4 + (at + 4 <= end ? payload.readUInt32BE(at) : 0); break; // bin32, str32
      case 0xc7: at += 2 + (at < end ? payload[at]! : 0); break; // ext8
      case 0xc8: at += 3 + (at + 2 <= end ? payload.readUInt16BE(at) : 0); break; // ext16
      case 0xc9: at += 5 + (at + 4 <= end ? payload.readUInt32BE(at) : 0); break; // ext32
      case 0xca: at += 4; break; // float32
      case 0xcb: at += 8; break; // float64
      case 0xcc: case 0xd0: at += 1; break; // uint8, int8
      case 0xcd: case 0xd1: at += 2; break;
      case 0xce: case 0xd2: at += 4; break;
      case 0xcf: case 0xd3: at += 8; break;
      case 0xd4: at += 2; break; // fixext1..16: type byte + data
      case 0xd5: at += 3; break;
      case 0xd6: at += 5; break;
      case 0xd7: at += 9; break;
      case 0xd8: at += 17; break;
      case 0xdc: pending += at + 2 <= end ? payload.readUInt16BE(at) : 0; at += 2; break; // array16
      case 0xdd: pending += at + 4 <= end ? payload.readUInt32BE(at) : 0; at += 4; break; // array32
      case 0xde: pending += 2 * (at + 2 <= end ? payload.readUInt16BE(at) : 0); at += 2; break; // map16
      case 0xdf: pending += 2 * (at + 4 <= end ? payload.readUInt32BE(at) : 0); at += 4; break; // map32
    }
  }
  return count;
}

const MAX_NESTING = 512;

// msgpackr turns the reserved byte 0xc1 and unknown extensions into special
// objects instead of failing; the protocol only carries plain data.
function checkPlainData(value: unknown, depth: number): void {
  if (depth > MAX_NESTING) throw new ProtocolError("malformed", `malformed frame payload: nested deeper than ${MAX_NESTING}`);
  if (value === null || value === undefined) return;
  switch (typeof value) {
    case "string": case "number": case "boolean": case "bigint":
      return;
    case "object":
      if (value instanceof Uint8Array || value instanceof Date) return;
      if (Array.isArray(value)) {
        for (const item of value) checkPlainData(item, depth + 1);
        return;
      }
      if (Object.getPrototypeOf(value) === Object.prototype) {
        for (const item of Object.values(value)) checkPlainData(item, depth + 1);
        return;
      }
  }
  throw new ProtocolError("malformed", "malformed frame payload: holds a value that is not plain data (reserved byte 0xc1 or an unknown extension)");
}

/** Incremental decoder: push chunks, collect complete messages. */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private expected: number | null = null;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Adds bytes; returns the messages completed by them. Throws ProtocolError on a bad frame. */
  push(chunk: Buffer): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const messages: unknown[] = [];
    for (;;) {
      if (this.expected === null) {
        if (this.buffered < HEADER_BYTES) break;
        const length = this.take(HEADER_BYTES).readUInt32BE(0);
        if (length === 0) throw new ProtocolError("malformed", "malformed frame: zero-length payload");
        if (length > this.maxBytes) {
          throw new ProtocolError("oversized", `frame of ${length} bytes exceeds the ${this.maxBytes}-byte limit`);
        }
        this.expected = length;
      }
      if (this.buffered < this.expected) break;
      const payload = this.take(this.expected);
      this.expected = null;
      messages.push(decodePayload(payload));
    }
    return messages;
  }

  /** Call at end of stream: throws if a frame was cut off. */
  end(): void {
    if (this.expected !== null) {
      throw new ProtocolError("truncated", `truncated frame: stream ended after ${this.buffered} of ${this.expected} payload bytes`);
    }
    if (this.buffered > 0) {
      throw new ProtocolError("truncated", `truncated frame: stream ended inside a ${HEADER_BYTES}-byte header (${this.buffered} bytes)`);
    }
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }
}

/** Yields every message of a stream; throws ProtocolError on a truncated, oversized or malformed frame. */
export async function* readFrames(stream: Readable, maxBytes = MAX_FRAME_BYTES): AsyncGenerator<unknown> {
  const decoder = new FrameDecoder(maxBytes);
  for await (const chunk of stream) {
    for (const message of decoder.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) yield message;
  }
  decoder.end();
}
