import { test } from "uvu";
import * as assert from "uvu/assert";
import { CLEARCPUID_MAX, PVM_CLEARED_CPU_FEATURES, PVM_HOST_ARGS, guestCmdline } from "../../kernel/cmdline.js";

test("the clearcpuid value fits the kernel's 128-byte buffer, so no feature is silently dropped", () => {
  const arg = PVM_HOST_ARGS.find((a) => a.startsWith("clearcpuid="));
  assert.ok(arg);
  const value = arg.slice("clearcpuid=".length);
  assert.ok(value.length <= CLEARCPUID_MAX, `clearcpuid value is ${value.length} bytes`);
  assert.equal(value.split(","), [...PVM_CLEARED_CPU_FEATURES]);
});

test("the features whose instructions the host cannot emulate at CPL0 are cleared", () => {
  for (const f of ["cx16", "popcnt", "xsaveopt", "xsavec", "smap"]) assert.ok(PVM_CLEARED_CPU_FEATURES.includes(f), f);
});

test("our VMM's guest kernel switches tasks' state with XSAVE on a nested PVM host; QEMU's cannot", () => {
  // User mode there runs with the host's XCR0 (AVX on): fxsave alone would leak upper YMM halves between tasks.
  assert.not.ok(PVM_CLEARED_CPU_FEATURES.includes("xsave"));
  assert.not.ok(PVM_HOST_ARGS.includes("noxsave"));
  assert.ok(guestCmdline([], true).split(" ").includes("noxsave"), "QEMU has no xsave/xrstor assists");
  assert.not.ok(guestCmdline([], false).includes("noxsave"));
});

test("the nested-PVM arguments are added only on such a host", () => {
  assert.ok(guestCmdline([], true).includes("bencher_pvm_host"));
  assert.not.ok(guestCmdline([], false).includes("bencher_pvm_host"));
  assert.not.ok(guestCmdline([], false).includes("clearcpuid"));
  // Boot-time work cut only where the guest kernel is emulated; on hardware it costs microseconds.
  assert.ok(guestCmdline([], true).includes("noreplace-smp"));
  assert.not.ok(guestCmdline([], false).includes("noreplace-smp"));
  assert.ok(guestCmdline([], true).includes("percpu_alloc=page"));
  assert.not.ok(guestCmdline([], false).includes("percpu_alloc"));
  assert.ok(guestCmdline(["bencher.port=5"], false).endsWith("bencher.port=5"));
});

test.run();
