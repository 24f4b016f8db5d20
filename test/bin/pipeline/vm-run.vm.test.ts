// runVm's early end: the boot stage starts beside collect, sets its VM up and
// holds the vCPUs until collect's socket exists; when collect refuses its
// request first, the held boot stage is stopped, no guest code ever runs,
// nothing is left.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runVm } from "../../../bin/pipeline/vm-run.js";
import { RunWorkdir } from "../../../lib/workdir/run-workdir.js";
import { locateKernel } from "../../../kernel/locate.js";
import { isNestedPvmHost } from "../../../kernel/cmdline.js";
import type { CollectJob } from "../../../stages/collect/request.js";

function bootStagesRunning(): number {
  try {
    return execFileSync("pgrep", ["-f", "dist/stages/boot/main.js"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).length;
  } catch {
    return 0; // pgrep exits 1 when nothing matches
  }
}

test("collect refuses its job before listening: the held boot stage is stopped and its guest never runs", async () => {
  const workdir = RunWorkdir.create();
  const phases: string[] = [];
  const progress: string[] = [];
  const started = Date.now();
  let error: Error | undefined;
  let console = "";
  try {
    await runVm({
      kernel: locateKernel(),
      rootImage: { path: locateKernel(), fs: "ext4" }, // never read: no vCPU runs
      job: { argv: [] } as unknown as CollectJob,
      vcpus: 1, memoryMiB: 64, timeoutMs: 60_000, bootTimeoutMs: 60_000,
      keyHex: "ab".repeat(32), pvmHost: isNestedPvmHost(),
    }, workdir, {
      onPhase: (phase) => phases.push(phase),
      onProgress: (stage, _f, message) => progress.push(`${stage}: ${message}`),
    });
  } catch (err) {
    error = err as Error;
  } finally {
    const log = join(workdir.path, "boot", "console.log");
    console = existsSync(log) ? readFileSync(log, "latin1") : "";
    workdir.dispose();
  }
  assert.ok(error, "runVm rejects with collect's error");
  assert.match(error!.message, /job\.argv/);
  assert.not.ok(phases.includes("listening"));
  assert.not.ok(progress.some((p) => p.startsWith("boot:")), `the boot stage reported nothing: ${progress.join("; ")}`);
  assert.is(console, "", "the guest kernel never printed a byte");
  assert.ok(Date.now() - started < 15_000, `ended after ${Date.now() - started} ms`);
  assert.is(bootStagesRunning(), 0, "no boot stage process is left");
});

test.run();
