// The benchmark table's arithmetic on known inputs: medians, spread, ratios,
// the steadiness rule, and the formats the table prints.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { coefficientOfVariation, mean, median, ratio, standardDeviation, steadyEnough } from "../../bench/lib/stats.js";
import { parseCpuLoopOutput } from "../../bench/cpu-loop/build.js";
import { residentOfSizedMapping } from "../../bench/lib/proc-memory.js";
import { treeResidentKiB, type ProcEntry } from "../../bench/lib/tree-memory.js";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);

test("median of odd and even counts, unsorted input left untouched", () => {
  const xs = [5, 1, 3];
  assert.is(median(xs), 3);
  assert.equal(xs, [5, 1, 3]);
  assert.is(median([4, 1, 3, 2]), 2.5);
  assert.is(median([7]), 7);
  assert.throws(() => median([]), /no samples/);
});

test("mean, sample standard deviation and coefficient of variation", () => {
  // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample variance 32/7.
  const xs = [2, 4, 4, 4, 5, 5, 7, 9];
  assert.is(mean(xs), 5);
  close(standardDeviation(xs), Math.sqrt(32 / 7), "stddev");
  close(coefficientOfVariation(xs), Math.sqrt(32 / 7) / 5, "cv");
  assert.is(standardDeviation([3]), 0);
  assert.is(coefficientOfVariation([10, 10, 10]), 0);
  assert.ok(Number.isNaN(coefficientOfVariation([0, 0])));
});

test("ratio is ours over peer, NaN when a side is missing or zero", () => {
  assert.is(ratio(3, 2), 1.5);
  assert.is(ratio(1, 4), 0.25);
  assert.ok(Number.isNaN(ratio(undefined, 2)));
  assert.ok(Number.isNaN(ratio(1, undefined)));
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(Infinity, 1)));
});

test("steadiness: the VM may be one percentage point worse than the host, no more", () => {
  assert.ok(steadyEnough(0.02, 0.02));
  assert.ok(steadyEnough(0.02, 0.0299));
  assert.not.ok(steadyEnough(0.02, 0.0301));
  assert.ok(steadyEnough(0.05, 0.01));
});

test("cpu-loop output is parsed line by line, other lines ignored", () => {
  const out = "cpu-loop ns=123 iterations=5 check=ab\nnoise\ncpu-loop ns=456 iterations=5 check=ab\n";
  assert.equal(parseCpuLoopOutput(out), [123, 456]);
  assert.equal(parseCpuLoopOutput("xcpu-loop ns=1 \n"), []);
});

test("guest RAM is found in smaps by the size of its mapping", () => {
  const smaps = [
    "7f0000000000-7f0010000000 rw-p 00000000 00:00 0",
    "Size:             262144 kB",
    "Rss:              100000 kB",
    "55d000000000-55d000100000 r-xp 00000000 08:01 1 /usr/bin/qemu",
    "Size:               1024 kB",
    "Rss:                 900 kB",
  ].join("\n");
  assert.is(residentOfSizedMapping(smaps, 262144, 262144 + 8192), 100000);
  assert.is(residentOfSizedMapping(smaps, 524288, 524288 + 8192), undefined);
});

test("tree memory sums the roots and all their descendants, nothing else", () => {
  // 10 → 11 → 12, 10 → 13; 20 → 21 (a second root); 30 unrelated; a loop 40 ↔ 41 must not hang.
  const table = new Map<number, ProcEntry>([
    [10, { ppid: 1, rssKiB: 100 }], [11, { ppid: 10, rssKiB: 10 }], [12, { ppid: 11, rssKiB: 1 }], [13, { ppid: 10, rssKiB: 1000 }],
    [20, { ppid: 1, rssKiB: 5 }], [21, { ppid: 20, rssKiB: 7 }], [30, { ppid: 1, rssKiB: 99999 }],
    [40, { ppid: 41, rssKiB: 2 }], [41, { ppid: 40, rssKiB: 3 }],
  ]);
  assert.is(treeResidentKiB([10], table), 1111);
  assert.is(treeResidentKiB([10, 20], table), 1123);
  assert.is(treeResidentKiB([11], table), 11);
  assert.is(treeResidentKiB([40], table), 5);
  assert.is(treeResidentKiB([999], table), 0);
});

test.run();
