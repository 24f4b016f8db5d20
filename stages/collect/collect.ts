// The host side of one guest run (guest-init/PROTOCOL.md): listen on the Unix
// socket the VMM bridges the guest's vsock connection to, send the JOB,
// hand what arrives to GuestIntake (which verifies and folds every frame),
// ACK after DONE, and say how the run ended. Frames that arrive on the
// serial console (guest-init's fallback when the stream fails) go into the
// same intake, so the result is the same whichever way they came.
//
// Runs alongside the boot stage: it resolves when the run is complete (DONE,
// ACK sent), the command timed out, the guest missed its boot deadline,
// stopped sending, or `ctx.signal` says the VM is gone. It never kills the
// VM: the coordinator does that once this resolves.
import { existsSync, statSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { encodeJob, encodeStop, newRunKey } from "../../lib/guest-protocol/job.js";
import { ConsoleTail } from "./console-tail.js";
import { GuestIntake } from "./guest-intake.js";
import { OutputFileStore, type CollectedFile } from "./output-files.js";
import type { CollectRequest } from "./request.js";
import { RunAssembler, type OutputStream, type RunPhase } from "./run-assembler.js";

export type { OutputStream, RunPhase } from "./run-assembler.js";
export type { CollectedFile } from "./output-files.js";

/** "listening": the socket exists, the VM may start. "connected": the guest's stream arrived. Then the run's phases. */
export type CollectPhase = "listening" | "connected" | RunPhase;

export interface CollectContext {
  /** Aborted when the VM is gone or the run is cancelled: collect finishes with what arrived (one last console read). */
  signal?: AbortSignal;
  /** The command's output as it arrives, byte for byte, in order. */
  onOutput?: (stream: OutputStream, data: Buffer) => void;
  /** Each step of the run, with ms since collect started. */
  onPhase?: (phase: CollectPhase, atMs: number) => void;
  log?: (level: "debug" | "info" | "warn", message: string) => void;
  /** Keep stdout/stderr in the result (default true); false when onOutput is all the caller needs. */
  retainOutput?: boolean;
}

/** How the guest's frames reached the host. */
export type Transport = "vsock" | "serial" | "vsock+serial" | "none";

export interface CollectMetrics {
  /** From the start of collect to its end. */
  wallMs: number;
  /** From the start of collect to the guest's connection, READY, STARTED, EXIT (null if it never came). */
  connectedMs: number | null;
  bootMs: number | null;
  startedMs: number | null;
  exitedMs: number | null;
  /** The command's own wall time, fork to reap, as the guest measured it. */
  runMs: number | null;
  userMs: number | null;
  sysMs: number | null;
  maxRssKiB: number | null;
  transport: Transport;
  streamFrames: number;
  consoleFrames: number;
  /** Genuine frames received twice (the serial fallback resends recent ones): ignored. */
  duplicateFrames: number;
}

export interface CollectResult {
  /** DONE arrived and verified: nothing was cut off. */
  complete: boolean;
  /** The command's exit code, or null when it was killed by a signal or never ran. */
  exitCode: number | null;
  /** The signal number that killed the command. */
  signal: number | null;
  /** The command ran longer than timeoutMs; stdout/stderr hold what it printed until then. */
  timedOut: boolean;
  /** The command did not start within bootTimeoutMs. */
  bootTimedOut: boolean;
  /** Kept bytes (empty when retainOutput is false: see outputBytes). */
  stdout: Buffer;
  stderr: Buffer;
  outputBytes: Record<OutputStream, number>;
  /** Bytes were dropped (max output size, by the guest or the host). */
  truncated: Record<OutputStream, boolean>;
  /** Guest path → host path of the saved file; null when it was not saved (missing, not regular, no output dir, …). */
  outputs: Record<string, string | null>;
  files: CollectedFile[];
  metrics: CollectMetrics;
  /** Frames that failed verification (bad MAC, bad seq, malformed, not base64): ignored. */
  forgedFrames: number;
  /** Why frames were rejected (the first few). */
  rejectedFrames: string[];
  /** Why guest-init could not run the job (its ERROR message). */
  guestError: string | null;
  /** guest-init's own lines from the console ("bencher-init: …"), the last few. */
  diagnostics: string[];
  /** Why the run did not end normally (the command could not run, no guest, stream lost, …), or an output file the host could not save. */
  error?: string;
}

const CONSOLE_POLL_MS = 100;
const STALL_CHECK_MS = 250;
/** How long to wait for the ACK to be handed to the socket. */
const ACK_FLUSH_MS = 2000;

export async function collect(req: CollectRequest, ctx: CollectContext = {}): Promise<CollectResult> {
  return new CollectRun(req, ctx).run();
}

class CollectRun {
  private readonly t0 = performance.now();
  private readonly key: Buffer;
  private readonly intake: GuestIntake;
  private readonly files: OutputFileStore;
  private readonly assembler: RunAssembler;
  private readonly marks: Partial<Record<CollectPhase, number>> = {};
  private server: Server | null = null;
  private socket: Socket | null = null;
  private streamUsable = true;
  /** The stream ended (or broke) before DONE: from then on only the console can bring the rest, and its silence ends the run. */
  private streamGone = false;
  private console: ConsoleTail | null = null;
  private timers: NodeJS.Timeout[] = [];
  private lastHeardMs = 0;
  private timedOut = false;
  private bootTimedOut = false;
  private error: string | undefined;
  private finished = false;
  private resolve!: (result: CollectResult) => void;

  constructor(private readonly req: CollectRequest, private readonly ctx: CollectContext) {
    this.key = req.keyHex ? Buffer.from(req.keyHex, "hex") : newRunKey();
    this.files = new OutputFileStore(req.job.outputPaths, req.outputDir, req.job.maxFileBytes);
    this.assembler = new RunAssembler(req.job.outputPaths.length, this.files, req.job.maxOutputBytes, ctx.retainOutput ?? true, {
      onOutput: ctx.onOutput,
      onPhase: (phase) => this.enter(phase),
    });
    this.intake = new GuestIntake(this.key, this.assembler, ctx.log);
  }

  async run(): Promise<CollectResult> {
    const { req } = this;
    if (req.outputDir !== undefined && !(existsSync(req.outputDir) && statSync(req.outputDir).isDirectory()))
      throw new Error(`collect: output directory ${req.outputDir} does not exist`);
    const job = encodeJob({ ...req.job, key: this.key }); // a bad job fails here, before any guest is involved
    const done = new Promise<CollectResult>((resolve) => (this.resolve = resolve));
    this.server = await listen(req.socketPath);
    this.server.on("connection", (socket) => this.connected(socket, job));
    this.enter("listening");

    if (req.consoleLog) {
      this.console = new ConsoleTail(req.consoleLog, (chunk) => this.fromConsole(chunk));
      this.console.start(CONSOLE_POLL_MS);
    }
    this.after(req.bootTimeoutMs, () => this.bootDeadline());
    this.timers.push(setInterval(() => this.checkStall(), STALL_CHECK_MS));
    const signal = this.ctx.signal;
    const onAbort = () => this.aborted(reason(signal!));
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await done;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private now(): number {
    return Math.round(performance.now() - this.t0);
  }

  private after(ms: number, action: () => void): void {
    this.timers.push(setTimeout(action, ms));
  }

  private enter(phase: CollectPhase): void {
    this.marks[phase] ??= this.now();
    this.ctx.onPhase?.(phase, this.marks[phase]!);
    if (phase === "running" && this.req.timeoutMs !== undefined) this.after(this.req.timeoutMs, () => this.commandDeadline());
    if (phase === "exited" || phase === "failed") this.lastHeardMs = this.now(); // the stall clock starts here
  }

  // ── the stream ────────────────────────────────────────────────────────

  private connected(socket: Socket, job: Buffer): void {
    if (this.socket || this.finished) {
      socket.destroy(); // one run, one connection
      return;
    }
    this.socket = socket;
    this.server?.close(); // nobody else may connect; closing also removes the socket file
    this.enter("connected");
    socket.on("error", (err) => this.ctx.log?.("debug", `guest stream: ${err.message}`));
    socket.on("data", (chunk: Buffer) => this.fromStream(chunk));
    // The server allows half-open streams (the ACK goes out after the guest's
    // last frame), so the guest's end shows as "end", not "close": a VM that
    // died mid-command would otherwise leave collect waiting for ever.
    socket.on("end", () => this.streamClosed());
    socket.on("close", () => this.streamClosed());
    socket.write(job);
  }

  private fromStream(chunk: Buffer): void {
    if (!this.streamUsable || this.finished) return;
    this.lastHeardMs = this.now();
    const broken = this.intake.fromStream(chunk);
    if (this.endIfOver()) return;
    if (broken) {
      this.streamUsable = false; // no frame boundaries left: the console may still bring the rest
      this.socket?.destroy();
      this.streamClosed();
    }
  }

  private streamClosed(): void {
    this.streamUsable = false;
    if (this.finished || this.streamGone) return;
    this.streamGone = true;
    const cut = this.intake.streamLeftoverBytes;
    if (cut > 0) this.ctx.log?.("debug", `guest stream ended inside a frame (${cut} bytes)`);
    // Without a console to fall back to, nothing more can come.
    if (!this.console) this.finish("the guest's stream ended before DONE");
    // With one, guest-init may still send the rest there; the stall clock starts now whatever the phase.
    else this.lastHeardMs = this.now();
  }

  // ── the serial console ────────────────────────────────────────────────

  private fromConsole(chunk: Buffer): void {
    if (this.finished) return;
    this.lastHeardMs = this.now();
    this.intake.fromConsole(chunk);
    this.endIfOver();
  }

  // ── ending ────────────────────────────────────────────────────────────

  /** Ends the run if the intake says it is over (DONE, or a broken protocol); ACKs a DONE that came on the stream. */
  private endIfOver(): boolean {
    const { intake } = this;
    if (this.finished || !intake.over) return this.finished;
    if (intake.protocolError !== null) {
      this.finish(`the guest broke the protocol: ${intake.protocolError}`);
    } else if (intake.doneVia === "stream" && this.socket && this.streamUsable) {
      const socket = this.socket;
      const ack = intake.ack();
      this.finish(undefined, new Promise<void>((resolve) => {
        socket.end(ack, () => resolve()); // PROTOCOL.md: ACK, then close
        setTimeout(resolve, ACK_FLUSH_MS).unref();
      }));
    } else {
      this.finish(); // DONE came over the console: the guest gave up on the stream, no ACK to send
    }
    return true;
  }

  private bootDeadline(): void {
    this.lastConsoleLook();
    const phase = this.assembler.phase;
    if (this.finished || (phase !== "hello" && phase !== "ready")) return;
    const seconds = `${this.req.bootTimeoutMs / 1000} s`;
    const what = !this.socket ? `no guest connected within ${seconds}`
      : phase === "hello" ? `the guest connected but sent no READY within ${seconds}`
      : `the guest did not start the command within ${seconds}`;
    this.bootTimedOut = true;
    this.finish(what);
  }

  private commandDeadline(): void {
    if (this.finished || this.assembler.phase !== "running") return;
    this.timedOut = true;
    this.finish();
  }

  private checkStall(): void {
    const phase = this.assembler.phase;
    if (this.finished || (!this.streamGone && phase !== "exited" && phase !== "failed")) return;
    if (this.now() - this.lastHeardMs < this.req.stallTimeoutMs) return;
    this.lastConsoleLook();
    const seconds = `${this.req.stallTimeoutMs / 1000} s`;
    this.finish(this.streamGone && phase !== "exited" && phase !== "failed"
      ? `the guest's stream ended before DONE, and its console brought nothing in the ${seconds} after`
      : `the guest sent nothing for ${seconds} after the command ${phase}, and no DONE`);
  }

  private aborted(why: string): void {
    this.lastConsoleLook(); // the VM is gone: whatever it last printed is all there will be
    this.finish(`the run was stopped before the guest's DONE (${why})`);
  }

  /** Reads the console to its end, a last line without newline included; may complete the run. */
  private lastConsoleLook(): void {
    if (!this.console || this.finished) return;
    this.console.readNew();
    if (this.finished) return;
    this.intake.endConsole();
    this.endIfOver();
  }

  /** Ends the run once: everything closed, the result handed back (after the ACK is flushed, if there is one). */
  private finish(error?: string, ackFlushed?: Promise<void>): void {
    if (this.finished) return;
    this.finished = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.console?.stop();
    this.server?.close();
    this.error = this.describeEnd(error);
    const result = this.result();
    if (!ackFlushed) {
      this.stopGuest();
      this.resolve(result);
      return;
    }
    void ackFlushed.then(() => {
      this.socket?.destroy();
      this.resolve(result);
    });
  }

  /**
   * Ends the stream without an ACK. A guest still on it gets STOP first: the
   * host has given up (timeout, interrupted, a broken run), so guest-init
   * kills the command and ends the VM rather than running on for nobody.
   */
  private stopGuest(): void {
    const socket = this.socket;
    if (!socket) return;
    if (!this.streamUsable || socket.destroyed) {
      socket.destroy();
      return;
    }
    socket.end(encodeStop(), () => socket.destroy());
    setTimeout(() => socket.destroy(), ACK_FLUSH_MS).unref();
  }

  private describeEnd(error: string | undefined): string | undefined {
    const { guestError } = this.assembler;
    if (guestError !== null) return `the guest could not run the command: ${guestError}`;
    if (this.timedOut || this.assembler.phase === "done") return undefined;
    const { diagnostics } = this.intake;
    const said = diagnostics.length ? ` (guest said: ${diagnostics[diagnostics.length - 1]})` : "";
    return `${error ?? "the run ended before the guest's DONE"}${said}`;
  }

  private result(): CollectResult {
    const a = this.assembler;
    const files = this.files.finish();
    const exit = a.exit;
    const outputs: Record<string, string | null> = {};
    for (const file of files) outputs[file.guestPath] = file.hostPath;
    const ms = (phase: CollectPhase) => this.marks[phase] ?? null;
    const { streamFrames, consoleFrames, duplicateFrames, forgedFrames, rejected, diagnostics } = this.intake;
    const result: CollectResult = {
      complete: a.phase === "done",
      exitCode: exit?.kind === "exited" ? exit.code : null,
      signal: exit?.kind === "signaled" ? exit.signal : null,
      timedOut: this.timedOut,
      bootTimedOut: this.bootTimedOut,
      stdout: a.output("stdout"),
      stderr: a.output("stderr"),
      outputBytes: { stdout: a.keptBytes("stdout"), stderr: a.keptBytes("stderr") },
      truncated: { stdout: a.truncated("stdout"), stderr: a.truncated("stderr") },
      outputs,
      files,
      metrics: {
        wallMs: this.now(),
        connectedMs: ms("connected"),
        bootMs: ms("ready"),
        startedMs: ms("running"),
        exitedMs: ms("exited"),
        runMs: exit ? Number(exit.wallNs) / 1e6 : null,
        userMs: exit ? Number(exit.userUs) / 1e3 : null,
        sysMs: exit ? Number(exit.sysUs) / 1e3 : null,
        maxRssKiB: exit ? Number(exit.maxRssKiB) : null,
        transport: streamFrames && consoleFrames ? "vsock+serial" : streamFrames ? "vsock" : consoleFrames ? "serial" : "none",
        streamFrames,
        consoleFrames,
        duplicateFrames,
      },
      forgedFrames,
      rejectedFrames: [...rejected],
      guestError: a.guestError,
      diagnostics: [...diagnostics],
    };
    // A file the guest sent but the host could not keep (disk full) is a failure to say, even after a clean end.
    const error = this.error ?? files.find((file) => file.error !== undefined)?.error;
    if (error !== undefined) result.error = error;
    return result;
  }
}

/** Listens on a new Unix socket; refuses a path that exists (another run's socket, or a file). */
function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: true });
    server.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "already exists" : err.code === "ENOENT" ? "its directory does not exist" : err.message;
      reject(new Error(`collect: cannot listen on ${path}: ${why}`));
    });
    server.listen(path, () => resolve(server));
  });
}

function reason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return r instanceof Error ? r.message : String(r ?? "aborted");
}
