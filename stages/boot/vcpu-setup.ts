// What every vCPU gets before it first runs: CPUID (the host's supported set
// with this vCPU's APIC ID), the MSRs Linux expects, a sane FPU, and local
// APIC LINT0/LINT1 wired as on a PC.
import { CpuidEntry, fpuOffsets } from "./kvm/structs.js";
import { Vcpu } from "./kvm/vcpu.js";

const CPUID_HYPERVISOR = 1 << 31;
const CPUID_TSC_DEADLINE = 1 << 24;
const CPUID_HTT = 1 << 28;
const CPUID_XSAVE = 1 << 26;
const CPUID_AVX = 1 << 28;

/**
 * KVM paravirtual features (leaf 0x40000001 EAX) kept on a nested PVM host:
 * kvm-clock (0, 3, 24), no port-0x80 delay (1), steal time (5), PV EOI (6).
 * The rest ask the host for hypercalls (PV IPIs, sched yield, TLB flush, CPU
 * kick): with PV IPIs on, an SMP guest's first IPI hypercall never returned.
 */
const PVM_HOST_KVM_FEATURES = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 24);

export interface CpuidOptions {
  /**
   * Shape CPUID for a nested PVM host: only the KVM PV features above, and
   * no TSC-deadline timer. With the TSC-deadline timer, Linux emulates
   * its periodic tick in one-shot mode and catches up every missed tick in a
   * loop; when one tick's handler takes longer than a tick period (emulated
   * CPL0 code, ~2M instructions/s) the guest does nothing else and the boot
   * stalls. The local APIC's own periodic mode drops missed ticks instead.
   * Measured 2026-11-27: stalled for minutes with it, boots without it.
   * And XSAVE and AVX (AVX-512F on hosts with its state), which the host's
   * supported set leaves out though the CPU has them: user mode there runs
   * natively with the host's CPUID and XCR0, so glibc uses AVX, and the
   * guest kernel must switch tasks' state with XSAVE, AVX included (the VMM
   * assists xsave/xrstor).
   */
  pvmHost?: boolean;
}

/** Opmask, ZMM_Hi256 and Hi16_ZMM: the AVX-512 state components. */
const AVX512_STATE = 0xe0;
const CPUID7_AVX512F = 1 << 16;
/** Leaf 0xD sub-leaf 1 EAX: XSAVEOPT (0), XSAVEC (1), XGETBV with ECX = 1 (2), XSAVES (3). */
const XSAVE_EXTENSIONS = 0xf;

/** The host's XSAVE state components (leaf 0xD), or 0. */
function hostStateComponents(supported: readonly CpuidEntry[]): number {
  return supported.find((e) => e.function === 0xd && e.index === 0)?.eax ?? 0;
}

/**
 * Leaf 1 ECX bits for a nested PVM host: XSAVE, and AVX if the host's leaf
 * 0xD lists its state. Linux saves a state component only when the feature
 * that uses it is in CPUID, and user mode there has them all.
 */
function pvmHostXsaveBits(supported: readonly CpuidEntry[]): number {
  const components = hostStateComponents(supported);
  if ((components & 3) !== 3) return 0;
  return CPUID_XSAVE | (components & 4 ? CPUID_AVX : 0);
}

/** Leaf 7 EBX bits for a nested PVM host: AVX-512F when the host lists AVX-512 state (Intel hosts). */
function pvmHostAvx512Bits(supported: readonly CpuidEntry[]): number {
  return (hostStateComponents(supported) & AVX512_STATE) === AVX512_STATE && pvmHostXsaveBits(supported) ? CPUID7_AVX512F : 0;
}

