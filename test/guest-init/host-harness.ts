// Runs guest-init's host-test mode (the same binary the VM boots) against a
// real root directory, with the real host side: collect() from
// stages/collect, the code users run, listens, sends the JOB, verifies and
// assembles the frames and ACKs. Between the two sits a byte proxy standing
// in for the VMM's vsock bridge: it records what guest-init sent and can
// break the stream the ways a failing vsock would. Needs root (mounts,
// namespaces, setuid).
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { locateGuestInit } from "../../guest-init/locate.js";
import { newRunKey, type GuestJob } from "../../lib/guest-protocol/job.js";
import { collect, type CollectPhase, type CollectResult, type OutputStream } from "../../stages/collect/collect.js";
import { GuestIntake } from "../../stages/collect/guest-intake.js";
import { OutputFileStore } from "../../stages/collect/output-files.js";
import { parseCollectRequest } from "../../stages/collect/request.js";
import { RunAssembler } from "../../stages/collect/run-assembler.js";

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

/** Processes on this host whose command line is exactly `cmdline` (a workload's PID namespace is nested in ours, so they show). */
export function processesRunning(cmdline: string): number {
  return readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim() === cmdline;
    } catch {
      return false; // gone meanwhile
    }
  }).length;
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

export interface GuestInitProcess {
  child: ChildProcess;
  /** guest-init's exit code. */
  exited: Promise<number | null>;
  /** What it wrote to stderr (its diagnostics). */
  stderr: () => string;
}

