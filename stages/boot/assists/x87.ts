// x87 stack operations on an FXSAVE image, for the assists that change it.
// Register slots are in ST(i) order; the abridged tag byte has one bit per
// physical register.
import { fx } from "../kvm/fx-image.js";

export const FSW_EXCEPTIONS = 0x00ff; // IE DE ZE OE UE PE SF ES
export const FSW_BUSY = 0x8000;
export const FSW_ES = 0x0080;
export const MXCSR_MASK = 0x0000ffff;

export function top(f: DataView): number {
  return (f.getUint16(fx.fsw, true) >> 11) & 7;
}

/** Pushes an 80-bit value onto the x87 stack (FILD, FLD). */
export function push(f: DataView, value: Uint8Array): void {
  const newTop = (top(f) - 1) & 7;
  const base = fx.st;
  for (let i = 7; i >= 1; i--) {
    for (let b = 0; b < 16; b++) f.setUint8(base + i * 16 + b, f.getUint8(base + (i - 1) * 16 + b));
  }
  for (let b = 0; b < 16; b++) f.setUint8(base + b, b < 10 ? value[b] : 0);
  const fsw = f.getUint16(fx.fsw, true);
  f.setUint16(fx.fsw, (fsw & ~0x3800) | (newTop << 11), true);
  f.setUint8(fx.ftw, f.getUint8(fx.ftw) | (1 << newTop));
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

