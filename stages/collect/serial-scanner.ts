// Finds guest frames in serial console output: lines "bencher:<base64 frame>".
// The console also carries kernel messages, guest-init diagnostics and
// anything the workload writes there, so lines that do not verify are
// counted and skipped, never trusted and never fatal. Genuine frames the
// host already has (guest-init resends its recent frames when the stream
// fails) are counted as duplicates and ignored.
import { GuestFrameVerifier } from "./frame-verifier.js";
import { GuestDuplicateFrameError, GuestProtocolError, MAX_GUEST_FRAME_LENGTH, SERIAL_FRAME_PREFIX, type GuestMessage } from "../../lib/guest-protocol/messages.js";

const MAX_LINE = SERIAL_FRAME_PREFIX.length + Math.ceil((MAX_GUEST_FRAME_LENGTH + 4) / 3) * 4 + 2;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface SerialScan {
  messages: GuestMessage[];
  /** Console lines that are not frames (kernel log, diagnostics), without the newline. */
  consoleLines: string[];
  /** Why each "bencher:" line was rejected. */
  rejected: string[];
  /** Genuine frames received before (on the stream or the console), ignored. */
  duplicates: number;
}

export class SerialConsoleScanner {
  private partial = "";

  constructor(private readonly verifier: GuestFrameVerifier) {}

  /** Feeds console bytes; complete lines are examined, a partial line is kept. */
  push(chunk: Buffer | string): SerialScan {
    const text = this.partial + (typeof chunk === "string" ? chunk : chunk.toString("latin1"));
    const lines = text.split("\n");
    this.partial = lines.pop()!;
    // No frame line is longer: keep only the end, where a frame after a workload's unended line would be.
    if (this.partial.length > MAX_LINE) this.partial = this.partial.slice(-MAX_LINE);
    const scan: SerialScan = { messages: [], consoleLines: [], rejected: [], duplicates: 0 };
    for (const raw of lines) this.line(raw.replace(/\r$/, ""), scan);
    return scan;
  }

  /** Examines a last line that had no newline. */
  end(): SerialScan {
    const scan: SerialScan = { messages: [], consoleLines: [], rejected: [], duplicates: 0 };
    if (this.partial) this.line(this.partial.replace(/\r$/, ""), scan);
    this.partial = "";
    return scan;
  }

  private line(line: string, scan: SerialScan): void {
    // The last prefix: base64 has no ':', and a workload's unended console write (even "bencher:") may come before a frame.
    const at = line.lastIndexOf(SERIAL_FRAME_PREFIX);
    // "bencher: text" (a space: never base64) is a kernel or workload message, e.g. our kernel patch's notice.
    if (at < 0 || line.charAt(at + SERIAL_FRAME_PREFIX.length) === " ") {
      scan.consoleLines.push(line);
      return;
    }
    const encoded = line.slice(at + SERIAL_FRAME_PREFIX.length);
    if (!BASE64.test(encoded) || encoded.length % 4 !== 0 || encoded.length > MAX_LINE) {
      scan.rejected.push(`serial line is not a base64 frame: ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    try {
      scan.messages.push(this.verifier.verify(Buffer.from(encoded, "base64")));
    } catch (error) {
      if (error instanceof GuestDuplicateFrameError) scan.duplicates++;
      else if (error instanceof GuestProtocolError) scan.rejected.push(error.message);
      else throw error;
    }
  }
}
