// Our VMM as the benchmarks run it: the boot stage executable, measured
// (wall time, peak RSS), given one request at once.
import { join } from "node:path";
import { callStage } from "../../lib/ipc/call.js";
import { projectRoot } from "../../lib/paths.js";
import type { BootRequest } from "../../stages/boot/request.js";
import type { BootResult } from "../../stages/boot/boot.js";
import { spawnMeasured, type MeasuredProcess } from "./measure.js";

export interface BootStageRun {
  process: MeasuredProcess;
  /** The stage's result or why there is none; never rejects. */
  outcome: Promise<{ result?: BootResult; error?: Error }>;
}

export function startBootStage(request: BootRequest): BootStageRun {
  const p = spawnMeasured(process.execPath, [join(projectRoot, "dist/stages/boot/main.js")], { stdio: ["pipe", "pipe", "pipe"] });
  const outcome = callStage<BootResult>(p.child, request, { stage: "boot" }).then(
    (result) => ({ result }),
    (error: Error) => ({ error }),
  );
  return { process: p, outcome };
}
