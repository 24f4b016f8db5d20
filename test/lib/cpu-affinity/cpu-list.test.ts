import { test } from "uvu";
import * as assert from "uvu/assert";
import { CpuListError, formatCpuList, parseCpuList } from "../../../lib/cpu-affinity/cpu-list.js";

test("single CPUs, ranges and mixtures, in the order written", () => {
  assert.equal(parseCpuList("1"), [1]);
  assert.equal(parseCpuList("2-3"), [2, 3]);
  assert.equal(parseCpuList("1,3"), [1, 3]);
  assert.equal(parseCpuList("3,0-1"), [3, 0, 1]);
  assert.equal(parseCpuList("0-0"), [0]);
  assert.equal(parseCpuList("8191"), [8191]);
});

test("malformed lists say what is wrong", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /expected a CPU list such as 1, 2-3 or 1,3/],
    ["  ", /expected a CPU list/],
    ["a", /"a" is not a CPU number or range/],
    ["1,", /"" is not a CPU number or range/],
    [",1", /"" is not a CPU number or range/],
    ["1 ,2", /"1 " is not a CPU number/],
    ["-1", /"-1" is not a CPU number or range/],
    ["1-", /"1-" is not/],
    ["1-2-3", /"1-2-3" is not/],
    ["1.5", /"1.5" is not/],
    ["0x1", /"0x1" is not/],
    ["3-1", /range 3-1 runs backwards/],
    ["1,1", /CPU 1 is listed twice/],
    ["0-2,2", /CPU 2 is listed twice/],
    ["8192", /CPU 8192 is beyond the largest CPU number Linux supports \(8191\)/],
    ["99999999999999999999", /beyond the largest/],
  ];
  for (const [text, re] of bad) {
    assert.throws(() => parseCpuList(text), (err: Error) => err instanceof CpuListError && re.test(err.message) && !err.message.includes("\n"), text);
  }
});

test("formatting folds runs and sorts, as /proc writes Cpus_allowed_list", () => {
  assert.is(formatCpuList([0, 1, 2, 5]), "0-2,5");
  assert.is(formatCpuList([3, 1]), "1,3");
  assert.is(formatCpuList([7]), "7");
  assert.is(formatCpuList([]), "");
  assert.is(formatCpuList(parseCpuList("4-6,0,2")), "0,2,4-6");
});

test.run();
