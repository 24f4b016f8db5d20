// The boot executable speaks the stage protocol: a bad request is refused with
// one line naming the field, and an abort (SIGTERM from the coordinator) stops
// the VM with a result saying so.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { callStage } from "../../../lib/ipc/call.js";
import { projectRoot } from "../../../lib/paths.js";
import { locateKernel } from "../../../kernel/locate.js";
import type { BootResult } from "../../../stages/boot/boot.js";

const main = join(projectRoot, "dist/stages/boot/main.js");
const start = () => spawn(process.execPath, [main], { stdio: ["pipe", "pipe", "pipe"] });

test("a bad request is an error naming the field", async () => {
  try {
    await callStage(start(), { kernel: "/k", vcpus: 0 }, { stage: "boot" });
    assert.unreachable("should have failed");
  } catch (err) {
    assert.match((err as Error).message, /vcpus must be a whole number from 1 to 64/);
  }
});

test("aborting the stage stops the VM and the result says so", async () => {
  const controller = new AbortController();
  const progress: string[] = [];
  const child = start();
  const kernel = process.env.BENCHER_KERNEL ?? locateKernel();
  let outcome: BootResult | Error;
  // Aborted once the guest kernel runs, however long the stage took to start.
  const onLog = (_level: string, message: string) => {
    if (message.includes("kernel entry") && !progress.some((m) => m.includes("kernel entry"))) setTimeout(() => controller.abort(), 500);
    progress.push(message);
  };
  try {
    outcome = await callStage<BootResult>(child, { kernel, timeoutMs: 60000, memoryMiB: 128 }, {
      stage: "boot", signal: controller.signal, onLog,
    });
  } catch (err) {
    outcome = err as Error;
  }
  // The stage answers within the protocol's grace period with its own result.
  assert.not.instance(outcome, Error, String(outcome));
  const result = outcome as BootResult;
  assert.is(result.exitReason, "aborted");
  assert.match(result.detail ?? "", /SIGTERM/);
  assert.type(result.consoleTail, "string");
  assert.ok(progress.some((m) => m.includes("kernel entry")), progress.join("\n"));
  await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
});

test.run();
