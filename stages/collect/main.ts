// The collect stage executable: one request in, one result out (lib/ipc).
// The guest's output streams to the coordinator as it arrives (stage-events.ts),
// so the result itself carries no stdout/stderr bytes, only their counts.
import { runStage, type StageContext } from "../../lib/ipc/stage.js";
import { collect, type CollectPhase } from "./collect.js";
import { parseCollectRequest, type CollectRequest } from "./request.js";
import { outputEventLines, phaseEventLine, STAGE_EVENT_LEVEL } from "./stage-events.js";

const PHASE_PROGRESS: Partial<Record<CollectPhase, string>> = {
  listening: "waiting for the guest to boot",
  ready: "guest up, starting the command",
  running: "command running",
  exited: "command exited, bringing back output files",
};

function collectStage(req: CollectRequest, ctx: StageContext) {
  return collect(req, {
    signal: ctx.signal,
    log: ctx.log,
    retainOutput: false,
    onOutput: (stream, data) => {
      for (const line of outputEventLines(stream, data)) ctx.log(STAGE_EVENT_LEVEL, line);
    },
    onPhase: (phase, atMs) => {
      ctx.log(STAGE_EVENT_LEVEL, phaseEventLine(phase, atMs));
      const progress = PHASE_PROGRESS[phase];
      if (progress) ctx.progress(null, progress);
    },
  });
}

runStage("collect", parseCollectRequest, collectStage);