/** Starts guest-init's host test: it connects to `socketPath` once, runs the job, waits for the ACK. */
export function startGuestInit(socketPath: string, root: string, consoleLog?: string, cpus?: string): GuestInitProcess {
  const args = ["--host-test", "--socket", socketPath, "--root", root];
  if (consoleLog) args.push("--console", consoleLog);
  if (cpus !== undefined) args.push("--cpus", cpus);
  const command = isRoot ? locateGuestInit() : "unshare";
  const child = spawn(command, isRoot ? args : ["--user", "--map-root-user", locateGuestInit(), ...args], {
    // fd 3: an inherited descriptor guest-init must not pass on to the workload.
    stdio: ["ignore", "ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

/** How the proxy between guest-init and collect breaks the stream. */
export interface StreamFaults {
  /** Cut both ways as soon as the JOB went down. */
  cutAfterJob?: boolean;
  /** Pass up this many whole guest frames, then cut both ways. */
  cutAfterFrames?: number;
  /** Keep collect's ACK from guest-init and close its side, as a host that lost the connection would. */
  noAck?: boolean;
  /** Send guest-init this instead of collect's JOB frame. */
  rawJob?: Buffer;
}

/**
 * A Unix socket at `path` that passes one connection on to `upstream` byte
 * for byte (half-closes included), applying `faults`. `recorded()` is every
 * byte guest-init sent.
 */
export async function streamProxy(path: string, upstream: string, faults: StreamFaults = {}): Promise<{ server: Server; recorded: () => Buffer }> {
  const sent: Buffer[] = [];
  const server = createServer({ allowHalfOpen: true }, (guest) => {
    const host = connect({ path: upstream, allowHalfOpen: true });
    const cut = () => {
      guest.destroy();
      host.destroy();
    };
    guest.on("error", () => {});
    host.on("error", () => {});
    guest.on("close", () => host.end());
    host.on("close", () => guest.destroy());

    // Down: the JOB (or its stand-in), then the ACK unless it is withheld.
    let job = Buffer.alloc(0);
    let jobSent = false;
    host.on("data", (chunk: Buffer) => {
      if (jobSent) {
        if (!faults.noAck) guest.write(chunk);
        return;
      }
      job = Buffer.concat([job, chunk]);
      if (job.length < 4 || job.length < 4 + job.readUInt32LE(0)) return;
      jobSent = true;
      const rest = job.subarray(4 + job.readUInt32LE(0));
      guest.write(faults.rawJob ?? job.subarray(0, 4 + job.readUInt32LE(0)), () => {
        if (faults.cutAfterJob) cut();
      });
      if (rest.length && !faults.noAck) guest.write(rest);
    });
    host.on("end", () => (faults.noAck ? guest.destroy() : guest.end()));

    // Up: every byte recorded; with cutAfterFrames, only whole frames up to the cut.
    let pending = Buffer.alloc(0);
    let frames = 0;
    let cutDone = false;
    guest.on("data", (chunk: Buffer) => {
      sent.push(chunk);
      if (faults.cutAfterFrames === undefined) return void host.write(chunk);
      if (cutDone) return;
      pending = Buffer.concat([pending, chunk]);
      let passed = 0;
      while (frames < faults.cutAfterFrames && pending.length - passed >= 4 && pending.length - passed >= 4 + pending.readUInt32LE(passed)) {
        passed += 4 + pending.readUInt32LE(passed);
        frames++;
      }
      host.write(pending.subarray(0, passed));
      pending = pending.subarray(passed);
      if (frames === faults.cutAfterFrames) {
        cutDone = true;
        host.end(() => cut());
      }
    });
    guest.on("end", () => host.end());
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { server, recorded: () => Buffer.concat(sent) };
}

export interface HostRun {
  /** What collect made of the run: what a user gets. */
  result: CollectResult;
  /** Every byte guest-init sent on the stream, for tamper tests and replays. */
  streamBytes: Buffer;
  /** collect's phases, in order. */
  phases: CollectPhase[];
  /** Output chunks as collect handed them on, with their arrival (ms since guest-init connected). */
  chunks: { stream: OutputStream; data: Buffer; atMs: number }[];
  /** guest-init's own exit code and stderr (diagnostics). */
  initExitCode: number | null;
  initStderr: string;
}

export interface HostRunOptions extends StreamFaults {
  root: string;
  /** A file standing in for the serial console; collect follows it as it follows the VMM's console log. */
  console?: string;
  /** Kill guest-init (as a VM timeout would) after this many ms. */
  killAfterMs?: number;
  /** The workload's CPUs (guest-init's --cpus, standing in for bencher.cpus= on the kernel command line). */
  cpus?: string;
}

/** How long collect may go on once guest-init has exited (the stream's last bytes, the console's last lines) before it hears the "VM" is gone. */
const AFTER_GUEST_EXIT_MS = 1000;

export async function runHostTest(job: GuestJob, options: HostRunOptions): Promise<HostRun> {
  const work = mkdtempSync(join(tmpdir(), "guest-init-sock-"));
  const { key, ...fields } = job;
  // Through parseCollectRequest, as the collect stage gets its request.
  const req = parseCollectRequest({
    socketPath: join(work, "collect.sock"),
    keyHex: Buffer.from(key).toString("hex"),
    job: { ...fields, maxOutputBytes: Number(job.maxOutputBytes), maxFileBytes: Number(job.maxFileBytes) },
    consoleLog: options.console,
  });
  const proxy = await streamProxy(join(work, "guest.sock"), req.socketPath, options);
  const phases: CollectPhase[] = [];
  const chunks: HostRun["chunks"] = [];
  let connectedAt = 0;
  let killer: NodeJS.Timeout | undefined;
  let guestStarted!: (guest: GuestInitProcess) => void;
  const guest = new Promise<GuestInitProcess>((resolve) => (guestStarted = resolve));
  const vmGone = new AbortController();
  try {
    const collected = collect(req, {
      signal: vmGone.signal,
      onOutput: (stream, data) => chunks.push({ stream, data, atMs: Date.now() - connectedAt }),
      onPhase: (phase) => {
        phases.push(phase);
        if (phase === "connected") connectedAt = Date.now();
        if (phase !== "listening") return;
        const g = startGuestInit(join(work, "guest.sock"), options.root, options.console, options.cpus);
        killer = setTimeout(() => g.child.kill("SIGKILL"), options.killAfterMs ?? 60_000);
        guestStarted(g);
      },
    });
    // collect refusing its request ends the run before any guest starts.
    const started = await Promise.race([guest, collected.then(() => null)]);
    if (!started) throw new Error("host harness: collect ended before it listened");
    const initExitCode = await started.exited;
    clearTimeout(killer);
    // guest-init has exited, as a VM resets: collect gets a moment for what is in flight, then learns the VM is gone.
    await Promise.race([collected, new Promise((r) => setTimeout(r, AFTER_GUEST_EXIT_MS))]);
    vmGone.abort(new Error("guest-init exited"));
    const result = await collected;
    return { result, streamBytes: proxy.recorded(), phases, chunks, initExitCode, initStderr: started.stderr() };
  } finally {
    clearTimeout(killer);
    proxy.server.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Bytes guest-init sent, fed afresh through collect's own intake (as collect
 * would take them from the stream, then the console), for what collect's
 * result does not keep: the EXIT report as sent, duplicate counts of a
 * replay, the verdict on a tampered stream.
 */
export function replay(job: GuestJob, bytes: { stream?: Buffer; console?: Buffer }): { intake: GuestIntake; assembler: RunAssembler } {
  const limit = Number(job.maxOutputBytes);
  const files = new OutputFileStore(job.outputPaths, undefined, Number(job.maxFileBytes));
  const assembler = new RunAssembler(job.outputPaths.length, files, limit, true);
  const intake = new GuestIntake(job.key, assembler);
  if (bytes.stream) intake.fromStream(bytes.stream);
  if (bytes.console) {
    intake.fromConsole(bytes.console);
    intake.endConsole();
  }
  return { intake, assembler };
}

export function text(buffer: Buffer): string {
  return buffer.toString("utf8");
}

/** The present file's bytes, or "" when it came back without data (missing, not regular, unreadable). */
export function fileText(file: { data: Buffer | null } | undefined): string {
  return file?.data?.toString("utf8") ?? "";
}
