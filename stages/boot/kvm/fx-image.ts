// The vCPU's x87/SSE state as a 512-byte FXSAVE image, the form assists and
// tests edit. Offsets are the FXSAVE (64-bit) layout from the Intel SDM.
import { fpuOffsets } from "./structs.js";

export const FX_SIZE = 512;
export const fx = {
  fcw: 0, fsw: 2, ftw: 4, fop: 6, fip: 8, fdp: 16, mxcsr: 24, mxcsrMask: 28,
  st: 32, // 8 x 16 bytes, ST(0)..ST(7)
  xmm: 160, // 16 x 16 bytes
} as const;

/** struct kvm_fpu -> FXSAVE image (for hosts without KVM_GET_XSAVE). */
export function fpuToFx(fpu: Uint8Array): Uint8Array {
  const f = new DataView(fpu.buffer, fpu.byteOffset, fpu.byteLength);
  const img = new Uint8Array(FX_SIZE);
  const v = new DataView(img.buffer);
  v.setUint16(fx.fcw, f.getUint16(fpuOffsets.fcw, true), true);
  v.setUint16(fx.fsw, f.getUint16(fpuOffsets.fsw, true), true);
  v.setUint8(fx.ftw, f.getUint8(fpuOffsets.ftwx));
  v.setUint16(fx.fop, f.getUint16(fpuOffsets.lastOpcode, true), true);
  v.setBigUint64(fx.fip, f.getBigUint64(fpuOffsets.lastIp, true), true);
  v.setBigUint64(fx.fdp, f.getBigUint64(fpuOffsets.lastDp, true), true);
  v.setUint32(fx.mxcsr, f.getUint32(fpuOffsets.mxcsr, true), true);
  v.setUint32(fx.mxcsrMask, 0xffff, true);
  img.set(fpu.subarray(fpuOffsets.fpr, fpuOffsets.fpr + 128), fx.st);
  img.set(fpu.subarray(fpuOffsets.xmm, fpuOffsets.xmm + 256), fx.xmm);
  return img;
}

/** FXSAVE image -> struct kvm_fpu. */
export function fxToFpu(img: Uint8Array): Uint8Array {
  const v = new DataView(img.buffer, img.byteOffset, img.byteLength);
  const fpu = new Uint8Array(416);
  const f = new DataView(fpu.buffer);
  f.setUint16(fpuOffsets.fcw, v.getUint16(fx.fcw, true), true);
  f.setUint16(fpuOffsets.fsw, v.getUint16(fx.fsw, true), true);
  f.setUint8(fpuOffsets.ftwx, v.getUint8(fx.ftw));
  f.setUint16(fpuOffsets.lastOpcode, v.getUint16(fx.fop, true), true);
  f.setBigUint64(fpuOffsets.lastIp, v.getBigUint64(fx.fip, true), true);
  f.setBigUint64(fpuOffsets.lastDp, v.getBigUint64(fx.fdp, true), true);
  f.setUint32(fpuOffsets.mxcsr, v.getUint32(fx.mxcsr, true), true);
  fpu.set(img.subarray(fx.st, fx.st + 128), fpuOffsets.fpr);
  fpu.set(img.subarray(fx.xmm, fx.xmm + 256), fpuOffsets.xmm);
  return fpu;
}
