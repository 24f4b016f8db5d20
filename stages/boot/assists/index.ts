// Every instruction assist in one place. On a nested PVM host the host's
// instruction emulator cannot run some instructions the guest kernel executes
// at CPL0 (KVM_EXIT_INTERNAL_ERROR, emulation failure); the vCPU thread
// decodes the instruction and performs it here against the vCPU's state.
// None of this runs on hardware KVM. Each entry names the test covering it
// (test/stages/boot/assists.vm.test.ts runs each in a small long-mode guest).
import { Instruction, MemorySizeExt, Mnemonic, RegisterExt } from "iced-x86";
import { fx } from "../kvm/fx-image.js";
import { CpuView, leToBigint, RFLAGS } from "./cpu-view.js";
import { FSW_BUSY, FSW_ES, FSW_EXCEPTIONS, integerToExtended, MXCSR_MASK, push } from "./x87.js";
import { Vcpu } from "../kvm/vcpu.js";
import { xrstorFrom, xsaveAreaSize, xsaveInto, xsaveLayout, type XsaveLayout } from "./xsave.js";

export interface AssistOutcome {
  /** Exception to raise in the guest instead of completing (RIP is not advanced); `cr2` for a page fault. */
  fault?: { vector: number; errorCode?: number; cr2?: bigint };
  /** Exception to raise after completing the instruction (a trap, like int3's #BP). */
  trap?: { vector: number };
}

export interface Assist {
  name: string;
  mnemonics: Mnemonic[];
  /** Where this assist is tested. */
  test: string;
  perform(cpu: CpuView, ins: Instruction): AssistOutcome | void;
}

const TEST = "test/stages/boot/assists.vm.test.ts";
const GP = { fault: { vector: 13, errorCode: 0 } };
const UD = { fault: { vector: 6 } };

function memBytes(ins: Instruction): number {
  return MemorySizeExt.size(ins.memorySize);
}

const CR4_OSXSAVE = 1n << 18n;

/** XSAVE/XRSTOR's requested-feature bitmap: EDX:EAX masked by XCR0. */
function requestedFeatures(cpu: CpuView, xcr0: bigint): bigint {
  return (((cpu.regs.rdx & 0xffffffffn) << 32n) | (cpu.regs.rax & 0xffffffffn)) & xcr0;
}

// The guest's CPUID does not change once it runs: one KVM_GET_CPUID2 per vCPU.
const layouts = new WeakMap<Vcpu, XsaveLayout>();
function layoutOf(vcpu: Vcpu): XsaveLayout {
  let layout = layouts.get(vcpu);
  if (!layout) layouts.set(vcpu, (layout = xsaveLayout(vcpu.getCpuid())));
  return layout;
}

