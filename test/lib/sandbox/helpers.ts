// Shared by the sandbox tests: run the probe stage under a stage's policy.
import { fileURLToPath } from "node:url";
import { giveToStage } from "../../../lib/sandbox/stage-identity.js";
import { runSandboxed } from "../../../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec, type StageName, type StagePaths } from "../../../lib/sandbox/stage-policy.js";

export const probeCommand = [process.execPath, fileURLToPath(new URL("./fixtures/probe-stage.js", import.meta.url))];

export interface Outcome { ok: boolean; code?: string; value?: any }

export function probeAs(stage: StageName, probe: Record<string, unknown>, paths: StagePaths = {}): Promise<Outcome> {
  for (const dir of paths.writable ?? []) giveToStage(dir);
  return runSandboxed<Outcome>(stageSandboxSpec(stage, { ...paths, command: probeCommand }), probe);
}
