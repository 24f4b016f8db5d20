// callStage against a compromised stage (a real process writing hostile frames): what it sends is bounded and printable.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { callStage } from "../../../lib/ipc/call.js";
import { rejection } from "./stage-rejection.js";
import { describeError } from "../../../lib/ipc/errors.js";

const fixture = fileURLToPath(new URL("./fixtures/hostile-stage.js", import.meta.url));
const start = () => spawn(process.execPath, [fixture], { stdio: ["pipe", "pipe", "pipe"] });


// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f]/;

test("a 50 MiB error message is cut to a few KiB", async () => {
  const err = await rejection(callStage(start(), { act: "huge-error" }, { stage: "unpack" }));
  const line = describeError(err);
  assert.ok(line.length < 5000, `${line.length} characters`);
  assert.match(line, /^unpack: x+… \(cut, 52428800 characters\)$/);
});

test("an error is the called stage's, whatever stage name it claims", async () => {
  const err = await rejection(callStage(start(), { act: "forged-stage" }, { stage: "unpack" }));
  assert.is(err.stage, "unpack");
  assert.is(describeError(err), 'unpack: (error claims to be from stage "boot") all fine');
});

test("control characters in an error are escaped visibly, and it stays one line", async () => {
  const err = await rejection(callStage(start(), { act: "escapes-error" }, { stage: "unpack" }));
  const line = describeError(err);
  assert.not.match(line, CONTROL);
  assert.is(line, "unpack: all fine\\x0d\\x1b[2K\\x1b[32mOK: result verified\\x9b2J\\x1b]0;pwned\\x07: line one line two\\x1b[H");
});

test("control characters in logs and progress are escaped; \\n and \\t are kept", async () => {
  const logs: string[] = [];
  const progress: string[] = [];
  await callStage(start(), { act: "escapes-log" }, {
    stage: "unpack",
    onLog: (_level, message) => logs.push(message),
    onProgress: (_fraction, message) => progress.push(message),
  });
  assert.equal(logs, ["warning: \\x1b[2J\\x1b[H\tcleared\nsecond line"]);
  assert.equal(progress, ["step\\x0d\\x1b]0;title\\x07"]);
});

test("one legal frame of millions of tiny values is refused before it is decoded, naming the stage", async () => {
  const err = await rejection(callStage(start(), { act: "many-values" }, { stage: "unpack" }));
  assert.is(err.stage, "unpack");
  assert.match(describeError(err), /^unpack: protocol error: malformed frame payload: more than 100000 values$/);
});

test.run();
