// callStage against real stage processes (the fixture stage), no sandbox.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { callStage } from "../../../lib/ipc/call.js";
import { rejection } from "./stage-rejection.js";
import { StageError, describeError } from "../../../lib/ipc/errors.js";
import { InterruptedError } from "../../../lib/workdir/interrupts.js";

const fixture = fileURLToPath(new URL("./fixtures/behaving-stage.js", import.meta.url));
const start = () => spawn(process.execPath, [fixture], { stdio: ["pipe", "pipe", "pipe"] });


test("result, progress, logs and events come through; console.log does not corrupt the stream", async () => {
  const progress: [number | null, string][] = [];
  const logs: string[] = [];
  const events: unknown[] = [];
  const child = start();
  const result = await callStage(child, { act: "echo", value: { a: [1, "b"] } }, {
    stage: "fixture",
    onProgress: (f, m) => progress.push([f, m]),
    onLog: (l, m) => logs.push(`${l}:${m}`),
    onEvent: (name, body) => events.push([name, body]),
  });
  assert.equal(result, { echoed: { a: [1, "b"] } });
  assert.equal(progress, [[0.5, "half way"], [1, "done"]]);
  assert.equal(logs, ["info:echoing"]);
  assert.equal(events, [["echoing", { value: { a: [1, "b"] } }]]);
  assert.is(child.exitCode, 0);
});

test("a thrown error arrives with stage, message and cause chain; exit status 1", async () => {
  const child = start();
  const err = await rejection(callStage(child, { act: "fail" }, { stage: "fixture" }));
  assert.is(err.stage, "fixture");
  assert.is(err.message, "could not read the layer");
  assert.is((err.cause as StageError).code, "ENOENT");
  assert.is(describeError(err), "fixture: could not read the layer: ENOENT: no such file, open '/x'");
  assert.is(child.exitCode, 1);
});

test("a bad request is a one-line error from parseRequest", async () => {
  const err = await rejection(callStage(start(), { nope: 1 }, { stage: "fixture" }));
  assert.is(err.message, "request.act must be a string");
});

test("a stage that dies without a result is an error naming the exit and its stderr", async () => {
  const err = await rejection(callStage(start(), { act: "crash" }, { stage: "fixture" }));
  assert.match(err.message, /exited with code 7 before sending a result \(stderr: about to crash hard\)/);
});

for (const [act, pattern] of [
  ["garbage", /protocol error: malformed frame payload/],
  ["oversized", /protocol error: frame of 4294967295 bytes exceeds/],
  ["truncated", /protocol error: truncated frame/],
] as const) {
  test(`a ${act} frame from the stage is a clear error and the stage is killed, no hang`, async () => {
    const child = start();
    const t0 = Date.now();
    const err = await rejection(callStage(child, { act }, { stage: "fixture" }));
    assert.match(err.message, pattern);
    assert.ok(Date.now() - t0 < 5000, "did not hang");
    assert.ok(child.exitCode !== null || child.signalCode !== null);
  });
}

test("aborting sends SIGTERM and the stage reports the abort", async () => {
  const child = start();
  const controller = new AbortController();
  const call = callStage(child, { act: "hang-until-abort" }, {
    stage: "fixture",
    signal: controller.signal,
    onProgress: () => controller.abort(),
  });
  const err = await rejection(call);
  assert.match(err.message, /stopped by SIGTERM/);
  assert.is(child.exitCode, 1);
});

test("aborting for the user's Ctrl-C passes SIGINT on, so the stage reports what the user did", async () => {
  const child = start();
  const controller = new AbortController();
  const call = callStage(child, { act: "hang-until-abort" }, {
    stage: "fixture",
    signal: controller.signal,
    onProgress: () => controller.abort(new InterruptedError("SIGINT")),
  });
  const err = await rejection(call);
  assert.match(err.message, /stopped by SIGINT/);
});

test("aborting with a reason that says SIGKILL ends the stage at once, even one that would ignore the abort", async () => {
  const child = start();
  const controller = new AbortController();
  const t0 = Date.now();
  const err = await rejection(callStage(child, { act: "ignore-abort" }, {
    stage: "fixture", signal: controller.signal, killAfterMs: 10_000,
    onProgress: () => controller.abort(Object.assign(new Error("not wanted any more"), { signal: "SIGKILL" })),
  }));
  assert.match(err.message, /stage was killed by SIGKILL before sending a result/);
  assert.is(child.signalCode, "SIGKILL");
  assert.ok(Date.now() - t0 < 2000, "not after the stage's grace period");
});

test("a stage ignoring the abort still ends within the grace period", async () => {
  const child = start();
  const controller = new AbortController();
  const t0 = Date.now();
  const err = await rejection(callStage(child, { act: "ignore-abort" }, {
    stage: "fixture", signal: controller.signal, onProgress: () => controller.abort(), killAfterMs: 10_000,
  }));
  assert.match(err.message, /stopped by SIGTERM/);
  assert.ok(Date.now() - t0 < 8000);
});

test("a request frame that is truncated is reported by the stage", async () => {
  const child = start();
  const out: Buffer[] = [];
  child.stdout.on("data", (c) => out.push(c));
  child.stdin.end(Buffer.from([0, 0, 0, 9, 1]));
  await new Promise((r) => child.once("exit", r));
  assert.is(child.exitCode, 1);
  assert.match(Buffer.concat(out).toString("latin1"), /truncated frame/);
});

const lingering = fileURLToPath(new URL("./fixtures/lingering-stage.js", import.meta.url));

test("a stage that sends its result and stays alive is killed after a short grace; the result stands", async () => {
  const child = spawn(process.execPath, [lingering, "result"], { stdio: ["pipe", "pipe", "pipe"] });
  const t0 = Date.now();
  const result = await callStage(child, {}, { stage: "fixture" });
  assert.equal(result, { ok: true });
  assert.ok(Date.now() - t0 < 6000, "did not hang");
  assert.is(child.signalCode, "SIGKILL");
});

test("a stage that closes its stdout without a result and stays alive is killed, and the error says so", async () => {
  const child = spawn(process.execPath, [lingering, "silent"], { stdio: ["pipe", "pipe", "pipe"] });
  const t0 = Date.now();
  const err = await rejection(callStage(child, {}, { stage: "fixture" }));
  assert.match(err.message, /closed its output without sending a result and did not exit within 2 s; killed it/);
  assert.ok(!err.message.includes("\n"));
  assert.ok(Date.now() - t0 < 6000, "did not hang");
  assert.is(child.signalCode, "SIGKILL");
});

test.run();
