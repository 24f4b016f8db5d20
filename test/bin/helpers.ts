// Runs the real CLI (bin/bencher-run, the shim users run) as a child process.
import { execa } from "execa";
import { fileURLToPath } from "node:url";

export const cli = fileURLToPath(new URL("../../../bin/bencher-run", import.meta.url));

export interface CliRun { exitCode: number; stdout: string; stderr: string }

export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const r = await execa(cli, args, { reject: false, env, stdin: "ignore" });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}
