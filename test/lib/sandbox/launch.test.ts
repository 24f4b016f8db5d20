// How a sandbox is started and stopped (lib/sandbox/launch.ts), seen from the
// coordinator: signals to the sandbox's group reach the stage, not only the
// processes in front of it.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runSandboxed } from "../../../lib/sandbox/run-sandboxed.js";
import { stageSandboxSpec } from "../../../lib/sandbox/stage-policy.js";
import { probeCommand } from "./helpers.js";

test("a SIGTERM to the sandbox reaches the stage, which ends on its own terms (no SIGKILL)", async () => {
  const abort = new AbortController();
  const started = Date.now();
  const call = runSandboxed(stageSandboxSpec("unpack", { command: probeCommand }), { act: "sleep", ms: 20_000, lingerMs: 500 }, {
    signal: abort.signal,
    killAfterMs: 10_000,
    onProgress: () => abort.abort(), // the stage is up and listening for the signal
  });
  const err = await call.then(() => null, (e: Error) => e);
  assert.ok(err, "the sleep was cut short");
  // The stage's own error, half a second after the signal: it saw the signal and
  // was not SIGKILLed meanwhile (as it would be if something in front died of it).
  assert.match(err!.message, /probe stopped by SIGTERM/);
  assert.ok(Date.now() - started < 8_000, "ended well before the SIGKILL grace period");
});

/** Pids whose command line contains `marker`. */
function processesWith(marker: string): string[] {
  return readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false;
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
    } catch {
      return false; // gone meanwhile
    }
  });
}

test("a SIGKILLed coordinator takes its running stage with it (even one that ignores everything)", async () => {
  const marker = `bencher-coordinator-test-${process.pid}-${Date.now()}`;
  const coordinator = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/coordinator.js", import.meta.url)), marker], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    coordinator.stdout!.on("data", (chunk: Buffer) => { if (chunk.toString().includes("up")) resolve(); });
    coordinator.once("exit", () => reject(new Error("coordinator ended before its stage was up")));
  });
  assert.ok(processesWith(marker).length > 0, "positive control: the stage runs");
  coordinator.kill("SIGKILL");
  let left = processesWith(marker);
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    left = processesWith(marker);
  }
  for (const pid of left) process.kill(Number(pid), "SIGKILL"); // never leave one behind, even on failure
  assert.equal(left, [], "no process of the sandbox is left");
});

test.run();
