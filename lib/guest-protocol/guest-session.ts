// The host's view of one run's guest: frames from the stream and from the
// serial console go through one verifier (one key, one seq counter) into one
// result. This is what the collect stage drives.
import { GuestFrameVerifier } from "./frame-verifier.js";
import { encodeAck } from "./job.js";
import { GuestResultCollector, type GuestRunResult } from "./result-collector.js";
import { SerialConsoleScanner, type SerialScan } from "./serial-scanner.js";
import { GuestStreamDecoder } from "./stream-decoder.js";
import type { GuestMessage } from "./messages.js";

export class GuestSession {
  private readonly verifier: GuestFrameVerifier;
  private readonly stream: GuestStreamDecoder;
  private readonly serial: SerialConsoleScanner;
  private readonly collector: GuestResultCollector;
  /** Called with each verified message as it arrives (e.g. to show output live). */
  onMessage: ((message: GuestMessage) => void) | null = null;

  constructor(key: Uint8Array, outputPaths: readonly string[]) {
    this.verifier = new GuestFrameVerifier(key);
    this.stream = new GuestStreamDecoder(this.verifier);
    this.serial = new SerialConsoleScanner(this.verifier);
    this.collector = new GuestResultCollector(outputPaths);
  }

  /** Bytes from the guest's stream. Throws GuestProtocolError: the stream is then not to be trusted. */
  fromStream(chunk: Buffer): void {
    for (const message of this.stream.push(chunk)) this.accept(message);
  }

  /** Bytes from the serial console. Frames that do not verify are reported in `rejected`, not thrown. */
  fromConsole(chunk: Buffer | string): SerialScan {
    const scan = this.serial.push(chunk);
    for (const message of scan.messages) this.accept(message);
    return scan;
  }

  /** At the end of the console output: examines a last line without newline. */
  endConsole(): SerialScan {
    const scan = this.serial.end();
    for (const message of scan.messages) this.accept(message);
    return scan;
  }

  get done(): boolean {
    return this.collector.done;
  }

  /** The ACK to write to the stream once `done`, before closing it: it tells guest-init nothing was lost. */
  ack(): Buffer {
    if (!this.done) throw new Error("guest session: no ACK before DONE");
    return encodeAck(this.verifier.nextSeq);
  }

  /** Bytes of a frame cut off at the end of the stream (the guest fell back to serial, or died). */
  get streamLeftoverBytes(): number {
    return this.stream.leftoverBytes;
  }

  result(): GuestRunResult {
    return this.collector.result();
  }

  private accept(message: GuestMessage): void {
    this.collector.add(message);
    this.onMessage?.(message);
  }
}
