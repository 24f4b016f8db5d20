// The state an assist works on: registers, segment bases, the FPU image and
// guest memory, loaded lazily and written back once when the assist is done.
import { Instruction, OpKind, Register, RegisterExt } from "iced-x86";
import { GuestMemory } from "../guest-memory.js";
import { Vcpu } from "../kvm/vcpu.js";
import { Regs, Sregs } from "../kvm/structs.js";
import { accessLinear } from "./guest-virtual.js";

/** kvm_regs names by x86 register number (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8..R15). */
const GPR_BY_NUMBER = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"] as const;
type GprName = (typeof GPR_BY_NUMBER)[number];

export const RFLAGS = { CF: 1n << 0n, PF: 1n << 2n, AF: 1n << 4n, ZF: 1n << 6n, SF: 1n << 7n, TF: 1n << 8n, OF: 1n << 11n, AC: 1n << 18n } as const;

export class CpuView {
  readonly regs: Regs;
  readonly sregs: Sregs;
  private fpuBytes: Uint8Array | undefined;
  private fpuDirty = false;
  private xsaveBytes: Uint8Array | undefined;
  private xsaveDirty = false;

  constructor(readonly vcpu: Vcpu, readonly mem: GuestMemory) {
    this.regs = vcpu.getRegs();
    this.sregs = vcpu.getSregs();
  }

  get paging(): boolean {
    return (this.sregs.cr0 & 0x80000000n) !== 0n;
  }

  /** 16, 32 or 64: the code size the vCPU is executing in. */
  get bitness(): 16 | 32 | 64 {
    if ((this.sregs.efer & 0x400n) !== 0n && this.sregs.cs.l) return 64;
    return this.sregs.cs.db ? 32 : 16;
  }

  get cpl(): number {
    return this.sregs.cs.dpl;
  }

  get ripLinear(): bigint {
    return this.bitness === 64 ? this.regs.rip : this.sregs.cs.base + this.regs.rip;
  }

  readLinear(linear: bigint, len: number): Uint8Array {
    return accessLinear(this.vcpu, this.mem, linear, len, this.paging);
  }

  /** Reads bytes the instruction will then write: faults as a write if they may not be written. */
  readLinearForWrite(linear: bigint, len: number): Uint8Array {
    return accessLinear(this.vcpu, this.mem, linear, len, this.paging, undefined, true);
  }

  writeLinear(linear: bigint, data: Uint8Array): void {
    accessLinear(this.vcpu, this.mem, linear, data.length, this.paging, data);
  }

  /** The x87/SSE state as an FXSAVE image (offsets: kvm/fx-image.ts); fetched on first use, written back by commit(). */
  fpu(): DataView {
    if (!this.fpuBytes) this.fpuBytes = this.vcpu.getFxImage();
    this.fpuDirty = true;
    return new DataView(this.fpuBytes.buffer);
  }

  fxImage(): Uint8Array {
    this.fpu();
    return this.fpuBytes!;
  }

  /** The whole FPU/vector state as a standard-form XSAVE area; fetched on first use. */
  xsaveState(): Uint8Array {
    this.xsaveBytes ??= this.vcpu.getXsave();
    return this.xsaveBytes;
  }

  /** xsaveState() was changed: commit() writes it back. */
  xsaveChanged(): void {
    this.xsaveDirty = true;
  }

  getGpr(reg: Register): bigint {
    const [name, shift, bits] = this.gpr(reg);
    return BigInt.asUintN(bits, this.regs[name] >> shift);
  }

  setGpr(reg: Register, value: bigint): void {
    const [name, shift, bits] = this.gpr(reg);
    const mask = ((1n << BigInt(bits)) - 1n) << shift;
    if (bits === 32) this.regs[name] = BigInt.asUintN(32, value); // 32-bit writes zero the upper half
    else this.regs[name] = (this.regs[name] & ~mask) | ((BigInt.asUintN(bits, value) << shift) & mask);
  }

  private gpr(reg: Register): [GprName, bigint, number] {
    const size = RegisterExt.size(reg);
    const number = RegisterExt.number(reg);
    if (size === 1) {
      // AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8L..R15L
      if (number >= 4 && number < 8) return [GPR_BY_NUMBER[number - 4], 8n, 8];
      return [GPR_BY_NUMBER[number >= 8 ? number - 4 : number], 0n, 8];
    }
    if (number > 15 || ![2, 4, 8].includes(size)) throw new Error(`assist: register ${reg} is not a general-purpose register`);
    return [GPR_BY_NUMBER[number], 0n, size * 8];
  }

  /** Linear address of an instruction's memory operand. */
  memoryAddress(ins: Instruction): bigint {
    let addr = ins.memoryDisplacement;
    if (ins.memoryBase !== Register.None && ins.memoryBase !== Register.RIP && ins.memoryBase !== Register.EIP) addr += this.getGpr(ins.memoryBase);
    if (ins.memoryIndex !== Register.None) addr += this.getGpr(ins.memoryIndex) * BigInt(ins.memoryIndexScale);
    const addrBits = this.bitness === 64 && ins.memoryBase !== Register.EIP && !isReg32(ins.memoryBase) ? 64 : 32;
    addr = BigInt.asUintN(addrBits, addr);
    const seg = ins.memorySegment;
    if (seg === Register.FS) addr += this.sregs.fs.base;
    else if (seg === Register.GS) addr += this.sregs.gs.base;
    else if (this.bitness !== 64) addr += segmentBase(this.sregs, seg);
    return BigInt.asUintN(64, addr);
  }

  /** Operand `n` as a value of `bytes` bytes (register, memory or immediate). */
  readOperand(ins: Instruction, n: number, bytes: number): bigint {
    const kind = ins.opKind(n);
    if (kind === OpKind.Register) return this.getGpr(ins.opRegister(n));
    if (kind === OpKind.Memory) return leToBigint(this.readLinear(this.memoryAddress(ins), bytes));
    return BigInt.asUintN(bytes * 8, ins.immediate(n));
  }

  writeOperand(ins: Instruction, n: number, bytes: number, value: bigint): void {
    const kind = ins.opKind(n);
    if (kind === OpKind.Register) this.setGpr(ins.opRegister(n), value);
    else if (kind === OpKind.Memory) this.writeLinear(this.memoryAddress(ins), bigintToLe(value, bytes));
    else throw new Error("assist: cannot write an immediate operand");
  }

  /** Writes registers (and the FPU, if touched) back to the vCPU. */
  commit(): void {
    if (this.fpuDirty && this.fpuBytes) this.vcpu.setFxImage(this.fpuBytes);
    if (this.xsaveDirty && this.xsaveBytes) this.vcpu.setXsave(this.xsaveBytes);
    this.vcpu.setRegs(this.regs);
  }
}

function isReg32(reg: Register): boolean {
  return reg !== Register.None && RegisterExt.size(reg) === 4;
}

function segmentBase(s: Sregs, seg: Register): bigint {
  switch (seg) {
    case Register.CS: return s.cs.base;
    case Register.SS: return s.ss.base;
    case Register.ES: return s.es.base;
    default: return s.ds.base;
  }
}

export function leToBigint(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

export function bigintToLe(v: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((v >> BigInt(i * 8)) & 0xffn);
  return out;
}
