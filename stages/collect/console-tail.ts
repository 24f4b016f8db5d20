// Follows the serial console log the VMM writes, handing on each new piece.
// Polled (not fs.watch): the file may not exist yet, and polling behaves the
// same on every file system and inside the sandbox.
import { closeSync, openSync, readSync } from "node:fs";

const READ_BYTES = 256 * 1024;

export class ConsoleTail {
  private offset = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly path: string, private readonly onData: (chunk: Buffer) => void) {}

  /** Reads what is there now, then again every `intervalMs`. */
  start(intervalMs: number): void {
    this.readNew();
    this.timer = setInterval(() => this.readNew(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads everything written since the last read; a missing file is not an error (the VMM has not made it yet). */
  readNew(): void {
    let fd: number;
    try {
      fd = openSync(this.path, "r");
    } catch {
      return;
    }
    try {
      const buffer = Buffer.alloc(READ_BYTES);
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (n === 0) break;
        this.offset += n;
        this.onData(Buffer.from(buffer.subarray(0, n)));
      }
    } finally {
      closeSync(fd);
    }
  }
}
