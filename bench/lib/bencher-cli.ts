// bencher-run's own commands as a user runs them (CLI → sandboxed stage),
// measured. Peers are measured the same way (lib/measure.ts).
import { join } from "node:path";
import { projectRoot } from "../../lib/paths.js";
import { measureCommand, type CommandResult } from "./measure.js";

const CLI = join(projectRoot, "dist/bin/bencher-run.js");

/** `bencher-run <args> --json`, measured; `cache` sets BENCHER_RUN_CACHE (a fresh one makes mkrootfs cold). */
export async function bencherRun(args: string[], options: { cache?: string; timeoutMs?: number } = {}): Promise<CommandResult & { json: Record<string, unknown> }> {
  const env = { ...process.env, ...(options.cache ? { BENCHER_RUN_CACHE: options.cache } : {}) };
  const result = await measureCommand(process.execPath, [CLI, ...args, "--json"], { env, timeoutMs: options.timeoutMs ?? 30 * 60_000 });
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    throw new Error(`bencher-run ${args[0]}: output is not JSON: ${result.stdout.slice(0, 200)}`);
  }
  return { ...result, json };
}
