// The coordinator side of the protocol: send one request to a running stage
// process, relay its progress, logs and events, and resolve with its result or reject
// with a StageError. Never hangs on a broken stage: a bad frame kills it, an
// exit without a result is an error that says so.
import type { Readable, Writable } from "node:stream";
import { encodeFrame, readFrames } from "./frame.js";
import { StageError, fromWireError, describeError } from "./errors.js";
import { parseStageMessage, type LogLevel } from "./messages.js";
import type { WireError } from "./errors.js";

/** What callStage needs of a process; a Node ChildProcess and an execa subprocess both fit. */
export interface StageChild {
  stdin: Writable | null;
  stdout: Readable | null;
  stderr?: Readable | null;
  exitCode: number | null;
  signalCode: NodeJS.Signals | null;
  kill(signal?: NodeJS.Signals | number): boolean;
  once(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
}

export interface CallOptions<Res> {
  /** The stage's name, used in errors the stage itself could not report. */
  stage: string;
  onProgress?: (fraction: number | null, message: string) => void;
  onLog?: (level: LogLevel, message: string) => void;
  /** Hears each event (a fact the stage tells before its result); `body` is the stage's, unchecked. */
  onEvent?: (name: string, body: unknown) => void;
  /** Validates the result body; throw a plain Error to refuse it. */
  parseResult?: (raw: unknown) => Res;
  /** Aborting asks the stage to stop (SIGTERM, or the reason's `signal` if SIGINT or SIGKILL: forwardedSignal; SIGKILL after `killAfterMs`). */
  signal?: AbortSignal;
  killAfterMs?: number;
}

const STDERR_TAIL_BYTES = 4096;
/** How long a stage may live on after its final frame or the end of its stdout before it is killed. */
export const EXIT_GRACE_MS = 2000;

/**
 * The signal that stops a stage: the user's Ctrl-C is passed on as such (the
 * stage reports what stopped it); a reason with `signal: "SIGKILL"` (a caller
 * that wants nothing more from the stage, not even its account) ends it at
 * once; anything else is SIGTERM.
 */
function forwardedSignal(reason: unknown): NodeJS.Signals {
  const signal = (reason as { signal?: unknown } | undefined)?.signal;
  return signal === "SIGINT" || signal === "SIGKILL" ? signal : "SIGTERM";
}

export async function callStage<Res = unknown>(child: StageChild, request: unknown, options: CallOptions<Res>): Promise<Res> {
  const { stage } = options;
  if (!child.stdin || !child.stdout) throw new StageError(stage, "stage process has no stdin/stdout pipes");

  const exited = waitForExit(child);
  const stderrTail = collectTail(child.stderr ?? null);

  const stop = () => {
    child.kill(forwardedSignal(options.signal?.reason));
    setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 5000).unref();
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });

  // A stage that died early makes this write fail with EPIPE; its exit explains why.
  child.stdin.on("error", () => {});
  child.stdin.end(encodeFrame({ type: "request", body: request }));

  // Once the stage has said all it will say (its final frame, or the end of its stdout) it gets a short
  // grace to exit; then its process (group) is killed, so that a stage that lingers cannot hang the caller.
  let lingered = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const startGrace = () => {
    graceTimer ??= setTimeout(() => {
      lingered = true;
      child.kill("SIGKILL");
    }, EXIT_GRACE_MS);
  };
  void exited.then(() => clearTimeout(graceTimer));

  let final: { type: "result"; body: unknown } | { type: "error"; error: WireError } | null = null;
  let protocolFailure: unknown = null;
  try {
    for await (const raw of readFrames(child.stdout)) {
      const message = parseStageMessage(raw);
      if (final) throw new StageError(stage, `protocol error: ${message.type} message after the final ${final.type}`);
      if (message.type === "progress") options.onProgress?.(message.fraction, message.message);
      else if (message.type === "log") options.onLog?.(message.level, message.message);
      else if (message.type === "event") options.onEvent?.(message.name, message.body);
      else {
        final = message;
        startGrace();
      }
    }
  } catch (err) {
    protocolFailure = err;
    child.stdout.destroy();
    child.kill("SIGKILL");
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }

  startGrace(); // stdout has ended (or broke): the stage has nothing more to say
  const { code, signal } = await exited;
  clearTimeout(graceTimer);
  if (protocolFailure) {
    if (protocolFailure instanceof StageError) throw protocolFailure;
    throw new StageError(stage, `protocol error: ${describeError(protocolFailure)}`, { cause: protocolFailure });
  }
  if (final?.type === "error") throw fromWireError(final.error, stage); // the stage called, whatever name it claims
  if (final?.type === "result") {
    if (!options.parseResult) return final.body as Res;
    try {
      return options.parseResult(final.body);
    } catch (err) {
      throw new StageError(stage, `invalid result: ${describeError(err)}`, { cause: err });
    }
  }
  if (lingered && !final) throw new StageError(stage, `stage closed its output without sending a result and did not exit within ${EXIT_GRACE_MS / 1000} s; killed it`);
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const tail = lastLine(stderrTail());
  throw new StageError(stage, `stage ${how} before sending a result${tail ? ` (stderr: ${tail})` : ""}`);
}

function waitForExit(child: StageChild): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Keeps the last few KiB of a stream so a crash can be explained. */
function collectTail(stream: Readable | null): () => string {
  if (!stream) return () => "";
  let tail = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    tail = Buffer.concat([tail, Buffer.from(chunk)]);
    if (tail.length > STDERR_TAIL_BYTES) tail = tail.subarray(tail.length - STDERR_TAIL_BYTES);
  });
  stream.on("error", () => {});
  return () => tail.toString("utf8");
}

function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return lines.length ? lines[lines.length - 1].slice(0, 300) : "";
}
