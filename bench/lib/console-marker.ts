// When a marker line first shows on a guest console: in a stream (QEMU's
// serial on stdout) or in a log file that another process appends to (our
// VMM's console log, flushed line by line).
import { closeSync, openSync, readSync } from "node:fs";
import type { Readable } from "node:stream";

/** guest-init's diagnostics start with this; with no bencher.port on the command line its first line is one. */
export const GUEST_INIT_MARKER = "bencher-init:";

export interface MarkerWatch {
  /** performance.now() of the first sighting, or undefined if not seen (yet). */
  readonly seenAt: number | undefined;
  /** Everything seen so far (bounded to the last 64 KiB). */
  readonly text: string;
  stop(): void;
}

const KEEP = 64 * 1024;

class Watch implements MarkerWatch {
  seenAt: number | undefined;
  text = "";
  constructor(private readonly marker: string, private readonly onStop: () => void, private readonly onSeen?: () => void) {}
  add(chunk: string): void {
    const before = Math.max(0, this.text.length - this.marker.length);
    this.text += chunk;
    if (this.seenAt === undefined && this.text.indexOf(this.marker, before) >= 0) {
      this.seenAt = performance.now();
      this.onSeen?.();
    }
    if (this.text.length > 2 * KEEP) this.text = this.text.slice(-KEEP);
  }
  stop(): void {
    this.onStop();
  }
}

export function watchStream(stream: Readable, marker: string, onSeen?: () => void): MarkerWatch {
  const onData = (d: Buffer) => watch.add(d.toString("latin1"));
  const watch = new Watch(marker, () => stream.off("data", onData), onSeen);
  stream.on("data", onData);
  return watch;
}

/** Polls `path` every `intervalMs` for new bytes (the file may not exist yet). */
export function watchFile(path: string, marker: string, intervalMs = 10, onSeen?: () => void): MarkerWatch {
  let offset = 0;
  const buffer = Buffer.alloc(64 * 1024);
  const poll = () => {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch {
      return;
    }
    try {
      for (let n; (n = readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += n) watch.add(buffer.toString("latin1", 0, n));
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(poll, intervalMs);
  const watch = new Watch(marker, () => {
    clearInterval(timer);
    poll();
  }, onSeen);
  return watch;
}
