// Runs scenarios through the real pipeline (one fresh VM each, a few at a
// time) and checks each against its expectations.
import { runPipeline, PipelineError, type PipelineOptions } from "../../bin/pipeline-run.js";
import { describeError } from "../../lib/ipc/errors.js";
import { checkExpectations, type RunOutcome } from "./expectations.js";
import { scenarioImage } from "./image-cache.js";
import type { Scenario, ScenarioRun } from "./scenario.js";

export interface ScenarioOptions {
  kernel?: string;
  /** Generous by default: on a nested PVM host two VMs booting at once take minutes. */
  bootTimeoutSec?: number;
  workRoot?: string;
  signal?: AbortSignal;
  onProgress?(scenario: string, message: string): void;
}

export interface ScenarioOutcome {
  name: string;
  passed: boolean;
  /** One line per failed expectation. */
  problems: string[];
  outcome: RunOutcome;
  ms: number;
}

export const DEFAULT_SCENARIO_BOOT_TIMEOUT_SEC = 900;

/** The environment a scenario's envFill asks for: PREFIX0..PREFIXn, each value `valueBytes` long. */
export function filledEnv(fill: NonNullable<ScenarioRun["envFill"]>): string[] {
  const env: string[] = [];
  for (let i = 0; i < fill.count; i++) {
    const seed = `${i}:`;
    env.push(`${fill.prefix}${i}=${seed.repeat(Math.ceil(fill.valueBytes / seed.length)).slice(0, fill.valueBytes)}`);
  }
  return env;
}

export function pipelineOptionsFor(s: Scenario, image: string, o: ScenarioOptions): PipelineOptions {
  const run = s.run;
  const env = [...(run.env ?? []), ...(run.envFill ? filledEnv(run.envFill) : [])];
  return {
    image,
    ...(run.cmd ? { cmd: run.cmd } : {}),
    ...(run.entrypoint ? { entrypoint: run.entrypoint } : {}),
    ...(env.length ? { env } : {}),
    ...(run.workdir ? { workdir: run.workdir } : {}),
    ...(run.user !== undefined ? { user: run.user } : {}),
    ...(run.timeoutSec ? { timeoutSec: run.timeoutSec } : {}),
    ...(run.vcpus ? { vcpus: run.vcpus } : {}),
    ...(run.memoryMiB ? { memoryMiB: run.memoryMiB } : {}),
    ...(run.diskMiB ? { diskMiB: run.diskMiB } : {}),
    ...(run.outputs ? { outputs: run.outputs } : {}),
    ...(run.maxOutputSize !== undefined ? { maxOutputSize: run.maxOutputSize } : {}),
    ...(run.rootfs ? { rootfs: run.rootfs } : {}),
    ...(o.kernel ? { kernel: o.kernel } : {}),
    ...(o.workRoot ? { workRoot: o.workRoot } : {}),
    bootTimeoutSec: o.bootTimeoutSec ?? DEFAULT_SCENARIO_BOOT_TIMEOUT_SEC,
    signal: o.signal,
    onProgress: (message) => o.onProgress?.(s.name, message),
  };
}

export async function runScenario(s: Scenario, o: ScenarioOptions = {}): Promise<ScenarioOutcome> {
  const started = performance.now();
  let outcome: RunOutcome;
  try {
    const image = await scenarioImage(s.image, s.imageFormat);
    outcome = { result: await runPipeline(pipelineOptionsFor(s, image, o)) };
  } catch (err) {
    if (o.signal?.aborted) throw err;
    outcome = { error: err instanceof PipelineError ? err.message : describeError(err) };
  }
  const problems = checkExpectations(s.expect, outcome);
  return { name: s.name, passed: problems.length === 0, problems, outcome, ms: Math.round(performance.now() - started) };
}

/** Runs `scenarios`, at most `concurrency` at once, reporting each as it finishes; results in the given order. */
export async function runScenarios(scenarios: Scenario[], o: ScenarioOptions & { concurrency?: number; onDone?(outcome: ScenarioOutcome): void } = {}): Promise<ScenarioOutcome[]> {
  const outcomes: ScenarioOutcome[] = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    while (next < scenarios.length && !o.signal?.aborted) {
      const i = next++;
      outcomes[i] = await runScenario(scenarios[i]!, o);
      o.onDone?.(outcomes[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.concurrency ?? 2) }, worker));
  return outcomes;
}
