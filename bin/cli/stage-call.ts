// Runs one real stage in its sandbox for a CLI command: progress to the
// reporter, Ctrl-C to the stage, errors as StageErrors.
import type { LogLevel } from "../../lib/ipc/messages.js";
import { runSandboxed } from "../../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec, type StageName, type StagePaths } from "../../lib/sandbox/stage-policy.js";
import { interruptSignal } from "../../lib/workdir/interrupts.js";
import type { Reporter } from "./progress.js";

export interface StageCallOptions {
  /** Sees each log line first; returns true when it consumed it (e.g. collect's output events). */
  interceptLog?: (level: LogLevel, message: string) => boolean;
}

/**
 * `parseResult` checks the stage's result (the stage may be compromised): a bad
 * one is the stage's one-line error ("unpack: invalid result: ...").
 */
export function callSandboxedStage<Res>(
  stage: StageName, request: unknown, paths: StagePaths, reporter: Reporter, parseResult: (raw: unknown) => Res, options: StageCallOptions = {},
): Promise<Res> {
  return runSandboxed<Res>(stageSandboxSpec(stage, paths), request, {
    parseResult,
    signal: interruptSignal(),
    onProgress: (fraction, message) => reporter.progress(stage, fraction, message),
    onLog: (level, message) => {
      if (options.interceptLog?.(level, message)) return;
      reporter.log(stage, level, message);
    },
  }).finally(() => reporter.done());
}