export function cpuidForVcpu(supported: readonly CpuidEntry[], index: number, count: number, opts: CpuidOptions = {}): CpuidEntry[] {
  const shift = Math.max(0, Math.ceil(Math.log2(count)));
  return supported.map((e) => {
    const out = { ...e };
    if (e.function === 1) {
      out.ebx = ((e.ebx & 0x0000ffff) | ((count & 0xff) << 16) | ((index & 0xff) << 24)) >>> 0;
      out.ecx = (e.ecx | CPUID_HYPERVISOR) >>> 0;
      if (opts.pvmHost) out.ecx = ((out.ecx & ~CPUID_TSC_DEADLINE) | pvmHostXsaveBits(supported)) >>> 0;
      out.edx = count > 1 ? (e.edx | CPUID_HTT) >>> 0 : e.edx;
    } else if (e.function === 0xb || e.function === 0x1f) {
      // Extended topology: one thread per core, `count` cores in one package.
      if (e.index === 0) Object.assign(out, { eax: 0, ebx: 1, ecx: (1 << 8) | 0 });
      else if (e.index === 1) Object.assign(out, { eax: shift, ebx: count, ecx: (2 << 8) | 1 });
      else Object.assign(out, { eax: 0, ebx: 0, ecx: e.index });
      out.edx = index;
    } else if (e.function === 0xd && e.index === 1 && opts.pvmHost) {
      // The assists do XSAVE and XRSTOR in their standard form, and XGETBV of XCR0, only.
      out.eax = (e.eax & ~XSAVE_EXTENSIONS) >>> 0;
    } else if (e.function === 7 && e.index === 0 && opts.pvmHost) {
      out.ebx = (e.ebx | pvmHostAvx512Bits(supported)) >>> 0;
    } else if (e.function === 0x40000001 && opts.pvmHost) {
      out.eax = (e.eax & PVM_HOST_KVM_FEATURES) >>> 0;
    } else if (e.function === 0x8000001e) {
      // AMD topology: extended APIC ID, core ID (one thread per core), node 0.
      Object.assign(out, { eax: index, ebx: index & 0xff, ecx: 0, edx: 0 });
    } else if (e.function === 0x80000008) {
      // AMD: number of cores in the package, and APIC ID bits they use.
      out.ecx = ((e.ecx & ~0xf0ff) | ((count - 1) & 0xff) | (shift << 12)) >>> 0;
    }
    return out;
  });
}

/** MSR values at reset, as Linux's boot path expects them. */
export const BOOT_MSRS: ReadonlyArray<[number, bigint]> = [
  [0x174, 0n], // IA32_SYSENTER_CS
  [0x175, 0n], // IA32_SYSENTER_ESP
  [0x176, 0n], // IA32_SYSENTER_EIP
  [0xc0000081, 0n], // STAR
  [0xc0000082, 0n], // LSTAR
  [0xc0000083, 0n], // CSTAR
  [0xc0000084, 0n], // SYSCALL_MASK
  [0xc0000102, 0n], // KERNEL_GS_BASE
  [0x10, 0n], // IA32_TSC
  [0x1a0, 1n], // IA32_MISC_ENABLE: fast strings
  [0x2ff, (1n << 11n) | 6n], // MTRRdefType: MTRRs on, write-back
];

export function setupVcpu(vcpu: Vcpu, supported: readonly CpuidEntry[], count: number, opts: CpuidOptions = {}): { refusedMsrs: number[] } {
  vcpu.setCpuid(cpuidForVcpu(supported, vcpu.index, count, opts));
  const refusedMsrs = vcpu.setMsrs(BOOT_MSRS);

  const fpu = vcpu.getFpu();
  const f = new DataView(fpu.buffer);
  f.setUint16(fpuOffsets.fcw, 0x37f, true);
  f.setUint32(fpuOffsets.mxcsr, 0x1f80, true);
  vcpu.setFpu(fpu);

  const lapic = vcpu.getLapic();
  const l = new DataView(lapic.buffer);
  const lvt = (offset: number, mode: number) => l.setUint32(offset, (l.getUint32(offset, true) & ~0x700) | (mode << 8), true);
  lvt(0x350, 7); // LINT0: ExtINT (the 8259 PIC)
  lvt(0x360, 4); // LINT1: NMI
  vcpu.setLapic(lapic);
  return { refusedMsrs };
}
