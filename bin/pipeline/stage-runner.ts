// Runs one sandboxed stage for a pipeline: its progress and logs go to the
// run's callbacks, the run's cancel signal stops it.
import type { LogLevel } from "../../lib/ipc/messages.js";
import { runSandboxed } from "../../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec, type StageName, type StagePaths } from "../../lib/sandbox/stage-policy.js";

export interface StageHooks {
  signal?: AbortSignal;
  onProgress?(stage: StageName, fraction: number | null, message: string): void;
  /** Sees each log line; returns true when it consumed it (collect's output events). */
  onLog?(stage: StageName, level: LogLevel, message: string): boolean | void;
  /** Hears a stage's events (`body` unchecked: the stage may be compromised). */
  onEvent?(stage: StageName, name: string, body: unknown): void;
}

/** `parseResult` checks the stage's result (the stage may be compromised): a bad one is the stage's one-line error. */
export function runStage<Res>(stage: StageName, request: unknown, paths: StagePaths, hooks: StageHooks, parseResult: (raw: unknown) => Res): Promise<Res> {
  return runSandboxed<Res>(stageSandboxSpec(stage, paths), request, {
    parseResult,
    signal: hooks.signal,
    onProgress: (fraction, message) => hooks.onProgress?.(stage, fraction, message),
    onLog: (level, message) => void hooks.onLog?.(stage, level, message),
    onEvent: (name, body) => hooks.onEvent?.(stage, name, body),
  });
}
