// One sandboxed stage call from start to end: start it, talk the protocol,
// and make sure nothing of it is left running whatever happens.
import { join } from "node:path";
import { callStage, type CallOptions } from "../ipc/call.js";
import { projectRoot } from "../paths.js";
import { startSandboxedStage, type SandboxSpec } from "./launch.js";

/** The command that runs a compiled stage: node dist/stages/<name>/main.js. */
export function stageCommand(name: string): string[] {
  return [process.execPath, join(projectRoot, "dist", "stages", name, "main.js")];
}

export async function runSandboxed<Res>(spec: SandboxSpec, request: unknown, options: Omit<CallOptions<Res>, "stage"> = {}): Promise<Res> {
  const child = startSandboxedStage(spec);
  try {
    return await callStage<Res>(child, request, { ...options, stage: spec.stage });
  } finally {
    child.kill("SIGKILL");
    await child.exited;
  }
}
