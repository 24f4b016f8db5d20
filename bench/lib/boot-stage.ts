// Our VMM as the benchmarks run it: the boot stage executable, measured
// (wall time, peak RSS), given one request.
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
  /** performance.now() when the request went out (undefined until then). */
  readonly requestSentAt: number | undefined;
}

/**
 * `sendAfterMs`: start the stage now and send its request that much later,
 * as the pipeline starts the boot stage ahead of the VM (beside collect):
 * the stage's start-up is then off the VM's critical path.
 */
export function startBootStage(request: BootRequest, opts: { sendAfterMs?: number } = {}): BootStageRun {
  const p = spawnMeasured(process.execPath, [join(projectRoot, "dist/stages/boot/main.js")], { stdio: ["pipe", "pipe", "pipe"] });
  let requestSentAt: number | undefined;
  const sendWhen = opts.sendAfterMs === undefined
    ? undefined
    : new Promise<void>((resolve) => setTimeout(() => {
      requestSentAt = performance.now();
      resolve();
    }, opts.sendAfterMs));
  if (sendWhen === undefined) requestSentAt = p.startedAt;
  const outcome = callStage<BootResult>(p.child, request, { stage: "boot", ...(sendWhen ? { sendWhen } : {}) }).then(
    (result) => ({ result }),
    (error: Error) => ({ error }),
  );
  return {
    process: p,
    outcome,
    get requestSentAt() {
      return requestSentAt;
    },
  };
}
