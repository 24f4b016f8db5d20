// Runs guest-init's host-test mode (the same binary the VM boots) against a
// real Unix socket and a real root directory, and collects the result with
// the real host-side codec. Needs root (mounts, namespaces, setuid).
import { spawn, execFileSync } from "node:child_process";
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateGuestInit } from "../../guest-init/locate.js";
import { encodeJob, newRunKey, type GuestJob } from "../../lib/guest-protocol/job.js";
import { GuestSession } from "../../lib/guest-protocol/guest-session.js";
import type { GuestMessage } from "../../lib/guest-protocol/messages.js";
import type { GuestRunResult } from "../../lib/guest-protocol/result-collector.js";

export const isRoot = process.getuid?.() === 0;

/** A small image: busybox, a crashing program, users and groups. Remove with rmSync(dir). */
export function makeRootfs(): string {
  const dir = mkdtempSync(join(tmpdir(), "guest-init-root-"));
  chmodSync(dir, 0o755); // an image root is world-readable; mkdtemp makes 0700
  for (const d of ["bin", "etc", "dev", "proc", "sys", "tmp", "home/bench", "root", "data"]) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, "tmp"), 0o1777);
  copyFileSync("/bin/busybox", join(dir, "bin/busybox"));
  chmodSync(join(dir, "bin/busybox"), 0o755);
  for (const applet of execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n")) {
    if (applet && applet !== "busybox") symlinkSync("busybox", join(dir, "bin", applet));
  }
  writeFileSync(
    join(dir, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nbench:x:1000:1000:Bench:/home/bench:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
  );
  writeFileSync(join(dir, "etc/group"), "root:x:0:\nbench:x:1000:\nextra:x:2000:bench\ntools:x:3000:other,bench\nnogroup:x:65534:\n");
  const crash = join(dir, "crash.c");
  writeFileSync(crash, "int main(void){ *(volatile int*)0 = 1; return 0; }\n");
  execFileSync("musl-gcc", ["-static", "-Os", "-o", join(dir, "bin/crash"), crash]);
  rmSync(crash);
  return dir;
}

export function jobFor(argv: string[], more: Partial<GuestJob> = {}): GuestJob {
  return {
    argv,
    env: ["PATH=/bin"],
    workingDir: "/",
    user: "",
    outputPaths: [],
    rootfsType: "ext4",
    maxOutputBytes: 64 << 20,
    maxFileBytes: 64 << 20,
    key: newRunKey(),
    ...more,
  };
}

export interface HostRun {
  result: GuestRunResult;
  /** The host session, to feed console output into after the run. */
  session: GuestSession;
  /** Every byte guest-init sent on the stream, for tamper tests. */
  streamBytes: Buffer;
  messages: GuestMessage[];
  /** guest-init's own exit code and stderr (diagnostics). */
  initExitCode: number | null;
  initStderr: string;
  /** Arrival time (ms since connection) of each message, in order. */
  arrivals: number[];
}

export interface HostRunOptions {
  root: string;
  /** A file standing in for the serial console. */
  console?: string;
  /** Called on the connection once the job is written (e.g. to cut it). */
  afterJob?: (socket: Socket) => void;
  /** Kill guest-init (as a VM timeout would) after this many ms. */
  killAfterMs?: number;
  /** Cut the stream (as a failing vsock would) once this many messages arrived. */
  cutAfterMessages?: number;
  /** Close after DONE without the ACK, as a host that lost the connection would. */
  noAck?: boolean;
  /** Raw job frame instead of encodeJob(job). */
  rawJob?: Buffer;
}

export async function runHostTest(job: GuestJob, options: HostRunOptions): Promise<HostRun> {
  const work = mkdtempSync(join(tmpdir(), "guest-init-sock-"));
  const socketPath = join(work, "guest.sock");
  const session = new GuestSession(job.key, job.outputPaths);
  const messages: GuestMessage[] = [];
  const arrivals: number[] = [];
  const chunks: Buffer[] = [];
  let started = 0;
  session.onMessage = (m) => {
    messages.push(m);
    arrivals.push(Date.now() - started);
  };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  let streamError: Error | null = null;
  const connection = new Promise<void>((resolve) => {
    server.once("connection", (socket) => {
      started = Date.now();
      socket.write(options.rawJob ?? encodeJob(job), () => options.afterJob?.(socket));
      socket.on("data", (chunk) => {
        chunks.push(chunk);
        if (streamError) return;
        try {
          session.fromStream(chunk);
          if (session.done) {
            if (options.noAck) socket.destroy();
            else socket.end(session.ack()); // PROTOCOL.md: ACK, then close
          }
          else if (options.cutAfterMessages !== undefined && messages.length >= options.cutAfterMessages) socket.destroy();
        } catch (error) {
          streamError = error as Error;
          socket.destroy();
        }
      });
      socket.on("close", () => resolve());
      socket.on("error", () => {});
    });
  });
  const args = ["--host-test", "--socket", socketPath, "--root", options.root];
  if (options.console) args.push("--console", options.console);
  const command = isRoot ? locateGuestInit() : "unshare";
  const child = spawn(command, isRoot ? args : ["--user", "--map-root-user", locateGuestInit(), ...args], {
    // fd 3: an inherited descriptor guest-init must not pass on to the workload.
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let initStderr = "";
  child.stderr!.on("data", (d) => (initStderr += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 60_000);
  const initExitCode = await new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  clearTimeout(killer);
  await Promise.race([connection, new Promise((r) => setTimeout(r, 1000))]);
  server.close();
  rmSync(work, { recursive: true, force: true });
  if (streamError) throw streamError;
  return { result: session.result(), session, streamBytes: Buffer.concat(chunks), messages, initExitCode, initStderr, arrivals };
}

export function text(buffer: Buffer): string {
  return buffer.toString("utf8");
}
