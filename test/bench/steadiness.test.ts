import { test } from "uvu";
import * as assert from "uvu/assert";
import { pinningCpu } from "../../bench/suites/steadiness.js";

test("the pinned CPU is the last one allowed, only when another is left for the rest", () => {
  assert.is(pinningCpu([0, 1]), 1);
  assert.is(pinningCpu([0, 2, 5]), 5);
  assert.is(pinningCpu([3]), undefined);
  assert.is(pinningCpu([]), undefined);
});

test.run();
