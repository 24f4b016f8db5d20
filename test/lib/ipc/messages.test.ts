import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseStageMessage, parseRequestMessage } from "../../../lib/ipc/messages.js";
import { ProtocolError } from "../../../lib/ipc/errors.js";

const bad = (raw: unknown) =>
  assert.throws(() => parseStageMessage(raw), (e: unknown) => e instanceof ProtocolError && e.kind === "invalid-message");

test("accepts each well-formed stage message", () => {
  assert.equal(parseStageMessage({ type: "progress", fraction: 0.25, message: "x" }), { type: "progress", fraction: 0.25, message: "x" });
  assert.equal(parseStageMessage({ type: "progress", fraction: null, message: "x" }).type, "progress");
  assert.equal(parseStageMessage({ type: "log", level: "warn", message: "w" }), { type: "log", level: "warn", message: "w" });
  assert.equal(parseStageMessage({ type: "result", body: null }), { type: "result", body: null });
  assert.equal(parseStageMessage({ type: "event", name: "resolved", body: { digest: "d" } }), { type: "event", name: "resolved", body: { digest: "d" } });
  const err = parseStageMessage({ type: "error", error: { stage: "s", name: "Error", message: "m", cause: { stage: "s", name: "Error", message: "c", code: "EIO" } } });
  assert.equal(err, { type: "error", error: { stage: "s", name: "Error", message: "m", cause: { stage: "s", name: "Error", message: "c", code: "EIO" } } });
});

test("refuses messages of the wrong shape", () => {
  bad(null);
  bad([1, 2]);
  bad("result");
  bad({ type: "nope" });
  bad({ type: "progress", fraction: 2, message: "x" });
  bad({ type: "progress", fraction: Number.NaN, message: "x" });
  bad({ type: "progress", fraction: 0.5 });
  bad({ type: "log", level: "error", message: "x" });
  bad({ type: "log", level: "info", message: 5 });
  bad({ type: "result" });
  bad({ type: "event", name: "resolved" });
  bad({ type: "event", name: "Resolved\u001b[31m", body: null });
  bad({ type: "event", name: "x".repeat(33), body: null });
  bad({ type: "event", name: 5, body: null });
  bad({ type: "error", error: "boom" });
  bad({ type: "error", error: { stage: "s", name: "Error" } });
  bad({ type: "error", error: { stage: "s", name: "E", message: "m", code: 5 } });
});

test("an error cause chain that never ends is refused", () => {
  const deep: any = { stage: "s", name: "E", message: "m" };
  let cur = deep;
  for (let i = 0; i < 50; i++) cur = cur.cause = { stage: "s", name: "E", message: `m${i}` };
  bad({ type: "error", error: deep });
});

test("over-long log text is cut, not refused", () => {
  const m = parseStageMessage({ type: "log", level: "info", message: "x".repeat(200_000) });
  assert.ok((m as any).message.length < 70_000);
});

test("request message", () => {
  assert.equal(parseRequestMessage({ type: "request", body: { a: 1 } }), { type: "request", body: { a: 1 } });
  assert.throws(() => parseRequestMessage({ type: "result", body: 1 }), /expected a request/);
  assert.throws(() => parseRequestMessage({ type: "request" }), /expected a request/);
});

test.run();
