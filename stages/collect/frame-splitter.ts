// Cuts the guest's byte stream into whole frames, one at a time, so each can
// be verified on its own: a frame that fails verification is reported and
// skipped without losing the good frames that came in the same chunk. A
// length field out of bounds is caught before anything is buffered; after
// one, the stream has no frame boundaries left and is given up (the frames
// before it still count).
import { FRAME_HEADER_BYTES, FRAME_MAC_BYTES, MAX_GUEST_FRAME_LENGTH } from "../../lib/guest-protocol/messages.js";

const MIN_LENGTH = FRAME_HEADER_BYTES - 4 + FRAME_MAC_BYTES;

export interface SplitFrames {
  /** Whole frames, length field included, in stream order. */
  frames: Buffer[];
  /** Set when a bad length field ended the stream's framing (after `frames`). */
  broken: string | null;
}

export class GuestFrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private broken: string | null = null;

  /** Adds stream bytes; returns the frames they complete, and whether the framing broke after them. */
  push(chunk: Buffer): SplitFrames {
    if (this.broken) return { frames: [], broken: this.broken };
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: Buffer[] = [];
    while (this.pendingBytes >= 4) {
      const length = this.head().readUInt32LE(0);
      if (length < MIN_LENGTH || length > MAX_GUEST_FRAME_LENGTH) {
        this.broken = `guest stream: frame length ${length} is out of bounds`;
        this.pending = [];
        this.pendingBytes = 0;
        break;
      }
      if (this.pendingBytes < 4 + length) break;
      frames.push(this.take(4 + length));
    }
    return { frames, broken: this.broken };
  }

  /** Bytes of an unfinished frame: non-zero at the end of the stream means it was cut. */
  get leftoverBytes(): number {
    return this.pendingBytes;
  }

  private head(): Buffer {
    if (this.pending[0]!.length < 4) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!;
  }

  private take(n: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.pending = rest.length ? [rest] : [];
    this.pendingBytes = rest.length;
    return frame;
  }
}
