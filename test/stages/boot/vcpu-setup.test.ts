import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpuidForVcpu } from "../../../stages/boot/vcpu-setup.js";

const host = [
  { function: 1, index: 0, flags: 0, eax: 0xa10f11, ebx: 0x00100800, ecx: 0x7ed8320b | (1 << 24), edx: 0x178bfbff },
  { function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7 },
  { function: 0xb, index: 1, flags: 1, eax: 7, ebx: 64, ecx: 0x201, edx: 7 },
];

test("each vCPU's CPUID carries its APIC ID and the vCPU count, and says hypervisor", () => {
  const c = cpuidForVcpu(host, 2, 4);
  const leaf1 = c.find((e) => e.function === 1)!;
  assert.is(leaf1.ebx >>> 24, 2);
  assert.is((leaf1.ebx >>> 16) & 0xff, 4);
  assert.ok(leaf1.ecx & (1 << 31));
  const l0 = c.find((e) => e.function === 0xb && e.index === 0)!;
  const l1 = c.find((e) => e.function === 0xb && e.index === 1)!;
  assert.equal([l0.ebx, l0.edx, l1.eax, l1.ebx, l1.edx], [1, 2, 2, 4, 2]);
});

test("the TSC-deadline timer is hidden only when asked (nested PVM hosts)", () => {
  assert.ok(cpuidForVcpu(host, 0, 1).find((e) => e.function === 1)!.ecx & (1 << 24));
  assert.not.ok(cpuidForVcpu(host, 0, 1, { hideTscDeadline: true }).find((e) => e.function === 1)!.ecx & (1 << 24));
});

test.run();
