// The warning given before a run with several vCPUs on a nested PVM host.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { multiVcpuWarning } from "../../../bin/pipeline/host-warnings.js";

test("several vCPUs on a nested PVM host: one line naming the risk and where it is explained", () => {
  const w = multiVcpuWarning(2, true);
  assert.ok(w);
  assert.not.ok(w!.includes("\n"));
  assert.match(w!, /^2 vCPUs on a nested PVM host: .*exit 139.*kernel\/repro\/README\.md/);
});

test("no warning with one vCPU or on hardware KVM", () => {
  assert.is(multiVcpuWarning(1, true), undefined);
  assert.is(multiVcpuWarning(4, false), undefined);
});

test.run();
