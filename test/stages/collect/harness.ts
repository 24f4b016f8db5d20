// Runs collect() against a real peer: guest-init's host-test mode (the same
// binary the VM boots) connecting to collect's Unix socket and running real
// commands in a busybox root, or a hand-written fake guest for hostile cases.
import { mkdtempSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newRunKey } from "../../../lib/guest-protocol/job.js";
import { collect, type CollectContext, type CollectResult, type OutputStream } from "../../../stages/collect/collect.js";
import { parseCollectRequest, type CollectRequest } from "../../../stages/collect/request.js";
import { startGuestInit, type GuestInitProcess } from "../../guest-init/host-harness.js";

export { makeRootfs, isRoot, processesRunning, startGuestInit, type GuestInitProcess } from "../../guest-init/host-harness.js";

/** A directory for sockets: short, since a Unix socket path has at most 107 bytes. */
export function socketDir(): string {
  return mkdtempSync(join(tmpdir(), "collect-"));
}

let socketCount = 0;
export function socketPathIn(dir: string): string {
  return join(dir, `vsock${socketCount++}_1024`);
}

/** A checked request (through parseCollectRequest, as the stage gets it) with a fresh key. */
export function requestFor(socketPath: string, argv: string[], more: Record<string, unknown> = {}, job: Record<string, unknown> = {}): CollectRequest {
  return parseCollectRequest({
    socketPath,
    keyHex: newRunKey().toString("hex"),
    job: { argv, env: ["PATH=/bin"], ...job },
    ...more,
  });
}

export interface Chunk {
  stream: OutputStream;
  data: Buffer;
  /** ms since collect started. */
  atMs: number;
}

export interface GuestRun {
  result: CollectResult;
  chunks: Chunk[];
  phases: string[];
  /** ms from the start of collect until it resolved. */
  tookMs: number;
  guest: GuestInitProcess | null;
  /** guest-init ended by itself (rather than being killed, as the VM would be). */
  guestEndedItself: boolean;
}

export interface GuestRunOptions {
  root: string;
  consoleLog?: string;
  /** Start guest-init this long after collect listens (a slow boot). */
  guestDelayMs?: number;
  /** Do not start any guest (a VM that never comes up). */
  noGuest?: boolean;
  /** Another socket guest-init connects to instead (a proxy in between). */
  guestSocket?: string;
  ctx?: CollectContext;
  /** How long guest-init may take to end by itself after an incomplete run before it is killed (default 0: at once). */
  guestGraceMs?: number;
}

/** collect() with guest-init started once collect listens; guest-init is killed afterwards, as the coordinator kills the VM. */
export async function runWithGuest(req: CollectRequest, options: GuestRunOptions): Promise<GuestRun> {
  const chunks: Chunk[] = [];
  const phases: string[] = [];
  const start = Date.now();
  let guest: GuestInitProcess | null = null;
  let delay: NodeJS.Timeout | undefined;
  const result = await collect(req, {
    ...options.ctx,
    onOutput: (stream, data) => chunks.push({ stream, data, atMs: Date.now() - start }),
    onPhase: (phase, atMs) => {
      phases.push(phase);
      options.ctx?.onPhase?.(phase, atMs);
      if (phase !== "listening" || options.noGuest) return;
      const go = () => (guest = startGuestInit(options.guestSocket ?? req.socketPath, options.root, options.consoleLog));
      if (options.guestDelayMs) delay = setTimeout(go, options.guestDelayMs);
      else go();
    },
  });
  const tookMs = Date.now() - start;
  clearTimeout(delay);
  const g = guest as GuestInitProcess | null;
  let ended = false;
  if (g) {
    // A complete run ends by itself (guest-init got its ACK); anything else is killed, as the VM would be.
    const graceMs = result.complete ? 5000 : options.guestGraceMs ?? 0;
    ended = await Promise.race([g.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), graceMs))]);
    if (!ended) g.child.kill("SIGKILL");
    await g.exited;
  }
  return { result, chunks, phases, tookMs, guest: g, guestEndedItself: ended };
}

/** All chunks of one stream, joined. */
export function joined(chunks: Chunk[], stream: OutputStream): Buffer {
  return Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data));
}

/** Connects to collect's socket as a guest would and reads the JOB frame. */
export async function connectFakeGuest(socketPath: string): Promise<{ socket: Socket; job: Buffer; received: () => Buffer }> {
  const socket = connect(socketPath);
  let buffered = Buffer.alloc(0);
  const jobReady = new Promise<Buffer>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32LE(0)) resolve(buffered.subarray(0, 4 + buffered.readUInt32LE(0)));
    });
  });
  const job = await jobReady;
  return { socket, job, received: () => buffered.subarray(job.length) };
}
