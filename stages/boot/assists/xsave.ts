// XSAVE and XRSTOR in their standard form (Intel SDM vol. 1, 13.7 and 13.8),
// between an XSAVE area in guest memory and the vCPU's own state as
// KVM_GET_XSAVE gives it, which is a standard-form area too. Pure functions
// on byte arrays, so they are tested without a VM.
import type { CpuidEntry } from "../kvm/structs.js";
import { MXCSR_MASK } from "./x87.js";

/** The XSAVE header: XSTATE_BV at +0, XCOMP_BV at +8. */
export const XSAVE_HEADER = 512;
/** Legacy region plus header: the least an XSAVE area covers. */
export const XSAVE_BASE_SIZE = 576;

const X87 = 1n;
const SSE = 2n;
const AVX = 4n;
const MXCSR = 24;

/** Where state component i (2 and up) lives in a standard-form area: CPUID leaf 0xD, sub-leaf i. */
export type XsaveLayout = ReadonlyMap<number, { offset: number; size: number }>;

export function xsaveLayout(cpuid: readonly CpuidEntry[]): XsaveLayout {
  const layout = new Map<number, { offset: number; size: number }>();
  for (const e of cpuid) {
    if (e.function === 0xd && e.index >= 2 && e.index < 63 && e.eax > 0) layout.set(e.index, { offset: e.ebx, size: e.eax });
  }
  return layout;
}

/** Bytes an area must span for the components in `rfbm`. */
export function xsaveAreaSize(rfbm: bigint, layout: XsaveLayout): number {
  let end = XSAVE_BASE_SIZE;
  for (const [i, c] of layout) if (rfbm & (1n << BigInt(i))) end = Math.max(end, c.offset + c.size);
  return end;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function copy(from: Uint8Array, to: Uint8Array, start: number, end: number): void {
  to.set(from.subarray(start, end), start);
}

/**
 * XSAVE: writes into `image` (the guest's area as read from memory, so the
 * bytes XSAVE leaves alone stay) the components in `rfbm` from `state`.
 */
export function xsaveInto(image: Uint8Array, state: Uint8Array, rfbm: bigint, layout: XsaveLayout): void {
  const inUse = view(state).getBigUint64(XSAVE_HEADER, true);
  if (rfbm & X87) {
    copy(state, image, 0, MXCSR); // FCW, FSW, FTW, FOP, FIP, FDP
    copy(state, image, 32, 160); // ST0-ST7
  }
  if (rfbm & SSE) copy(state, image, 160, 416); // XMM0-XMM15
  if (rfbm & (SSE | AVX)) {
    view(image).setUint32(MXCSR, view(state).getUint32(MXCSR, true), true);
    view(image).setUint32(MXCSR + 4, MXCSR_MASK, true);
  }
  for (const [i, c] of layout) {
    const bit = 1n << BigInt(i);
    if (rfbm & bit & inUse) copy(state, image, c.offset, c.offset + c.size);
  }
  const h = view(image);
  h.setBigUint64(XSAVE_HEADER, (h.getBigUint64(XSAVE_HEADER, true) & ~rfbm) | (inUse & rfbm), true);
}

/**
 * XRSTOR: loads into `state` the components in `rfbm` from `image`, or
 * their initial values where the image's XSTATE_BV says so. Returns why
 * the instruction raises #GP instead, or null.
 */
export function xrstorFrom(image: Uint8Array, state: Uint8Array, rfbm: bigint, xcr0: bigint, layout: XsaveLayout): string | null {
  const h = view(image);
  const stateBv = h.getBigUint64(XSAVE_HEADER, true);
  if (h.getBigUint64(XSAVE_HEADER + 8, true) !== 0n) return "compacted form or XCOMP_BV set (this CPU model has no XSAVEC)";
  if (h.getBigUint64(XSAVE_HEADER + 16, true) !== 0n) return "reserved header bytes 16-23 are not zero";
  if (stateBv & ~xcr0) return `XSTATE_BV 0x${stateBv.toString(16)} has components XCR0 0x${xcr0.toString(16)} does not enable`;
  const mxcsr = h.getUint32(MXCSR, true);
  if (rfbm & (SSE | AVX) && mxcsr & ~MXCSR_MASK) return `MXCSR 0x${mxcsr.toString(16)} sets reserved bits`;

  const s = view(state);
  if (rfbm & X87) {
    if (stateBv & X87) {
      copy(image, state, 0, MXCSR);
      copy(image, state, 32, 160);
    } else {
      state.fill(0, 0, MXCSR);
      state.fill(0, 32, 160);
      s.setUint16(0, 0x037f, true); // FCW after FNINIT; FSW, FTW (all empty), FOP, FIP, FDP zero
    }
  }
  if (rfbm & SSE) {
    if (stateBv & SSE) copy(image, state, 160, 416);
    else state.fill(0, 160, 416);
  }
  // The standard form loads MXCSR whenever SSE or AVX is requested, whatever XSTATE_BV says.
  if (rfbm & (SSE | AVX)) s.setUint32(MXCSR, mxcsr, true);
  for (const [i, c] of layout) {
    const bit = 1n << BigInt(i);
    if (!(rfbm & bit)) continue;
    if (stateBv & bit) copy(image, state, c.offset, c.offset + c.size);
    else state.fill(0, c.offset, c.offset + c.size);
  }
  // The vCPU's area says which components are in use. x87 and SSE are
  // marked in use either way (their bytes now hold the loaded or the initial
  // values): KVM_SET_XSAVE takes MXCSR only along with one of them.
  s.setBigUint64(XSAVE_HEADER, (s.getBigUint64(XSAVE_HEADER, true) & ~rfbm) | (stateBv & rfbm) | (rfbm & (X87 | SSE)), true);
  s.setBigUint64(XSAVE_HEADER + 8, 0n, true);
  return null;
}
