import { test } from "uvu";
import * as assert from "uvu/assert";
import { StageError, toWireError, fromWireError, describeError } from "../../../lib/ipc/errors.js";

test("an error keeps stage, message, code and cause through the wire form", () => {
  const root = Object.assign(new Error("no such file"), { code: "ENOENT" });
  const wire = toWireError(new TypeError("could not read layer", { cause: root }), "unpack");
  assert.equal(wire, {
    stage: "unpack", name: "TypeError", message: "could not read layer",
    cause: { stage: "unpack", name: "Error", message: "no such file", code: "ENOENT" },
  });
  const back = fromWireError(wire);
  assert.instance(back, StageError);
  assert.is(back.stage, "unpack");
  assert.is(back.remoteName, "TypeError");
  assert.is((back.cause as StageError).code, "ENOENT");
  assert.is(describeError(back), "unpack: could not read layer: no such file");
});

test("a nested stage error keeps its own stage name", () => {
  const inner = new StageError("mkrootfs", "mkfs failed");
  const wire = toWireError(new Error("pipeline failed", { cause: inner }), "pipeline");
  assert.is(wire.cause?.stage, "mkrootfs");
  assert.is(describeError(fromWireError(wire)), "pipeline: pipeline failed: mkrootfs: mkfs failed");
});

test("non-Error throws and cyclic causes do not break serialisation", () => {
  assert.is(toWireError("plain string", "s").message, "plain string");
  assert.match(toWireError(42, "s").message, /42/);
  const a: any = new Error("a");
  a.cause = a;
  let depth = 0;
  for (let w: any = toWireError(a, "s"); w; w = w.cause) depth++;
  assert.ok(depth <= 17);
});

test.run();
