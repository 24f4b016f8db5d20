// Runs one process and measures its wall time and peak resident memory.
// Peak memory comes from GNU time's %M (the kernel's ru_maxrss from wait4:
// the largest resident set of the process or of any descendant it waited
// for), which sees every page the process ever had, unlike sampling. Without
// /usr/bin/time (Debian package `time`) it falls back to sampling VmHWM of the
// direct child every 20 ms, which misses descendants.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandPid } from "./proc-memory.js";

export const GNU_TIME = "/usr/bin/time";

export interface Measurement {
  seconds: number;
  /** Peak resident set in KiB; undefined when it could not be measured. */
  peakKiB?: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export interface MeasuredProcess {
  /** The process (GNU time wrapping the command, when available): its stdio is the command's. */
  child: ChildProcess;
  /** Milliseconds (performance.now()) when the process was started. */
  startedAt: number;
  /** Settles when the process has exited. */
  done: Promise<Measurement>;
  /** Signals the command itself (not GNU time, which then still reports its peak memory). */
  kill(signal?: NodeJS.Signals): void;
  /** Kills the whole process group (time, the command and its children): cleanup only, no report. */
  killGroup(signal?: NodeJS.Signals): void;
  /** SIGTERM to the command (so it can clean up), then SIGKILL to the group if it is still there after `graceMs`. */
  stop(graceMs?: number): void;
}

const live = new Set<MeasuredProcess>();

/** Kills every measured process still running (on Ctrl-C or an error, so no VM is left behind). */
export function killAllMeasured(): void {
  for (const p of live) p.killGroup("SIGKILL");
}

export function peakMemorySource(): string {
  return existsSync(GNU_TIME) ? "GNU time %M (ru_maxrss)" : "VmHWM sampled every 20 ms (install Debian package `time` for ru_maxrss)";
}

export function spawnMeasured(file: string, args: readonly string[], options: SpawnOptions = {}): MeasuredProcess {
  const useTime = existsSync(GNU_TIME);
  const scratch = useTime ? mkdtempSync(join(tmpdir(), "bench-time-")) : undefined;
  const report = scratch ? join(scratch, "maxrss") : undefined;
  const [command, argv] = report ? [GNU_TIME, ["-f", "%M", "-o", report, file, ...args]] : [file, [...args]];
  const startedAt = performance.now();
  // Its own process group, so a kill reaches the command behind GNU time too.
  const child = spawn(command, argv, { ...options, detached: true });
  let sampledKiB = 0;
  const sampler = report
    ? undefined
    : setInterval(() => {
        try {
          const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
          if (match) sampledKiB = Math.max(sampledKiB, Number(match[1]));
        } catch {
          // gone already
        }
      }, 20);
  const measured: MeasuredProcess = {
    child,
    startedAt,
    done: new Promise<Measurement>((resolve, reject) => {
      child.once("error", (err) => {
        cleanup();
        reject(new Error(`${file}: ${err.message}`));
      });
      child.once("exit", (exitCode, signal) => {
        const seconds = (performance.now() - startedAt) / 1000;
        let peakKiB: number | undefined = sampledKiB || undefined;
        if (report) {
          // GNU time writes "Command exited with non-zero status N" before %M when the command fails.
          const lines = existsSync(report) ? readFileSync(report, "utf8").trim().split("\n") : [];
          const value = Number(lines.at(-1));
          peakKiB = lines.length && Number.isFinite(value) ? value : undefined;
        }
        cleanup();
        resolve({ seconds, peakKiB, exitCode, signal });
      });
    }),
    kill(signal = "SIGTERM") {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(useTime ? commandPid(child.pid) : child.pid, signal);
      } catch {
        // already gone
      }
    },
    stop(graceMs = 10_000) {
      measured.kill("SIGTERM");
      setTimeout(() => measured.killGroup("SIGKILL"), graceMs).unref();
    },
    killGroup(signal = "SIGKILL") {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    },
  };
  live.add(measured);
  function cleanup(): void {
    live.delete(measured);
    if (sampler) clearInterval(sampler);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  }
  return measured;
}

export interface CommandResult extends Measurement {
  stdout: string;
  stderr: string;
}

/** Runs a command to its end, collecting its output; a non-zero exit is an error naming the command. */
export async function measureCommand(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  const p = spawnMeasured(file, args, { env: options.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  p.child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
  p.child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = options.timeoutMs ? setTimeout(() => p.stop(), options.timeoutMs) : undefined;
  const m = await p.done.finally(() => clearTimeout(timer));
  // Let the pipes drain.
  await new Promise((r) => setImmediate(r));
  if (m.exitCode !== 0) {
    const why = m.signal ? `killed by ${m.signal}` : `exited with ${m.exitCode}`;
    const tail = stderr.trim().split("\n").slice(-3).join(" / ");
    throw new Error(`${[file, ...args].join(" ").slice(0, 120)} ${why}${tail ? `: ${tail}` : ""}`);
  }
  return { ...m, stdout, stderr };
}
