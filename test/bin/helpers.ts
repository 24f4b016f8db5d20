// Runs the real CLI (bin/bencher-run, the shim users run) as a child process.
import { execa } from "execa";
import { fileURLToPath } from "node:url";

export const cli = fileURLToPath(new URL("../../../bin/bencher-run", import.meta.url));

export interface CliRun { exitCode: number; stdout: string; stderr: string }

/** `timeoutMs`: kill it then (a hang fails the test instead of stalling the suite). */
export async function runCli(args: string[], env: Record<string, string> = {}, timeoutMs?: number): Promise<CliRun> {
  const r = await execa(cli, args, { reject: false, env, stdin: "ignore", ...(timeoutMs ? { timeout: timeoutMs, killSignal: "SIGKILL" as const } : {}) });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