export const ASSISTS: readonly Assist[] = [
  {
    name: "int3", mnemonics: [Mnemonic.Int3], test: `${TEST}: int3`,
    perform: () => ({ trap: { vector: 3 } }),
  },
  {
    name: "clac", mnemonics: [Mnemonic.Clac], test: `${TEST}: clac/stac`,
    perform: (cpu) => {
      if (cpu.cpl !== 0) return UD;
      cpu.regs.rflags &= ~RFLAGS.AC;
    },
  },
  {
    name: "stac", mnemonics: [Mnemonic.Stac], test: `${TEST}: clac/stac`,
    perform: (cpu) => {
      if (cpu.cpl !== 0) return UD;
      cpu.regs.rflags |= RFLAGS.AC;
    },
  },
  {
    name: "fnclex", mnemonics: [Mnemonic.Fnclex], test: `${TEST}: x87 control`,
    perform: (cpu) => {
      const f = cpu.fpu();
      f.setUint16(fx.fsw, f.getUint16(fx.fsw, true) & ~(FSW_EXCEPTIONS | FSW_BUSY), true);
    },
  },
  {
    name: "fwait", mnemonics: [Mnemonic.Wait], test: `${TEST}: x87 control`,
    // Unmasked x87 exceptions pending: #MF; otherwise nothing to wait for.
    perform: (cpu) => ((cpu.fpu().getUint16(fx.fsw, true) & FSW_ES) !== 0 ? { fault: { vector: 16 } } : undefined),
  },
  {
    name: "fninit", mnemonics: [Mnemonic.Fninit], test: `${TEST}: x87 control`,
    perform: (cpu) => {
      const f = cpu.fpu();
      f.setUint16(fx.fcw, 0x37f, true);
      f.setUint16(fx.fsw, 0, true);
      f.setUint8(fx.ftw, 0);
      f.setUint16(fx.fop, 0, true);
      f.setBigUint64(fx.fip, 0n, true);
      f.setBigUint64(fx.fdp, 0n, true);
    },
  },
  {
    name: "fldcw", mnemonics: [Mnemonic.Fldcw], test: `${TEST}: x87 control`,
    perform: (cpu, ins) => cpu.fpu().setUint16(fx.fcw, Number(cpu.readOperand(ins, 0, 2)), true),
  },
  {
    name: "fnstcw", mnemonics: [Mnemonic.Fnstcw], test: `${TEST}: x87 control`,
    perform: (cpu, ins) => cpu.writeOperand(ins, 0, 2, BigInt(cpu.fpu().getUint16(fx.fcw, true))),
  },
  {
    name: "fnstsw", mnemonics: [Mnemonic.Fnstsw], test: `${TEST}: x87 control`,
    perform: (cpu, ins) => cpu.writeOperand(ins, 0, 2, BigInt(cpu.fpu().getUint16(fx.fsw, true))),
  },
  {
    name: "emms", mnemonics: [Mnemonic.Emms], test: `${TEST}: x87 control`,
    perform: (cpu) => cpu.fpu().setUint8(fx.ftw, 0),
  },
  {
    name: "fild", mnemonics: [Mnemonic.Fild], test: `${TEST}: fild`,
    perform: (cpu, ins) => {
      const bytes = memBytes(ins);
      const raw = leToBigint(cpu.readLinear(cpu.memoryAddress(ins), bytes));
      push(cpu.fpu(), integerToExtended(BigInt.asIntN(bytes * 8, raw)));
    },
  },
  {
    name: "ldmxcsr", mnemonics: [Mnemonic.Ldmxcsr], test: `${TEST}: mxcsr`,
    perform: (cpu, ins) => {
      const value = Number(cpu.readOperand(ins, 0, 4));
      if (value & ~MXCSR_MASK) return GP;
      cpu.fpu().setUint32(fx.mxcsr, value, true);
    },
  },
  {
    name: "stmxcsr", mnemonics: [Mnemonic.Stmxcsr], test: `${TEST}: mxcsr`,
    perform: (cpu, ins) => cpu.writeOperand(ins, 0, 4, BigInt(cpu.fpu().getUint32(fx.mxcsr, true))),
  },
  {
    name: "fxsave", mnemonics: [Mnemonic.Fxsave, Mnemonic.Fxsave64], test: `${TEST}: fxsave/fxrstor`,
    perform: (cpu, ins) => {
      const addr = cpu.memoryAddress(ins);
      if (addr % 16n) return GP;
      const img = cpu.fxImage().slice();
      new DataView(img.buffer).setUint32(fx.mxcsrMask, MXCSR_MASK, true);
      cpu.writeLinear(addr, img);
    },
  },
  {
    name: "fxrstor", mnemonics: [Mnemonic.Fxrstor, Mnemonic.Fxrstor64], test: `${TEST}: fxsave/fxrstor`,
    perform: (cpu, ins) => {
      const addr = cpu.memoryAddress(ins);
      if (addr % 16n) return GP;
      const img = cpu.readLinear(addr, 512);
      if (new DataView(img.buffer).getUint32(24, true) & ~MXCSR_MASK) return GP;
      cpu.fxImage().set(img.subarray(0, 416));
    },
  },
  {
    // Our kernel saves and restores user FPU state with these on nested PVM
    // hosts: there user mode runs with the host's XCR0 (AVX on), so only
    // XSAVE keeps one task's vector registers from the next (kernel/README).
    name: "xsave", mnemonics: [Mnemonic.Xsave, Mnemonic.Xsave64], test: `${TEST}: xsave/xrstor`,
    perform: (cpu, ins) => {
      if (!(cpu.sregs.cr4 & CR4_OSXSAVE)) return UD;
      const addr = cpu.memoryAddress(ins);
      if (addr % 64n) return GP;
      const rfbm = requestedFeatures(cpu, cpu.vcpu.getXcr0() ?? 1n);
      const layout = layoutOf(cpu.vcpu);
      const image = cpu.readLinearForWrite(addr, xsaveAreaSize(rfbm, layout));
      xsaveInto(image, cpu.xsaveState(), rfbm, layout);
      cpu.writeLinear(addr, image);
    },
  },
  {
    name: "xrstor", mnemonics: [Mnemonic.Xrstor, Mnemonic.Xrstor64], test: `${TEST}: xsave/xrstor`,
    perform: (cpu, ins) => {
      if (!(cpu.sregs.cr4 & CR4_OSXSAVE)) return UD;
      const addr = cpu.memoryAddress(ins);
      if (addr % 64n) return GP;
      const xcr0 = cpu.vcpu.getXcr0() ?? 1n;
      const rfbm = requestedFeatures(cpu, xcr0);
      const layout = layoutOf(cpu.vcpu);
      const image = cpu.readLinear(addr, xsaveAreaSize(rfbm, layout));
      if (xrstorFrom(image, cpu.xsaveState(), rfbm, xcr0, layout) !== null) return GP;
      cpu.xsaveChanged();
    },
  },
  {
    name: "xgetbv", mnemonics: [Mnemonic.Xgetbv], test: `${TEST}: xgetbv`,
    perform: (cpu) => {
      if ((cpu.regs.rcx & 0xffffffffn) !== 0n) return GP;
      if (!(cpu.sregs.cr4 & CR4_OSXSAVE)) return UD;
      const xcr0 = cpu.vcpu.getXcr0() ?? 1n;
      cpu.regs.rax = xcr0 & 0xffffffffn;
      cpu.regs.rdx = xcr0 >> 32n;
    },
  },
  {
    name: "rdtscp", mnemonics: [Mnemonic.Rdtscp], test: `${TEST}: rdtscp`,
    perform: (cpu) => {
      const tsc = cpu.vcpu.getMsr(0x10) ?? 0n;
      const aux = cpu.vcpu.getMsr(0xc0000103) ?? 0n;
      cpu.regs.rax = tsc & 0xffffffffn;
      cpu.regs.rdx = tsc >> 32n;
      cpu.regs.rcx = aux & 0xffffffffn;
    },
  },
  {
    name: "popcnt", mnemonics: [Mnemonic.Popcnt], test: `${TEST}: popcnt`,
    perform: (cpu, ins) => {
      const bytes = RegisterExt.size(ins.op0Register); // the destination is always a register
      const value = cpu.readOperand(ins, 1, bytes);
      let count = 0n;
      for (let v = value; v; v &= v - 1n) count++;
      cpu.writeOperand(ins, 0, bytes, count);
      const f = RFLAGS;
      cpu.regs.rflags &= ~(f.CF | f.PF | f.AF | f.ZF | f.SF | f.OF);
      if (value === 0n) cpu.regs.rflags |= f.ZF;
    },
  },
];

const BY_MNEMONIC = new Map<Mnemonic, Assist>();
for (const a of ASSISTS) for (const m of a.mnemonics) BY_MNEMONIC.set(m, a);

export function assistFor(mnemonic: Mnemonic): Assist | undefined {
  return BY_MNEMONIC.get(mnemonic);
}
