// The boot stage's result as the coordinator checks it (stages/boot/result.ts).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseBootResult } from "../../../stages/boot/result.js";

const base = { exitReason: "power-off", wallMs: 900, startupMs: 40, assists: {} };

test("a result with CPU pinning comes through as the stage sent it", () => {
  // As `boot --cpus` sends it: every field the coordinator reads, pinning included.
  const sent = { ...base, bootMs: 700, pinning: { vcpuCpus: [1, 0], vmmCpus: [0] } };
  assert.equal(parseBootResult(sent), sent);
  assert.equal(parseBootResult({ ...base, pinning: { vcpuCpus: [3], vmmCpus: null } }).pinning, { vcpuCpus: [3], vmmCpus: null });
});

test("a pinning that is not a list of CPU numbers is refused, naming the entry", () => {
  assert.throws(() => parseBootResult({ ...base, pinning: { vcpuCpus: [1, -1], vmmCpus: null } }), /^pinning\.vcpuCpus\[1\] must be a whole number from 0 to 65535$/);
  assert.throws(() => parseBootResult({ ...base, pinning: { vcpuCpus: [0], vmmCpus: ["0"] } }), /^pinning\.vmmCpus\[0\] must be a whole number from 0 to 65535$/);
});

test.run();
