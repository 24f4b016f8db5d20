// npm run bench: every benchmark in bench/, one table.
//
//   node dist/bench/run.js [--runs N] [--quick] [--json] [--only a,b] [--boots N] [--keep]
//
// --runs N   runs per side for the medians (default 3; --quick: 1)
// --quick    small inputs, one run, at most two guest boots in all: for CI, so
//            the benchmarks cannot rot (they never fail on a number)
// --boots N  the guest-boot budget (default: unlimited, --quick: 2); a
//            benchmark that would exceed it prints a "skipped" row
// --only     suites to run: stages, registry, vmm, boot, end-to-end, steadiness, growth
// --json     one JSON document on stdout instead of the tables
// --keep     keep the scratch directory
// Progress goes to stderr. Exit status is 0 whatever the numbers; 1 only for
// bad options or a crash of the runner itself.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkKvm } from "../bin/doctor/kvm-check.js";
import { bootBudget } from "./lib/boot-budget.js";
import { killAllMeasured, peakMemorySource } from "./lib/measure.js";
import { PIPELINE_UNAVAILABLE, PIPELINE_UNAVAILABLE_NOTE } from "./lib/pipeline.js";
import { describeMachine, machineLine } from "./lib/machine.js";
import { formatMainTable, formatSmallTable, summarizeRow } from "./lib/report.js";
import type { BenchContext, Suite, SuiteResult } from "./lib/suite.js";
import { stagesSuite } from "./suites/stages.js";
import { registrySuite } from "./suites/registry.js";
import { bootSuite } from "./suites/boot.js";
import { vmmCostSuite } from "./suites/vmm-cost.js";
import { endToEndSuite } from "./suites/end-to-end.js";
import { steadinessSuite } from "./suites/steadiness.js";
import { growthSuite } from "./suites/growth.js";

/** In this order: later suites reuse what earlier ones measured (QEMU's boot time, the cached root image). */
const SUITES: Suite[] = [stagesSuite, registrySuite, vmmCostSuite, bootSuite, endToEndSuite, steadinessSuite, growthSuite];

const QUICK_BOOTS = 2;
/** Skip reasons longer than this are printed under the tables. */
const LONG_REASON = 48;

function wholeNumber(name: string, raw: string | undefined, min: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min}, not ${JSON.stringify(raw)}`);
  return n;
}

/** Why no VM can boot here (the reason every VM row gives, in doctor's words), or undefined when KVM answers. */
function kvmMissing(): string | undefined {
  const kvm = checkKvm();
  return kvm.status === "ok" ? undefined : `skipped: no usable /dev/kvm (${kvm.detail}; see bencher-run doctor)`;
}

function options() {
  const { values } = parseArgs({
    options: {
      runs: { type: "string" },
      quick: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      only: { type: "string" },
      boots: { type: "string" },
      keep: { type: "boolean", default: false },
    },
  });
  const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of only ?? []) {
    if (!SUITES.some((s) => s.name === name)) throw new Error(`--only: no benchmark suite ${JSON.stringify(name)} (have ${SUITES.map((s) => s.name).join(", ")})`);
  }
  return {
    quick: values.quick!,
    json: values.json!,
    keep: values.keep!,
    runs: wholeNumber("runs", values.runs, 1) ?? (values.quick ? 1 : 3),
    boots: wholeNumber("boots", values.boots, 0) ?? (values.quick ? QUICK_BOOTS : Infinity),
    only,
  };
}

async function main(): Promise<void> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options();
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), "bencher-bench-"));
  const stop = (signal: NodeJS.Signals) => {
    killAllMeasured();
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
    process.stderr.write(`bench: stopped by ${signal}\n`);
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  const ctx: BenchContext = {
    quick: opts.quick,
    runs: opts.runs,
    work,
    bootsDenied: bootBudget(opts.boots, kvmMissing()),
    log: (message) => process.stderr.write(`bench: ${message}\n`),
    shared: new Map(),
  };

  const machine = describeMachine();
  const started = performance.now();
  const results: Array<{ suite: string } & SuiteResult> = [];
  try {
    for (const suite of SUITES) {
      if (opts.only && !opts.only.includes(suite.name)) continue;
      ctx.log(`── ${suite.name}`);
      try {
        results.push({ suite: suite.name, ...(await suite.run(ctx)) });
      } catch (err) {
        // A suite's own bug must not lose the other suites' figures.
        results.push({ suite: suite.name, rows: [{ benchmark: suite.name, skipped: `failed: ${(err as Error).message.split("\n")[0]}` }], tables: [], notes: [] });
      }
    }
  } finally {
    killAllMeasured();
    if (!opts.keep) rmSync(work, { recursive: true, force: true });
    else ctx.log(`kept ${work}`);
  }
  const rows = results.flatMap((r) => r.rows.map(summarizeRow));
  // A long reason would stretch the table: the row says where to look, the reason goes under the tables.
  const longReasons = rows.filter((r) => r.skipped && r.skipped.length > LONG_REASON).map((r) => `${r.benchmark}: ${r.skipped}`);
  const tables = results.flatMap((r) => r.tables);
  const notes = [...new Set([...longReasons, ...results.flatMap((r) => r.notes)])];
  if (rows.some((r) => r.skipped === PIPELINE_UNAVAILABLE) || notes.some((n) => n.includes(PIPELINE_UNAVAILABLE))) notes.push(PIPELINE_UNAVAILABLE_NOTE);
  const totalSeconds = (performance.now() - started) / 1000;
  const command = `npm run bench --${process.argv.slice(2).length ? " " + process.argv.slice(2).join(" ") : ""}`;

  if (opts.json) {
    process.stdout.write(JSON.stringify({
      machine, command, quick: opts.quick, runs: opts.runs, peakMemory: peakMemorySource(), totalSeconds,
      rows, tables: tables.map((t) => ({ title: t.title, data: t.data })), notes,
    }, null, 2) + "\n");
    return;
  }
  const out: string[] = [];
  out.push(`bencher-run benchmarks (${opts.quick ? "quick, " : ""}medians of ${opts.runs} run${opts.runs === 1 ? "" : "s"} per side unless a row's runs say otherwise; ratios from the same invocation)`);
  out.push(`machine: ${machineLine(machine)}`);
  out.push(`command: ${command}`);
  out.push(`peak RSS: largest over the runs, ${peakMemorySource()}`);
  out.push("");
  out.push(formatMainTable(rows.map((r) => (r.skipped && r.skipped.length > LONG_REASON ? { ...r, skipped: `${r.skipped.split(":")[0]} (see below)` } : r))));
  for (const table of tables) out.push("", formatSmallTable(table));
  if (notes.length) out.push("", ...notes.map((n) => `- ${n}`));
  out.push("", `took ${(totalSeconds / 60).toFixed(1)} min`);
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((err) => {
  killAllMeasured();
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
