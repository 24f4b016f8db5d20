// Running the e2fsprogs and squashfs-tools binaries. They live in /usr/sbin,
// which an unprivileged user's PATH often lacks, so we look there too.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";

const found = new Map<string, string>();

/** The absolute path of a tool, or a one-line error saying it is missing. */
export function findTool(name: string): string {
  const known = found.get(name);
  if (known) return known;
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/sbin", "/sbin", "/usr/bin", "/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      found.set(name, candidate);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`${name} not found (install ${name.startsWith("mksquashfs") ? "squashfs-tools" : "e2fsprogs"})`);
}

export interface ToolResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Output kept per stream: enough for any error message, bounded against a flood. */
const MAX_OUTPUT = 1 << 20;
/** After an abort, SIGTERM; SIGKILL if the tool is still there this much later. */
const KILL_AFTER_MS = 3000;

/**
 * Runs a tool to completion and returns its exit code and output (plain
 * child_process: execa's start-up costs tens of milliseconds per call, which
 * shows on small images). A signal or an abort throws.
 */
export function runTool(name: string, args: string[], signal?: AbortSignal, env: Record<string, string> = {}): Promise<ToolResult> {
  const file = findTool(name);
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C", ...env } });
    const output = { stdout: "", stderr: "" };
    for (const stream of ["stdout", "stderr"] as const) {
      child[stream].setEncoding("utf8");
      child[stream].on("data", (chunk: string) => {
        if (output[stream].length < MAX_OUTPUT) output[stream] += chunk;
      });
    }
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_AFTER_MS);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const settle = () => {
      signal?.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
    };
    child.on("error", (err) => {
      settle();
      reject(new Error(`${name} could not run: ${err.message}`));
    });
    child.on("close", (code, killedBy) => {
      settle();
      if (signal?.aborted) reject(signal.reason instanceof Error ? signal.reason : new Error(`${name} stopped: aborted`));
      else if (code === null) reject(new Error(`${name} killed by ${killedBy}`));
      else resolve({ ...output, exitCode: code });
    });
  });
}

/** The last non-empty line of a tool's output: usually the one that says what went wrong. */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1] : "(no output)";
}
