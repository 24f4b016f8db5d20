// Runs one real stage in its sandbox for a CLI command: progress to the
// reporter, Ctrl-C to the stage, errors as StageErrors.
import { runSandboxed } from "../../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec, type StageName, type StagePaths } from "../../lib/sandbox/stage-policy.js";
import { interruptSignal } from "../../lib/workdir/interrupts.js";
import type { Reporter } from "./progress.js";

export function callSandboxedStage<Res>(stage: StageName, request: unknown, paths: StagePaths, reporter: Reporter): Promise<Res> {
  return runSandboxed<Res>(stageSandboxSpec(stage, paths), request, {
    signal: interruptSignal(),
    onProgress: (fraction, message) => reporter.progress(stage, fraction, message),
    onLog: (level, message) => reporter.log(stage, level, message),
  }).finally(() => reporter.done());
}
