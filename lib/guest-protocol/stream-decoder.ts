// Splits the guest's byte stream (vsock, or a Unix socket in host tests) into
// frames and verifies each. A frame's length is checked before any of it is
// buffered, so a hostile guest cannot make the host hold huge frames.
import { GuestFrameVerifier } from "./frame-verifier.js";
import { FRAME_HEADER_BYTES, FRAME_MAC_BYTES, GuestProtocolError, MAX_GUEST_FRAME_LENGTH, type GuestMessage } from "./messages.js";

export class GuestStreamDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly verifier: GuestFrameVerifier) {}

  /** Feeds bytes as they arrive; returns the messages they complete. Throws GuestProtocolError on a bad frame. */
  push(chunk: Buffer): GuestMessage[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const messages: GuestMessage[] = [];
    while (this.pendingBytes >= 4) {
      const head = this.peek(4);
      const length = head.readUInt32LE(0);
      if (length < FRAME_HEADER_BYTES - 4 + FRAME_MAC_BYTES || length > MAX_GUEST_FRAME_LENGTH)
        throw new GuestProtocolError(`guest stream: frame length ${length} is out of bounds`);
      if (this.pendingBytes < 4 + length) break;
      messages.push(this.verifier.verify(this.take(4 + length)));
    }
    return messages;
  }

  /** Bytes of an unfinished frame: non-zero at end of stream means it was cut. */
  get leftoverBytes(): number {
    return this.pendingBytes;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.pending = [Buffer.concat(this.pending)];
    return this.pending[0]!.subarray(0, n);
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
