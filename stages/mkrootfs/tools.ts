// Running the e2fsprogs and squashfs-tools binaries. They live in /usr/sbin,
// which an unprivileged user's PATH often lacks, so we look there too.
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";

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
}

/**
 * Runs a tool to completion. Non-zero exit, a signal or an abort throw an
 * Error whose message is the tool's last stderr line, for `describe` to wrap.
 */
export async function runTool(name: string, args: string[], signal?: AbortSignal, env: Record<string, string> = {}): Promise<ToolResult & { exitCode: number }> {
  const result = await execa(findTool(name), args, {
    reject: false,
    stdin: "ignore",
    cancelSignal: signal,
    env: { LC_ALL: "C", ...env },
    extendEnv: true,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.isCanceled) throw signal?.reason instanceof Error ? signal.reason : new Error(`${name} stopped: aborted`);
  const stdout = String(result.stdout ?? "");
  const stderr = String(result.stderr ?? "");
  if (result.exitCode === undefined) {
    throw new Error(`${name} ${result.signal ? `killed by ${result.signal}` : `could not run: ${result.originalMessage ?? result.shortMessage}`}`);
  }
  return { stdout, stderr, exitCode: result.exitCode };
}

/** The last non-empty line of a tool's output: usually the one that says what went wrong. */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.length > 0 ? lines[lines.length - 1] : "(no output)";
}
