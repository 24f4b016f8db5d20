// --cpus refused before anything runs: `bencher-run pipeline` exits 125 with
// one line naming --cpus, and runPipeline() refuses the same for callers
// that embed it (a PipelineError naming cpus).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./helpers.js";
import { checkOptions } from "../../bin/pipeline/options.js";
import { PipelineError } from "../../bin/pipeline/errors.js";
import { allowedCpus } from "../../lib/cpu-affinity/pinning.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-cpus-"));
const workRoot = join(scratch, "runs");
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

async function refused(cpus: string, pattern: RegExp): Promise<void> {
  const r = await runCli(["pipeline", "--image", join(scratch, "any.oci"), "--cpus", cpus, "--cmd", "true"], { BENCHER_RUN_WORKDIR: workRoot });
  assert.is(r.exitCode, 125, r.stderr);
  assert.is(r.stdout, "");
  assert.match(r.stderr, pattern);
  assert.is(r.stderr.split("\n").length, 1, r.stderr);
  assert.equal(readdirSync(scratch), [], "nothing made");
}

test("bencher-run pipeline --cpus: bad syntax, a CPU the host lacks: 125 and one line", async () => {
  await refused("two", /^bencher-run: --cpus two: "two" is not a CPU number or range .* \(see bencher-run pipeline --help\)$/);
  await refused("3-1", /^bencher-run: --cpus 3-1: range 3-1 runs backwards/);
  await refused("4095", /^bencher-run: --cpus 4095: CPU 4095 does not exist or is offline \(this host has CPUs [\d,-]+\)/);
});

test("runPipeline's option check: cpus must be distinct CPUs this process may use", () => {
  const base = { image: "x" };
  const fails = (cpus: unknown, re: RegExp) =>
    assert.throws(() => checkOptions({ ...base, cpus: cpus as number[] }), (e: Error) => e instanceof PipelineError && re.test(e.message), JSON.stringify(cpus));
  fails([], /^cpus \[\]: names no CPU$/);
  fails([1.5], /^cpus 1.5: expected a list of host CPU numbers$/);
  fails("1", /^cpus "1": expected a list of host CPU numbers$/);
  fails([0, 0], /^cpus 0,0: a CPU is listed twice$/);
  fails([4095], /^cpus 4095: CPU 4095 does not exist or is offline/);
  const cpu = allowedCpus().at(-1)!;
  assert.equal(checkOptions({ ...base, cpus: [cpu] }).cpus, [cpu]);
  assert.is(checkOptions(base).cpus, undefined);
});

test.run();
