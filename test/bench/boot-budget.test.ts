import { test } from "uvu";
import * as assert from "uvu/assert";
import { bootBudget } from "../../bench/lib/boot-budget.js";

test("boots are granted until the budget is spent; a request over what is left takes nothing", () => {
  const ask = bootBudget(2);
  assert.is(ask(3), "skipped: needs 3 boots, over the boot budget");
  assert.is(ask(1), undefined);
  assert.is(ask(2), "skipped: needs 2 boots, over the boot budget", "one is left");
  assert.is(ask(1), undefined);
  assert.is(ask(1), "skipped: needs 1 boot, over the boot budget");
  assert.is(ask(0), undefined, "a suite that boots no kernel only asks whether it may boot at all");
});

test("without KVM every request gets the reason, the budget untouched", () => {
  const ask = bootBudget(Infinity, "skipped: no usable /dev/kvm (ENOENT; see bencher-run doctor)");
  assert.is(ask(0), "skipped: no usable /dev/kvm (ENOENT; see bencher-run doctor)");
  assert.is(ask(1), "skipped: no usable /dev/kvm (ENOENT; see bencher-run doctor)");
});

test.run();
