// Byte layouts of the KVM structures the VMM exchanges with the kernel
// (x86_64, little endian). Each is a plain object <-> Uint8Array codec, so the
// rest of the VMM never deals with offsets.

export interface Regs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint; rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint; r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}
export const REG_NAMES = [
  "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
] as const;
export const REGS_SIZE = 144;

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeRegs(b: Uint8Array): Regs {
  const v = dv(b);
  const r = {} as Record<string, bigint>;
  REG_NAMES.forEach((n, i) => (r[n] = v.getBigUint64(i * 8, true)));
  return r as unknown as Regs;
}

export function encodeRegs(r: Partial<Regs>, into = new Uint8Array(REGS_SIZE)): Uint8Array {
  const v = dv(into);
  REG_NAMES.forEach((n, i) => {
    const value = r[n];
    if (value !== undefined) v.setBigUint64(i * 8, BigInt.asUintN(64, value), true);
  });
  return into;
}

export interface Segment {
  base: bigint; limit: number; selector: number; type: number;
  present: number; dpl: number; db: number; s: number; l: number; g: number; avl: number; unusable: number;
}
export interface DTable { base: bigint; limit: number }
export interface Sregs {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment; tr: Segment; ldt: Segment;
  gdt: DTable; idt: DTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint; efer: bigint; apicBase: bigint;
  interruptBitmap: Uint8Array;
}
export const SREGS_SIZE = 312;
const SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;
const CONTROL = ["cr0", "cr2", "cr3", "cr4", "cr8", "efer", "apicBase"] as const;

function decodeSegment(v: DataView, o: number): Segment {
  return {
    base: v.getBigUint64(o, true), limit: v.getUint32(o + 8, true), selector: v.getUint16(o + 12, true),
    type: v.getUint8(o + 14), present: v.getUint8(o + 15), dpl: v.getUint8(o + 16), db: v.getUint8(o + 17),
    s: v.getUint8(o + 18), l: v.getUint8(o + 19), g: v.getUint8(o + 20), avl: v.getUint8(o + 21),
    unusable: v.getUint8(o + 22),
  };
}

function encodeSegment(v: DataView, o: number, s: Segment): void {
  v.setBigUint64(o, s.base, true); v.setUint32(o + 8, s.limit >>> 0, true); v.setUint16(o + 12, s.selector, true);
  v.setUint8(o + 14, s.type); v.setUint8(o + 15, s.present); v.setUint8(o + 16, s.dpl); v.setUint8(o + 17, s.db);
  v.setUint8(o + 18, s.s); v.setUint8(o + 19, s.l); v.setUint8(o + 20, s.g); v.setUint8(o + 21, s.avl);
  v.setUint8(o + 22, s.unusable); v.setUint8(o + 23, 0);
}

export function decodeSregs(b: Uint8Array): Sregs {
  const v = dv(b);
  const s = {} as Record<string, unknown>;
  SEGMENTS.forEach((n, i) => (s[n] = decodeSegment(v, i * 24)));
  s.gdt = { base: v.getBigUint64(192, true), limit: v.getUint16(200, true) };
  s.idt = { base: v.getBigUint64(208, true), limit: v.getUint16(216, true) };
  CONTROL.forEach((n, i) => (s[n] = v.getBigUint64(224 + i * 8, true)));
  s.interruptBitmap = b.slice(280, 312);
  return s as unknown as Sregs;
}

export function encodeSregs(s: Sregs): Uint8Array {
  const b = new Uint8Array(SREGS_SIZE);
  const v = dv(b);
  SEGMENTS.forEach((n, i) => encodeSegment(v, i * 24, s[n]));
  v.setBigUint64(192, s.gdt.base, true); v.setUint16(200, s.gdt.limit, true);
  v.setBigUint64(208, s.idt.base, true); v.setUint16(216, s.idt.limit, true);
  CONTROL.forEach((n, i) => v.setBigUint64(224 + i * 8, s[n], true));
  b.set(s.interruptBitmap.subarray(0, 32), 280);
  return b;
}

/** struct kvm_fpu, kept as bytes with named accessors: the assists edit a field or two. */
export const FPU_SIZE = 416;
export const fpuOffsets = {
  fpr: 0, // 8 x 16 bytes, ST(0)..ST(7)
  fcw: 128, fsw: 130, ftwx: 132, lastOpcode: 134, lastIp: 136, lastDp: 144,
  xmm: 152, // 16 x 16 bytes
  mxcsr: 408,
} as const;

/** struct kvm_vcpu_events: only the exception part is needed to inject one. */
export const VCPU_EVENTS_SIZE = 64;

export function encodeException(vector: number, errorCode?: number, into = new Uint8Array(VCPU_EVENTS_SIZE)): Uint8Array {
  const v = dv(into);
  v.setUint8(0, 1); // injected
  v.setUint8(1, vector);
  v.setUint8(2, errorCode === undefined ? 0 : 1);
  v.setUint8(3, 0); // pending
  v.setUint32(4, errorCode ?? 0, true);
  return into;
}

