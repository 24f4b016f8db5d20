// Everything the guest sends, by stream or by serial console, through one
// verifier (one key, one seq counter) into one RunAssembler. No sockets and
// no timers: collect.ts feeds it bytes and asks whether the run is over.
//
// Each frame is verified on its own: one that fails is counted, described
// and skipped, and never costs the verified frames before it. A verified
// frame that breaks the protocol's order ends the run (it came from whoever
// holds the key, so guest-init itself is wrong).
import { encodeAck } from "../../lib/guest-protocol/job.js";
import { GuestDuplicateFrameError, GuestProtocolError, type GuestMessage } from "../../lib/guest-protocol/messages.js";
import { GuestFrameSplitter } from "./frame-splitter.js";
import { GuestFrameVerifier } from "./frame-verifier.js";
import type { RunAssembler } from "./run-assembler.js";
import { SerialConsoleScanner, type SerialScan } from "./serial-scanner.js";

export type FrameSource = "stream" | "console";

const MAX_REJECTIONS_KEPT = 20;
const MAX_DIAGNOSTICS_KEPT = 20;

export class GuestIntake {
  private readonly verifier: GuestFrameVerifier;
  private readonly splitter = new GuestFrameSplitter();
  private readonly scanner: SerialConsoleScanner;
  streamFrames = 0;
  consoleFrames = 0;
  /** Genuine frames received twice (the serial fallback resends recent ones): ignored. */
  duplicateFrames = 0;
  /** Frames that failed verification (bad MAC, bad seq, malformed, not base64, bad length): ignored. */
  forgedFrames = 0;
  /** Why frames were rejected (the first few). */
  readonly rejected: string[] = [];
  /** guest-init's own lines from the console ("bencher-init: …"), the last few. Unverified: shown, never trusted. */
  readonly diagnostics: string[] = [];
  /** A verified frame broke the protocol's order: the run is over, unfinished. */
  protocolError: string | null = null;
  /** Where DONE came from, once it did. */
  doneVia: FrameSource | null = null;

  constructor(
    key: Uint8Array,
    private readonly assembler: RunAssembler,
    private readonly log?: (level: "warn", message: string) => void,
  ) {
    this.verifier = new GuestFrameVerifier(key);
    this.scanner = new SerialConsoleScanner(this.verifier);
  }

  /** DONE arrived, or a verified frame broke the protocol: nothing more is taken. */
  get over(): boolean {
    return this.doneVia !== null || this.protocolError !== null;
  }

  /**
   * Bytes from the guest's stream. Returns why the stream's framing broke (a
   * length field out of bounds: no frame boundary is left, the stream is to
   * be given up), or null. The frames before the break still count.
   */
  fromStream(chunk: Buffer): string | null {
    if (this.over) return null;
    const { frames, broken } = this.splitter.push(chunk);
    for (const frame of frames) {
      const message = this.verify(frame);
      if (message) this.accept(message, "stream");
      if (this.over) return null;
    }
    if (broken) this.reject(broken);
    return broken;
  }

  /** Bytes of an unfinished frame on the stream: non-zero at its end means it was cut. */
  get streamLeftoverBytes(): number {
    return this.splitter.leftoverBytes;
  }

  /** Bytes from the serial console; a line cut at the end of a chunk waits for the next one. */
  fromConsole(chunk: Buffer | string): void {
    if (!this.over) this.takeScan(this.scanner.push(chunk));
  }

  /** At the end of the console (the VM is gone): examines a last line without newline. */
  endConsole(): void {
    if (!this.over) this.takeScan(this.scanner.end());
  }

  /** The ACK to write to the stream after DONE came on it: it tells guest-init nothing was lost. */
  ack(): Buffer {
    if (this.doneVia === null) throw new Error("guest intake: no ACK before DONE");
    return encodeAck(this.verifier.nextSeq);
  }

  private verify(frame: Buffer): GuestMessage | null {
    try {
      return this.verifier.verify(frame);
    } catch (err) {
      if (err instanceof GuestDuplicateFrameError) this.duplicateFrames++;
      else if (err instanceof GuestProtocolError) this.reject(err.message);
      else throw err;
      return null;
    }
  }

  private takeScan(scan: SerialScan): void {
    this.duplicateFrames += scan.duplicates;
    for (const why of scan.rejected) this.reject(why);
    for (const line of scan.consoleLines) {
      const at = line.indexOf("bencher-init:");
      if (at < 0) continue;
      this.diagnostics.push(line.slice(at, at + 500));
      if (this.diagnostics.length > MAX_DIAGNOSTICS_KEPT) this.diagnostics.shift();
    }
    for (const message of scan.messages) {
      if (this.over) return;
      this.accept(message, "console");
    }
  }

  private reject(why: string): void {
    this.forgedFrames++;
    // A workload can print any number of fake "bencher:" lines: count them all, describe the first few.
    if (this.rejected.length < MAX_REJECTIONS_KEPT) {
      this.rejected.push(why);
      this.log?.("warn", `ignored a guest frame: ${why}`);
    } else if (this.forgedFrames === MAX_REJECTIONS_KEPT + 1) {
      this.log?.("warn", "more guest frames failed verification: counted, not shown");
    }
  }

  private accept(message: GuestMessage, via: FrameSource): void {
    if (via === "stream") this.streamFrames++;
    else this.consoleFrames++;
    try {
      this.assembler.add(message);
    } catch (err) {
      if (!(err instanceof GuestProtocolError)) throw err;
      this.protocolError = err.message;
      return;
    }
    if (this.assembler.phase === "done") this.doneVia = via;
  }
}
