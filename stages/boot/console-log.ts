// The guest's serial console: written to a log file the user can read after
// the run, with the last lines kept in memory for the result on failure.
import { closeSync, openSync, writeSync } from "node:fs";

const TAIL_BYTES = 8192;
const FLUSH_BYTES = 4096;
/**
 * The log file stops at this size, so a guest printing forever cannot fill
 * the host's disk: far more than any boot prints, and more than collect's
 * serial fallback, which reads this file, should ever need. Past it the
 * file gets one line saying so; the in-memory tail (the result's
 * consoleTail, the panic check) stays current.
 */
export const CONSOLE_LOG_MAX_BYTES = 64 * 1024 * 1024;

export class ConsoleLog {
  private fd: number | undefined;
  private pending: number[] = [];
  private tail: number[] = [];
  private total = 0;
  /** Bytes of the guest's output in the file. */
  private fileBytes = 0;
  private cut = false;
  private watchers: Array<{ text: string; onMatch: () => void; seen: string }> = [];

  constructor(
    readonly path?: string,
    private readonly echo?: (bytes: Uint8Array) => void,
    readonly maxFileBytes = CONSOLE_LOG_MAX_BYTES,
  ) {
    if (path) this.fd = openSync(path, "w", 0o644);
  }

  write(bytes: Uint8Array): void {
    const toFile = !this.cut;
    for (const b of bytes) {
      if (toFile) this.pending.push(b);
      this.tail.push(b);
    }
    this.total += bytes.length;
    if (this.tail.length > 2 * TAIL_BYTES) this.tail = this.tail.slice(-TAIL_BYTES);
    this.echo?.(bytes);
    if (this.watchers.length) this.checkWatchers(bytes);
    // Write whole lines, so a crash leaves a readable log.
    if (bytes.includes(0x0a) || this.pending.length >= FLUSH_BYTES) this.flush();
  }

  /** Calls `onMatch` once, the first time `text` appears in the output. */
  watch(text: string, onMatch: () => void): void {
    this.watchers.push({ text, onMatch, seen: "" });
  }

  private checkWatchers(bytes: Uint8Array): void {
    const chunk = Buffer.from(bytes).toString("latin1");
    this.watchers = this.watchers.filter((w) => {
      w.seen = (w.seen + chunk).slice(-(w.text.length + chunk.length));
      if (!w.seen.includes(w.text)) return true;
      w.onMatch();
      return false;
    });
  }

  get bytesWritten(): number {
    return this.total;
  }

  /** True once the file reached maxFileBytes and the rest of the output was left out of it. */
  get fileCut(): boolean {
    return this.cut;
  }

  /** The last `maxBytes` of output as text. */
  tailText(maxBytes = 4096): string {
    return Buffer.from(this.tail.slice(-maxBytes)).toString("utf8");
  }

  flush(): void {
    if (this.fd !== undefined && this.pending.length && !this.cut) {
      const room = this.maxFileBytes - this.fileBytes;
      const fits = this.pending.length <= room;
      const bytes = Buffer.from(fits ? this.pending : this.pending.slice(0, room));
      writeSync(this.fd, bytes);
      this.fileBytes += bytes.length;
      if (!fits) {
        this.cut = true;
        writeSync(this.fd, `\n[bencher-run: the console log stops here, at its limit of ${this.maxFileBytes} bytes; the guest printed more]\n`);
      }
    }
    this.pending = [];
  }

  close(): void {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