export interface CpuidEntry {
  function: number; index: number; flags: number; eax: number; ebx: number; ecx: number; edx: number;
}
const CPUID_ENTRY_SIZE = 40;

export function cpuidBuffer(maxEntries: number): Uint8Array {
  const b = new Uint8Array(8 + maxEntries * CPUID_ENTRY_SIZE);
  dv(b).setUint32(0, maxEntries, true);
  return b;
}

export function decodeCpuid(b: Uint8Array): CpuidEntry[] {
  const v = dv(b);
  const n = v.getUint32(0, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const o = 8 + i * CPUID_ENTRY_SIZE;
    out.push({
      function: v.getUint32(o, true), index: v.getUint32(o + 4, true), flags: v.getUint32(o + 8, true),
      eax: v.getUint32(o + 12, true), ebx: v.getUint32(o + 16, true), ecx: v.getUint32(o + 20, true),
      edx: v.getUint32(o + 24, true),
    });
  }
  return out;
}

export function encodeCpuid(entries: readonly CpuidEntry[]): Uint8Array {
  const b = cpuidBuffer(entries.length);
  const v = dv(b);
  entries.forEach((e, i) => {
    const o = 8 + i * CPUID_ENTRY_SIZE;
    v.setUint32(o, e.function, true); v.setUint32(o + 4, e.index, true); v.setUint32(o + 8, e.flags, true);
    v.setUint32(o + 12, e.eax >>> 0, true); v.setUint32(o + 16, e.ebx >>> 0, true);
    v.setUint32(o + 20, e.ecx >>> 0, true); v.setUint32(o + 24, e.edx >>> 0, true);
  });
  return b;
}

export function encodeMsrs(entries: ReadonlyArray<[index: number, value: bigint]>): Uint8Array {
  const b = new Uint8Array(8 + entries.length * 16);
  const v = dv(b);
  v.setUint32(0, entries.length, true);
  entries.forEach(([index, value], i) => {
    v.setUint32(8 + i * 16, index, true);
    v.setBigUint64(16 + i * 16, value, true);
  });
  return b;
}

export function decodeMsrValue(b: Uint8Array, i: number): bigint {
  return dv(b).getBigUint64(16 + i * 16, true);
}

export function encodeMemoryRegion(slot: number, guestPhys: bigint, size: bigint, userAddr: bigint): Uint8Array {
  const b = new Uint8Array(32);
  const v = dv(b);
  v.setUint32(0, slot, true);
  v.setUint32(4, 0, true);
  v.setBigUint64(8, guestPhys, true);
  v.setBigUint64(16, size, true);
  v.setBigUint64(24, userAddr, true);
  return b;
}

export function encodeIrqLevel(irq: number, level: number): Uint8Array {
  const b = new Uint8Array(8);
  dv(b).setUint32(0, irq, true);
  dv(b).setUint32(4, level, true);
  return b;
}

export function encodeIrqfd(fd: number, gsi: number, flags = 0): Uint8Array {
  const b = new Uint8Array(32);
  dv(b).setUint32(0, fd, true);
  dv(b).setUint32(4, gsi, true);
  dv(b).setUint32(8, flags, true);
  return b;
}

/** struct kvm_ioeventfd; `datamatch` undefined means any written value. */
export function encodeIoeventfd(addr: bigint, len: number, fd: number, opts: { pio?: boolean; datamatch?: bigint; deassign?: boolean }): Uint8Array {
  const b = new Uint8Array(64);
  const v = dv(b);
  v.setBigUint64(0, opts.datamatch ?? 0n, true);
  v.setBigUint64(8, addr, true);
  v.setUint32(16, len, true);
  v.setInt32(20, fd, true);
  const flags = (opts.datamatch !== undefined ? 1 : 0) | (opts.pio ? 2 : 0) | (opts.deassign ? 4 : 0);
  v.setUint32(24, flags, true);
  return b;
}

export interface Translation { physical: bigint; valid: boolean; writeable: boolean; usermode: boolean }

export function encodeTranslation(linear: bigint): Uint8Array {
  const b = new Uint8Array(24);
  dv(b).setBigUint64(0, linear, true);
  return b;
}

export function decodeTranslation(b: Uint8Array): Translation {
  const v = dv(b);
  return { physical: v.getBigUint64(8, true), valid: v.getUint8(16) !== 0, writeable: v.getUint8(17) !== 0, usermode: v.getUint8(18) !== 0 };
}

/** Offsets inside the mmap'ed struct kvm_run. */
export const runOffsets = {
  immediateExit: 1,
  exitReason: 8,
  // exit-specific union at 32
  ioDirection: 32, ioSize: 33, ioPort: 34, ioCount: 36, ioDataOffset: 40,
  mmioPhysAddr: 32, mmioData: 40, mmioLen: 48, mmioIsWrite: 52,
  internalSuberror: 32, internalNdata: 36, internalData: 40,
  systemEventType: 32,
  failEntryReason: 32,
} as const;
export const KVM_EXIT_IO_OUT = 1;
