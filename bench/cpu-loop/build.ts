// Builds the static cpu-loop binary with musl-gcc, once per source version,
// under cacheRoot()/bench/cpu-loop-<hash of the source>.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { cacheRoot, projectRoot } from "../../lib/paths.js";

const SOURCE = join(projectRoot, "bench/cpu-loop/cpu-loop.c");
const FLAGS = ["-static", "-O2"];

export function cpuLoopBinary(): string {
  const source = readFileSync(SOURCE);
  const hash = createHash("sha256").update(source).update(FLAGS.join(" ")).digest("hex").slice(0, 16);
  const dir = join(cacheRoot(), "bench", `cpu-loop-${hash}`);
  const binary = join(dir, "cpu-loop");
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const temp = `${binary}.partial-${process.pid}`;
  try {
    execFileSync("musl-gcc", [...FLAGS, "-o", temp, SOURCE], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim().split("\n")[0];
    throw new Error(`cpu-loop: musl-gcc failed (install musl-tools): ${stderr ?? (err as Error).message}`);
  }
  renameSync(temp, binary);
  return binary;
}

/** The elapsed ns from each "cpu-loop ns=…" line of `output`. */
export function parseCpuLoopOutput(output: string): number[] {
  return [...output.matchAll(/^cpu-loop ns=(\d+) /gm)].map((m) => Number(m[1]));
}
