// x87 / SSE control state in struct kvm_fpu terms, for the assists that
// change it. Register stack slots in kvm_fpu are in ST(i) order; the abridged
// tag byte has one bit per physical register.
import { fpuOffsets } from "../kvm/structs.js";

export const FSW_EXCEPTIONS = 0x00ff; // IE DE ZE OE UE PE SF ES
export const FSW_BUSY = 0x8000;
export const FSW_ES = 0x0080;
export const MXCSR_MASK = 0x0000ffff;

export function top(f: DataView): number {
  return (f.getUint16(fpuOffsets.fsw, true) >> 11) & 7;
}

/** Pushes an 80-bit value onto the x87 stack (FILD, FLD). */
export function push(f: DataView, value: Uint8Array): void {
  const newTop = (top(f) - 1) & 7;
  const base = fpuOffsets.fpr;
  for (let i = 7; i >= 1; i--) {
    for (let b = 0; b < 16; b++) f.setUint8(base + i * 16 + b, f.getUint8(base + (i - 1) * 16 + b));
  }
  for (let b = 0; b < 16; b++) f.setUint8(base + b, b < 10 ? value[b] : 0);
  const fsw = f.getUint16(fpuOffsets.fsw, true);
  f.setUint16(fpuOffsets.fsw, (fsw & ~0x3800) | (newTop << 11), true);
  f.setUint8(fpuOffsets.ftwx, f.getUint8(fpuOffsets.ftwx) | (1 << newTop));
}

/** An integer as an 80-bit extended-precision value (exact for 64-bit integers). */
export function integerToExtended(value: bigint): Uint8Array {
  const out = new Uint8Array(10);
  if (value === 0n) return out;
  const negative = value < 0n;
  const magnitude = negative ? -value : value;
  const exponent = magnitude.toString(2).length - 1;
  const mantissa = BigInt.asUintN(64, magnitude << BigInt(63 - exponent));
  for (let i = 0; i < 8; i++) out[i] = Number((mantissa >> BigInt(i * 8)) & 0xffn);
  const se = (negative ? 0x8000 : 0) | (16383 + exponent);
  out[8] = se & 0xff;
  out[9] = se >> 8;
  return out;
}

/** The 512-byte FXSAVE image (64-bit form) of a kvm_fpu. */
export function toFxsave(f: DataView): Uint8Array {
  const img = new Uint8Array(512);
  const v = new DataView(img.buffer);
  v.setUint16(0, f.getUint16(fpuOffsets.fcw, true), true);
  v.setUint16(2, f.getUint16(fpuOffsets.fsw, true), true);
  v.setUint8(4, f.getUint8(fpuOffsets.ftwx));
  v.setUint16(6, f.getUint16(fpuOffsets.lastOpcode, true), true);
  v.setBigUint64(8, f.getBigUint64(fpuOffsets.lastIp, true), true);
  v.setBigUint64(16, f.getBigUint64(fpuOffsets.lastDp, true), true);
  v.setUint32(24, f.getUint32(fpuOffsets.mxcsr, true), true);
  v.setUint32(28, MXCSR_MASK, true);
  for (let b = 0; b < 128; b++) img[32 + b] = f.getUint8(fpuOffsets.fpr + b);
  for (let b = 0; b < 256; b++) img[160 + b] = f.getUint8(fpuOffsets.xmm + b);
  return img;
}

export function fromFxsave(f: DataView, img: Uint8Array): void {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  f.setUint16(fpuOffsets.fcw, v.getUint16(0, true), true);
  f.setUint16(fpuOffsets.fsw, v.getUint16(2, true), true);
  f.setUint8(fpuOffsets.ftwx, v.getUint8(4));
  f.setUint16(fpuOffsets.lastOpcode, v.getUint16(6, true), true);
  f.setBigUint64(fpuOffsets.lastIp, v.getBigUint64(8, true), true);
  f.setBigUint64(fpuOffsets.lastDp, v.getBigUint64(16, true), true);
  f.setUint32(fpuOffsets.mxcsr, v.getUint32(24, true), true);
  for (let b = 0; b < 128; b++) f.setUint8(fpuOffsets.fpr + b, img[32 + b]);
  for (let b = 0; b < 256; b++) f.setUint8(fpuOffsets.xmm + b, img[160 + b]);
}
