import { test } from "uvu";
import * as assert from "uvu/assert";
import { cpuidForVcpu } from "../../../stages/boot/vcpu-setup.js";

const host = [
  { function: 1, index: 0, flags: 0, eax: 0xa10f11, ebx: 0x00100800, ecx: 0x7ed8320b | (1 << 24), edx: 0x178bfbff },
  { function: 0xb, index: 0, flags: 1, eax: 1, ebx: 2, ecx: 0x100, edx: 7 },
  { function: 0x40000001, index: 0, flags: 0, eax: 0x01ffffff, ebx: 0, ecx: 0, edx: 0 },
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

test("on a nested PVM host: no TSC-deadline timer, and no hypercall-based KVM PV features (PV IPI, yield, ...)", () => {
  const kvm = (c: ReturnType<typeof cpuidForVcpu>) => c.find((e) => e.function === 0x40000001)!.eax;
  assert.is(kvm(cpuidForVcpu(host, 0, 2)), 0x01ffffff);
  const pvm = kvm(cpuidForVcpu(host, 0, 2, { pvmHost: true }));
  assert.ok(pvm & 1, "kvm-clock kept");
  assert.not.ok(pvm & (1 << 11), "PV send-IPI hidden");
  assert.not.ok(pvm & (1 << 13), "PV sched-yield hidden");
  assert.ok(cpuidForVcpu(host, 0, 1).find((e) => e.function === 1)!.ecx & (1 << 24));
  assert.not.ok(cpuidForVcpu(host, 0, 1, { pvmHost: true }).find((e) => e.function === 1)!.ecx & (1 << 24));
});

test("on a nested PVM host the guest kernel is told about XSAVE and AVX, which user mode there uses", () => {
  // The host's supported set (this host's leaf 1 ECX) leaves them out; leaf 0xD lists x87, SSE and AVX state.
  const pvmHost = [{ function: 1, index: 0, flags: 0, eax: 0xa00f11, ebx: 0x20800, ecx: 0x81202000, edx: 0x078bfbff }];
  const leaf1 = (entries: typeof pvmHost, pvm: boolean) => cpuidForVcpu(entries, 0, 1, { pvmHost: pvm }).find((e) => e.function === 1)!.ecx;
  const withAvxState = [...pvmHost, { function: 0xd, index: 0, flags: 1, eax: 0x207, ebx: 0x988, ecx: 0x988, edx: 0 }];
  assert.is(leaf1(withAvxState, true) & ((1 << 26) | (1 << 28)), (1 << 26) | (1 << 28));
  const withoutAvxState = [...pvmHost, { function: 0xd, index: 0, flags: 1, eax: 0x3, ebx: 0x240, ecx: 0x240, edx: 0 }];
  assert.is(leaf1(withoutAvxState, true) & ((1 << 26) | (1 << 28)), 1 << 26, "no AVX bit without AVX state");
  assert.is(leaf1(pvmHost, true) & (1 << 26), 0, "no leaf 0xD: no XSAVE");
  assert.is(leaf1(withAvxState, false) & (1 << 26), 0, "hardware KVM: the supported set as it is");
});

test("on a nested PVM host with AVX-512 state (Intel), the guest kernel is told about AVX-512F so it saves that state", () => {
  const leaf7 = { function: 7, index: 0, flags: 1, eax: 0, ebx: 0x209, ecx: 0, edx: 0 };
  const base = [{ function: 1, index: 0, flags: 0, eax: 0x806f8, ebx: 0x800, ecx: 0x81202000, edx: 0x078bfbff }, leaf7];
  const avx512f = (eax: number, pvm = true) =>
    cpuidForVcpu([...base, { function: 0xd, index: 0, flags: 1, eax, ebx: 0xa88, ecx: 0xa88, edx: 0 }], 0, 1, { pvmHost: pvm })
      .find((e) => e.function === 7)!.ebx & (1 << 16);
  assert.is(avx512f(0x2e7), 1 << 16);
  assert.is(avx512f(0x207), 0, "no AVX-512 state: not claimed");
  assert.is(avx512f(0x2e7, false), 0, "hardware KVM: the supported set as it is");
});

test("on a nested PVM host the XSAVE extensions the assists do not do are hidden (XSAVEOPT, XSAVEC, XGETBV1, XSAVES)", () => {
  const entries = [{ function: 0xd, index: 1, flags: 1, eax: 0x1f, ebx: 0, ecx: 0, edx: 0 }];
  assert.is(cpuidForVcpu(entries, 0, 1, { pvmHost: true })[0].eax, 0x10, "only those four");
  assert.is(cpuidForVcpu(entries, 0, 1)[0].eax, 0x1f, "hardware KVM: the supported set as it is");
});

test.run();
