// Folds verified guest messages into one run, in the order PROTOCOL.md fixes:
//   READY ( ERROR | STARTED (STDOUT|STDERR)* EXIT (FILE FILE_DATA*)* ) DONE
// and keeps the host's own limits whatever the guest does: at most
// maxOutputBytes per stream (the rest is counted and dropped, never held),
// at most maxFileBytes per output file. Output chunks are handed on as they
// arrive, so a terminal can show them live.
import { GuestProtocolError, type ExitReport, type GuestMessage } from "../../lib/guest-protocol/messages.js";
import type { OutputFileStore } from "./output-files.js";

export type RunPhase = "hello" | "ready" | "running" | "exited" | "failed" | "done";
export type OutputStream = "stdout" | "stderr";

export interface RunAssemblerHooks {
  /** Kept bytes of the command's stdout or stderr, in the order they were produced. */
  onOutput?: (stream: OutputStream, data: Buffer) => void;
  /** The run moved to a new phase. */
  onPhase?: (phase: RunPhase) => void;
}

interface StreamState {
  chunks: Buffer[];
  kept: number;
  /** Bytes the host dropped beyond the limit. */
  dropped: number;
}

export class RunAssembler {
  phase: RunPhase = "hello";
  protocolVersion: number | null = null;
  exit: ExitReport | null = null;
  /** Why guest-init could not run the job (its ERROR message). */
  guestError: string | null = null;
  private readonly streams: Record<OutputStream, StreamState> = {
    stdout: { chunks: [], kept: 0, dropped: 0 },
    stderr: { chunks: [], kept: 0, dropped: 0 },
  };
  /** Index of the next FILE message, and sizes of the current file. */
  private nextFile = 0;
  private fileSize = 0n;
  private fileReceived = 0n;

  constructor(
    private readonly outputCount: number,
    private readonly files: OutputFileStore,
    private readonly maxOutputBytes: number,
    /** Keep stdout/stderr in memory for the result (false when the caller only streams them). */
    private readonly retainOutput: boolean,
    private readonly hooks: RunAssemblerHooks = {},
  ) {}

  /** Adds one verified message; throws GuestProtocolError if it breaks the order. */
  add(m: GuestMessage): void {
    const unexpected = () => new GuestProtocolError(`guest ${m.type} message (seq ${m.seq}) not expected in phase ${this.phase}`);
    switch (m.type) {
      case "ready":
        if (this.phase !== "hello") throw unexpected();
        this.protocolVersion = m.version;
        return this.enter("ready");
      case "started":
        if (this.phase !== "ready") throw unexpected();
        return this.enter("running");
      case "stdout":
      case "stderr":
        if (this.phase !== "running") throw unexpected();
        return this.keep(m.type, m.data);
      case "exit":
        if (this.phase !== "running") throw unexpected();
        this.exit = m.exit;
        return this.enter("exited");
      case "file": {
        if (this.phase !== "exited") throw unexpected();
        if (m.index !== this.nextFile || m.index >= this.outputCount)
          throw new GuestProtocolError(`guest FILE message (seq ${m.seq}) for output ${m.index}, expected ${this.nextFile}`);
        if (m.status !== "present" && m.size !== 0n) throw new GuestProtocolError(`guest FILE message (seq ${m.seq}): ${m.status} file with size ${m.size}`);
        this.nextFile++;
        this.fileSize = m.size;
        this.fileReceived = 0n;
        this.files.begin(m.index, m.status, Number(m.size));
        return;
      }
      case "file-data": {
        if (this.phase !== "exited" || m.index !== this.nextFile - 1) throw unexpected();
        this.fileReceived += BigInt(m.data.length);
        if (this.fileReceived > this.fileSize) throw new GuestProtocolError(`guest FILE_DATA (seq ${m.seq}): more than the ${this.fileSize} bytes announced`);
        this.files.write(m.index, m.data);
        return;
      }
      case "error":
        if (this.phase !== "ready") throw unexpected();
        this.guestError = m.text;
        return this.enter("failed");
      case "done":
        if (this.phase !== "exited" && this.phase !== "failed") throw unexpected();
        if (this.phase === "exited" && this.nextFile !== this.outputCount)
          throw new GuestProtocolError(`guest DONE (seq ${m.seq}) after ${this.nextFile} of ${this.outputCount} output files`);
        return this.enter("done");
    }
  }

  /** Bytes kept of a stream, whether or not retained. */
  keptBytes(stream: OutputStream): number {
    return this.streams[stream].kept;
  }

  /** The stream's kept bytes (empty when not retained). */
  output(stream: OutputStream): Buffer {
    return Buffer.concat(this.streams[stream].chunks);
  }

  private keep(stream: OutputStream, data: Buffer): void {
    const state = this.streams[stream];
    const room = Math.max(0, this.maxOutputBytes - state.kept);
    const kept = data.length > room ? data.subarray(0, room) : data;
    state.dropped += data.length - kept.length;
    if (kept.length === 0) return;
    state.kept += kept.length;
    if (this.retainOutput) state.chunks.push(kept);
    this.hooks.onOutput?.(stream, kept);
  }

  /** The stream lost bytes: the host dropped some, or the guest reported dropping some. */
  truncated(stream: OutputStream): boolean {
    const guestDropped = stream === "stdout" ? this.exit?.stdoutDroppedBytes : this.exit?.stderrDroppedBytes;
    return this.streams[stream].dropped > 0 || (guestDropped ?? 0n) > 0n;
  }

  private enter(phase: RunPhase): void {
    this.phase = phase;
    this.hooks.onPhase?.(phase);
  }
}
