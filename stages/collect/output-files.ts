// Receives the requested output files as the guest sends them: into the
// output directory (written as the data arrives, never buffered whole) or,
// without one, into memory. Each file keeps at most `maxBytes`.
//
// Nothing is written outside the directory: host names come from
// hostNamesForOutputs() (no "..", no absolute names), every directory on the
// way is created here or must be a real directory (never a symlink), and the
// file is created new (O_EXCL | O_NOFOLLOW): nothing in place is followed or
// overwritten.
import { closeSync, constants, lstatSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { OutputFileStatus } from "../../lib/guest-protocol/messages.js";
import { hostNamesForOutputs } from "./output-names.js";

export interface CollectedFile {
  guestPath: string;
  /** What the guest said; "not-received" when the run ended before it did. */
  status: OutputFileStatus | "not-received";
  /** The file's size in the guest. */
  size: number;
  /** Bytes kept. */
  bytes: number;
  /** Fewer bytes kept than the guest's size: the max file size cut it, or the run ended mid-file. */
  truncated: boolean;
  /** The host file, when written to an output directory. */
  hostPath: string | null;
  /** The contents, when there is no output directory. */
  data: Buffer | null;
  /** Why a present file could not be saved on the host (nothing of it is kept then: hostPath is null). */
  error?: string;
}

export class OutputFileStore {
  private readonly files: CollectedFile[];
  private readonly hostNames: string[];
  private readonly chunks: Buffer[][];
  private fd: number | null = null;

  constructor(guestPaths: readonly string[], private readonly outputDir: string | undefined, private readonly maxBytes: number) {
    this.hostNames = hostNamesForOutputs(guestPaths);
    this.files = guestPaths.map((guestPath) => ({ guestPath, status: "not-received", size: 0, bytes: 0, truncated: false, hostPath: null, data: null }));
    this.chunks = guestPaths.map(() => []);
  }

  /** The guest announced output `index`. */
  begin(index: number, status: OutputFileStatus, size: number): void {
    this.closeCurrent();
    const file = this.files[index]!;
    file.status = status;
    file.size = size;
    file.truncated = size > 0; // until the bytes arrive
    if (status !== "present") return;
    if (this.outputDir === undefined) {
      file.data = Buffer.alloc(0);
      return;
    }
    try {
      const path = this.createFile(this.hostNames[index]!);
      this.fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
      file.hostPath = path;
    } catch (err) {
      this.fail(file, err);
    }
  }

  /** Bytes of output `index`, in order; bytes beyond the limit are dropped. */
  write(index: number, data: Buffer): void {
    const file = this.files[index]!;
    if (file.error !== undefined) return; // lost on the host: nothing more is kept
    const room = Math.max(0, Math.min(this.maxBytes, file.size) - file.bytes);
    const kept = data.length > room ? data.subarray(0, room) : data;
    file.bytes += kept.length;
    file.truncated = file.bytes < file.size;
    if (kept.length === 0) return;
    if (this.outputDir === undefined) this.chunks[index]!.push(kept);
    else if (this.fd !== null) {
      try {
        for (let at = 0; at < kept.length; ) at += writeSync(this.fd, kept, at);
      } catch (err) {
        // A full disk loses this file, not the run: the rest is still received and verified.
        this.closeCurrent();
        this.fail(file, err);
      }
    }
  }

  /** Closes the file being written; call at the end of the run, complete or not. */
  finish(): CollectedFile[] {
    this.closeCurrent();
    this.files.forEach((file, i) => {
      if (file.data !== null) file.data = Buffer.concat(this.chunks[i]!);
    });
    return this.files.map((file) => ({ ...file }));
  }

  /**
   * The file cannot be saved: what was written of it is removed, so that a
   * partial file never passes for the guest's (nor is named as saved).
   */
  private fail(file: CollectedFile, err: unknown): void {
    file.error = `cannot save ${file.guestPath} on the host: ${(err as Error).message}`;
    if (file.hostPath !== null) rmSync(file.hostPath, { force: true });
    file.hostPath = null;
    file.bytes = 0;
    file.truncated = false; // not cut short: not brought back at all
  }

  private closeCurrent(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  /** Makes the directories of `name` inside the output directory; returns the file's path. */
  private createFile(name: string): string {
    const parts = name.split("/");
    let dir = this.outputDir!;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      try {
        mkdirSync(dir, { mode: 0o755 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a directory`);
      }
    }
    return join(dir, parts[parts.length - 1]!);
  }
}
