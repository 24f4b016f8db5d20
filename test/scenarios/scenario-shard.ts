// Runs one share of the scenarios (every Nth, by file order) through real
// VMs, two at a time (one at a time in the emulated KVM host: its software
// CPU panics its own kernel more often with two VMs), as one uvu test per
// scenario. The scenarios are split over several test files because
// test/run.ts gives a VM test file 20 minutes (10 in the emulated host) and
// a VM takes minutes to boot on a nested PVM host.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadScenarios } from "../../scenarios/runner/scenario.js";
import { runScenarios, type ScenarioOutcome } from "../../scenarios/runner/run-scenarios.js";
import { EMULATED_HOST_VARIABLE } from "../emulated-host-files.js";

export const SHARDS = 4;

export function runShard(shard: number): void {
  const scenarios = loadScenarios().filter((_, i) => i % SHARDS === shard - 1);
  const waiting = new Map<string, (o: ScenarioOutcome) => void>();
  const outcomes = new Map(scenarios.map((s) => [s.name, new Promise<ScenarioOutcome>((resolve) => waiting.set(s.name, resolve))]));
  let pool: Promise<unknown> | null = null;
  const start = () => {
    pool ??= runScenarios(scenarios, {
      concurrency: process.env[EMULATED_HOST_VARIABLE] ? 1 : 2,
      onDone: (o) => {
        process.stdout.write(`  ${o.name}: ${o.passed ? "passed" : "FAILED"} in ${(o.ms / 1000).toFixed(1)} s${"result" in o.outcome ? `, boot ${o.outcome.result.metrics.bootMs} ms, command ${Math.round(o.outcome.result.metrics.runMs ?? 0)} ms` : ""}\n`);
        waiting.get(o.name)!(o);
      },
    });
    return pool;
  };
  for (const s of scenarios) {
    test(s.name, async () => {
      void start();
      const o = await outcomes.get(s.name)!;
      assert.ok(o.passed, `${s.name}: ${o.problems.join("; ")}`);
    });
  }
  test.run();
}
