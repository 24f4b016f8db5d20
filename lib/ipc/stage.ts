// The stage side of the protocol. A stage's main.ts is one call:
//   runStage("unpack", parseUnpackRequest, unpack);
// It reads one request frame from stdin, runs the handler, and writes
// progress/log frames and a final result or error frame to stdout. Exit
// status: 0 after a result, 1 after an error. SIGTERM/SIGINT abort ctx.signal.
import type { Readable, Writable } from "node:stream";
import { encodeFrame, readFrames } from "./frame.js";
import { toWireError, describeError } from "./errors.js";
import { parseRequestMessage, type LogLevel, type StageMessage } from "./messages.js";

export interface StageContext {
  /** Reports how far along the stage is; fraction in [0, 1] or null when unknown. */
  progress(fraction: number | null, message: string): void;
  log(level: "debug" | "info" | "warn", message: string): void;
  /** Tells the coordinator a fact before the result, for it to act on at once (`body`: plain data). Optional for handlers called in process. */
  event?(name: string, body: unknown): void;
  /** Aborted when the coordinator asks the stage to stop (SIGTERM/SIGINT). */
  signal: AbortSignal;
}

export type StageHandler<Req, Res> = (req: Req, ctx: StageContext) => Promise<Res>;

/** How long a handler may take to wind down after an abort before the stage exits anyway. */
export const ABORT_GRACE_MS = 3000;

/**
 * Runs a stage as the current process (stdin/stdout are the protocol pipes)
 * and exits when done. `parseRequest` throws a plain Error with a one-line
 * message when the request is bad.
 */
export function runStage<Req, Res>(
  name: string,
  parseRequest: (raw: unknown) => Req,
  handler: (req: Req, ctx: StageContext) => Promise<Res>,
): void {
  // stdout carries frames: anything a stage or a library prints must go to stderr.
  const toStderr = (...args: unknown[]) => console.error(...args);
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;

  const controller = new AbortController();
  let finished = false;
  const output = process.stdout;
  // A handler awaiting only a promise leaves no handle open; without this Node
  // would exit 0 mid-handler with no result.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const finish = (code: number) => {
    if (finished) return;
    finished = true;
    clearInterval(keepAlive);
    // Exit only once the last frame is handed to the pipe.
    output.write("", () => process.exit(code));
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) return;
    controller.abort(new Error(`${name} stopped by ${signal}`));
    // A handler that ignores the abort still ends: report and exit after a grace period.
    setTimeout(() => {
      writeQuietly(output, { type: "error", error: { stage: name, name: "AbortError", message: `stopped by ${signal}` } });
      finish(1);
    }, ABORT_GRACE_MS).unref();
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  // The coordinator went away: nobody will read our frames, stop.
  output.on("error", () => {
    controller.abort(new Error(`${name}: coordinator closed the pipe`));
    finished = true;
    process.exit(1);
  });

  serveStage({ name, parseRequest, handler, input: process.stdin, output, signal: controller.signal })
    .then(finish, (err) => {
      process.stderr.write(`${name}: internal error: ${describeError(err)}\n`);
      finish(1);
    });
}

export interface ServeOptions<Req, Res> {
  name: string;
  parseRequest: (raw: unknown) => Req;
  handler: StageHandler<Req, Res>;
  input: Readable;
  output: Writable;
  signal: AbortSignal;
}

/** The protocol loop without the process around it; resolves to the exit status (0 or 1). */
export async function serveStage<Req, Res>(options: ServeOptions<Req, Res>): Promise<0 | 1> {
  const { name, output, signal } = options;
  let done = false;
  const send = (message: StageMessage) => {
    if (!done) writeQuietly(output, message);
  };
  const fail = (err: unknown): 1 => {
    send({ type: "error", error: toWireError(err, name) });
    done = true;
    return 1;
  };

  let request: Req;
  try {
    // Stopped while still waiting for the request: nothing to wind down, end now.
    request = options.parseRequest(parseRequestMessage(await untilAborted(readOneFrame(options.input), signal)).body);
  } catch (err) {
    return fail(err);
  }

  const ctx: StageContext = {
    progress(fraction, message) {
      send({ type: "progress", fraction: normaliseFraction(fraction), message: String(message) });
    },
    log(level: LogLevel, message) {
      send({ type: "log", level: level === "debug" || level === "warn" ? level : "info", message: String(message) });
    },
    event(name, body) {
      send({ type: "event", name, body: body === undefined ? null : body });
    },
    signal,
  };

  try {
    const body = await options.handler(request, ctx);
    send({ type: "result", body: body === undefined ? null : body });
    done = true;
    return 0;
  } catch (err) {
    return fail(err);
  }
}

function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function readOneFrame(input: Readable): Promise<unknown> {
  // Leaving the loop after the first frame stops reading stdin.
  for await (const message of readFrames(input)) return message;
  throw new Error("no request: stdin closed before a request frame arrived");
}

function normaliseFraction(fraction: number | null): number | null {
  if (fraction === null || typeof fraction !== "number" || Number.isNaN(fraction)) return null;
  return Math.min(1, Math.max(0, fraction));
}

function writeQuietly(output: Writable, message: StageMessage): void {
  let frame: Buffer;
  try {
    frame = encodeFrame(message);
  } catch (err) {
    // A result too big for one frame becomes an error the coordinator can read.
    if (message.type !== "result") return;
    frame = encodeFrame({ type: "error", error: toWireError(err, "ipc") });
  }
  if (!output.destroyed && output.writable) output.write(frame);
}
