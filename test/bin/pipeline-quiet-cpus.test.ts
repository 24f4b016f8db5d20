// --quiet-cpus refused before anything runs when there is no vCPU to spare:
// `bencher-run pipeline` exits 125 with one line, runPipeline()'s check
// throws a PipelineError naming quiet-cpus; with 2 vCPUs it is accepted.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./helpers.js";
import { checkOptions } from "../../bin/pipeline/options.js";
import { PipelineError } from "../../bin/pipeline/errors.js";
import { parsePipelineArgs } from "../../bin/pipeline/cli-args.js";

const scratch = mkdtempSync(join(tmpdir(), "pipeline-quiet-cpus-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

test("bencher-run pipeline --quiet-cpus with one vCPU: 125 and one line, nothing made", async () => {
  const r = await runCli(["pipeline", "--image", join(scratch, "any.oci"), "--quiet-cpus", "--cmd", "true"], { BENCHER_RUN_WORKDIR: join(scratch, "runs") });
  assert.is(r.exitCode, 125, r.stderr);
  assert.is(r.stdout, "");
  assert.match(r.stderr, /^bencher-run: --quiet-cpus: needs 2 or more vCPUs \(vCPU 0 keeps the guest kernel's housekeeping\), not 1/);
  assert.is(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.equal(readdirSync(scratch), [], "nothing made");
});

test("the flag reaches the options; runPipeline's check wants 2 vCPUs and a boolean", () => {
  assert.is(parsePipelineArgs(["--image", "i", "--vcpus", "2", "--quiet-cpus"]).options.quietCpus, true);
  assert.is(parsePipelineArgs(["--image", "i"]).options.quietCpus, undefined);
  const fails = (o: object, re: RegExp) =>
    assert.throws(() => checkOptions({ image: "x", ...o }), (e: Error) => e instanceof PipelineError && re.test(e.message), JSON.stringify(o));
  fails({ quietCpus: true }, /^quietCpus: needs 2 or more vCPUs .* not 1$/);
  fails({ quietCpus: "yes" }, /^quietCpus: expected true or false$/);
  assert.is(checkOptions({ image: "x", vcpus: 2, quietCpus: true }).quietCpus, true);
  assert.is(checkOptions({ image: "x", vcpus: 2 }).quietCpus, false);
});

test.run();
