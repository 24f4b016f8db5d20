// Folds verified guest messages into the run's result, enforcing the order
// PROTOCOL.md gives: READY (ERROR | STARTED output* EXIT files*) DONE.
import { GuestProtocolError, type ExitReport, type GuestMessage, type OutputFileStatus } from "./messages.js";

export interface GuestOutputFile {
  path: string;
  status: OutputFileStatus;
  /** The file's size in the guest (0 unless present). */
  size: bigint;
  /** Bytes received: all of the file unless `truncated`. */
  data: Buffer;
  truncated: boolean;
}

export interface GuestRunResult {
  /** DONE arrived: nothing was cut off. */
  complete: boolean;
  protocolVersion: number | null;
  /** The command was exec'd. */
  started: boolean;
  /** Why the job could not run, as guest-init put it. */
  error: string | null;
  stdout: Buffer;
  stderr: Buffer;
  exit: ExitReport | null;
  /** One per requested output path, in request order; only those reported so far. */
  files: GuestOutputFile[];
}

type Phase = "hello" | "ready" | "running" | "exited" | "failed" | "done";

export class GuestResultCollector {
  private phase: Phase = "hello";
  private version: number | null = null;
  private started = false;
  private error: string | null = null;
  private stdout: Buffer[] = [];
  private stderr: Buffer[] = [];
  private exit: ExitReport | null = null;
  private files: { path: string; status: OutputFileStatus; size: bigint; chunks: Buffer[]; received: bigint }[] = [];

  constructor(private readonly outputPaths: readonly string[]) {}

  get done(): boolean {
    return this.phase === "done";
  }

  add(message: GuestMessage): void {
    const unexpected = () =>
      new GuestProtocolError(`guest ${message.type} message (seq ${message.seq}) not expected after ${this.phase}`);
    switch (message.type) {
      case "ready":
        if (this.phase !== "hello") throw unexpected();
        this.version = message.version;
        this.phase = "ready";
        return;
      case "started":
        if (this.phase !== "ready") throw unexpected();
        this.started = true;
        this.phase = "running";
        return;
      case "stdout":
      case "stderr":
        if (this.phase !== "running") throw unexpected();
        (message.type === "stdout" ? this.stdout : this.stderr).push(message.data);
        return;
      case "exit":
        if (this.phase !== "running") throw unexpected();
        this.exit = message.exit;
        this.phase = "exited";
        return;
      case "file": {
        if (this.phase !== "exited") throw unexpected();
        if (message.index !== this.files.length || message.index >= this.outputPaths.length)
          throw new GuestProtocolError(`guest FILE message (seq ${message.seq}) for output ${message.index}, expected ${this.files.length}`);
        if (message.status !== "present" && message.size !== 0n)
          throw new GuestProtocolError(`guest FILE message (seq ${message.seq}): ${message.status} file with size ${message.size}`);
        this.files.push({ path: this.outputPaths[message.index]!, status: message.status, size: message.size, chunks: [], received: 0n });
        return;
      }
      case "file-data": {
        const file = this.files[this.files.length - 1];
        if (this.phase !== "exited" || !file || message.index !== this.files.length - 1 || file.status !== "present") throw unexpected();
        file.received += BigInt(message.data.length);
        if (file.received > file.size)
          throw new GuestProtocolError(`guest FILE_DATA (seq ${message.seq}): more than the ${file.size} bytes announced for ${file.path}`);
        file.chunks.push(message.data);
        return;
      }
      case "error":
        if (this.phase !== "ready") throw unexpected();
        this.error = message.text;
        this.phase = "failed";
        return;
      case "done":
        if (this.phase === "hello" || this.phase === "running" || this.phase === "done") throw unexpected();
        if (this.phase === "exited" && this.files.length !== this.outputPaths.length)
          throw new GuestProtocolError(`guest DONE (seq ${message.seq}) after ${this.files.length} of ${this.outputPaths.length} output files`);
        this.phase = "done";
        return;
    }
  }

  /** The result so far; `complete` is false until DONE. */
  result(): GuestRunResult {
    return {
      complete: this.phase === "done",
      protocolVersion: this.version,
      started: this.started,
      error: this.error,
      stdout: Buffer.concat(this.stdout),
      stderr: Buffer.concat(this.stderr),
      exit: this.exit,
      files: this.files.map((f) => ({
        path: f.path,
        status: f.status,
        size: f.size,
        data: Buffer.concat(f.chunks),
        truncated: f.received < f.size,
      })),
    };
  }
}
