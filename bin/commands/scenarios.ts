// bencher-run scenarios: the end-to-end scenarios (scenarios/*.json), each
// run through the real pipeline in a fresh VM and checked against its
// expectations. Prints PASS/FAIL per scenario; exits 1 when any failed.
import { defineCommand } from "citty";
import { interruptSignal } from "../../lib/workdir/interrupts.js";
import { loadScenarios, type Scenario } from "../../scenarios/runner/scenario.js";
import { runScenarios, type ScenarioOutcome } from "../../scenarios/runner/run-scenarios.js";
import { CommandError, CommandLineError } from "../cli/command-error.js";
import { inputPath, positiveInt } from "../cli/paths.js";
import { TerminalProgress } from "../pipeline/terminal-progress.js";
import { checkKvmDevice } from "../pipeline/kvm-device.js";

/** The scenarios named by --scenario (comma-separated, or repeated), in file order; all when none. */
export function selectScenarios(all: Scenario[], names: string[]): Scenario[] {
  if (names.length === 0) return all;
  for (const name of names) {
    if (!all.some((s) => s.name === name)) throw new CommandLineError(`--scenario ${name}: no such scenario (see bencher-run scenarios --list)`);
  }
  return all.filter((s) => names.includes(s.name));
}

function summary(o: ScenarioOutcome): Record<string, unknown> {
  const base = { name: o.name, passed: o.passed, problems: o.problems, ms: o.ms };
  if ("error" in o.outcome) return { ...base, error: o.outcome.error };
  const r = o.outcome.result;
  return { ...base, status: r.status, metrics: r.metrics, ...(r.error ? { error: r.error } : {}) };
}

export default defineCommand({
  meta: { name: "scenarios", description: "List or run the end-to-end scenarios (scenarios/*.json), each in a fresh VM" },
  args: {
    list: { type: "boolean", description: "List the scenarios and what each checks" },
    scenario: { type: "string", description: "Run only these (comma-separated names)", valueHint: "name[,name]" },
    concurrency: { type: "string", description: "VMs at once (default 2)", valueHint: "n" },
    kernel: { type: "string", description: "Guest kernel (default: the built one)", valueHint: "file" },
    json: { type: "boolean", description: "Print one JSON document with every scenario's outcome" },
  },
  async run({ args, rawArgs }) {
    const all = loadScenarios();
    // --scenario may be repeated: citty keeps one value, so read them all from the raw arguments.
    const names = rawArgs.flatMap((arg, i) => (arg === "--scenario" ? [rawArgs[i + 1] ?? ""] : arg.startsWith("--scenario=") ? [arg.slice(11)] : []))
      .map((v) => {
        if (v.trim() === "") throw new CommandLineError("--scenario: empty name (see bencher-run scenarios --list)");
        return v;
      })
      .flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
    const chosen = selectScenarios(all, names);
    if (args.list) {
      if (args.json) process.stdout.write(JSON.stringify(chosen.map((s) => ({ name: s.name, description: s.description }))) + "\n");
      else for (const s of chosen) process.stdout.write(`${s.name.padEnd(24)} ${s.description}\n`);
      return;
    }
    const concurrency = positiveInt("concurrency", args.concurrency) ?? 2;
    // Checked once here, not found missing by every scenario's run.
    const kernel = args.kernel === undefined ? undefined : inputPath("kernel", args.kernel, "file");
    // Without KVM every scenario would build its root image, then fail: say it once, now.
    try {
      checkKvmDevice();
    } catch (err) {
      throw new CommandError((err as Error).message);
    }
    const progress = new TerminalProgress(process.stderr);
    const started = performance.now();
    const outcomes = await runScenarios(chosen, {
      concurrency,
      kernel,
      signal: interruptSignal(),
      onProgress: (name, message) => progress.show(`${name}: ${message}`),
      onDone: (o) => {
        progress.clear();
        if (args.json) return;
        process.stdout.write(`${o.passed ? "PASS" : "FAIL"} ${o.name} (${(o.ms / 1000).toFixed(1)} s)\n`);
        for (const problem of o.problems) process.stdout.write(`     ${problem}\n`);
      },
    });
    progress.clear();
    const failed = outcomes.filter((o) => !o.passed);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (args.json) {
      process.stdout.write(JSON.stringify({ passed: outcomes.length - failed.length, failed: failed.length, seconds: Number(seconds), scenarios: outcomes.map(summary) }) + "\n");
    } else {
      process.stdout.write(`${outcomes.length - failed.length} passed, ${failed.length} failed (${seconds} s)\n`);
    }
    if (failed.length > 0) throw new CommandError(`${failed.length} of ${outcomes.length} scenarios failed: ${failed.map((o) => o.name).join(", ")}`);
  },
});
