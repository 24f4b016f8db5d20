// The boot stage gets a working /dev/kvm through the descriptor the
// coordinator opens, and through nothing else.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { openSync, closeSync } from "node:fs";
import { probeAs } from "./helpers.js";
import { inheritedKvmFd, KVM_FD_ENV } from "../../../lib/sandbox/kvm-fd.js";

test("boot answers KVM_GET_API_VERSION through the handed-over descriptor", async () => {
  const fd = openSync("/dev/kvm", "r+");
  try {
    const r = await probeAs("boot", { act: "kvm-api-version" }, { kvmFd: fd });
    assert.equal(r, { ok: true, value: 12 });
    const byPath = await probeAs("boot", { act: "open", path: "/dev/kvm", flags: "r+" }, { kvmFd: fd });
    assert.is(byPath.ok, false, "even boot cannot open /dev/kvm by path");
  } finally {
    closeSync(fd);
  }
});

test("a stage without the descriptor gets a one-line error", async () => {
  const r = await probeAs("unpack", { act: "kvm-api-version" });
  assert.is(r.ok, false);
  assert.match(r.code!, /no \/dev\/kvm descriptor/);
});

test("inheritedKvmFd validates the variable", () => {
  assert.is(inheritedKvmFd({ [KVM_FD_ENV]: "3" }), 3);
  assert.throws(() => inheritedKvmFd({ [KVM_FD_ENV]: "x" }), /invalid BENCHER_RUN_KVM_FD/);
  assert.throws(() => inheritedKvmFd({}), /not set/);
});

test.run();
