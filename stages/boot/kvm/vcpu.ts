// One vCPU: its fd, its mmap'ed kvm_run, and its register ioctls. Usable from
// any thread (the worker that runs it and the main thread that sets it up).
import { close, ioctl, ioctlRaw, mmap, MAP_SHARED, munmap, PROT_READ, PROT_WRITE, view } from "./libc.js";
import { ioctls } from "./constants.js";
import { FX_SIZE, fpuToFx, fxToFpu } from "./fx-image.js";
import {
  cpuidBuffer, CpuidEntry, decodeCpuid, decodeMsrValue, decodeRegs, decodeSregs, decodeTranslation, encodeCpuid, encodeException,
  encodeMsrs, encodeRegs, encodeSregs, encodeTranslation, FPU_SIZE, Regs, REGS_SIZE, Sregs, SREGS_SIZE,
  Translation, VCPU_EVENTS_SIZE,
} from "./structs.js";

export class Vcpu {
  readonly run: Uint8Array;
  readonly runView: DataView;
  private readonly regsBuf = new Uint8Array(REGS_SIZE);
  private xsave: Uint8Array | undefined;

  /** `runAddr` given: reuse a kvm_run mapping made elsewhere (e.g. by another thread). */
  constructor(readonly fd: number, readonly index: number, readonly runSize: number, readonly runAddr: bigint = mmap(runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, "kvm_run")) {
    this.run = view(runAddr, runSize);
    this.runView = new DataView(this.run.buffer, this.run.byteOffset, this.run.byteLength);
  }

  /** KVM_RUN; returns 0 or -errno (EINTR when kicked). */
  enter(): number {
    return ioctlRaw(this.fd, ioctls.RUN, 0);
  }

  getRegs(): Regs {
    ioctl(this.fd, ioctls.GET_REGS, this.regsBuf, "KVM_GET_REGS");
    return decodeRegs(this.regsBuf);
  }

  setRegs(regs: Partial<Regs>): void {
    // Unset fields keep their value: read first, then overwrite.
    if (Object.keys(regs).length < 18) ioctl(this.fd, ioctls.GET_REGS, this.regsBuf, "KVM_GET_REGS");
    ioctl(this.fd, ioctls.SET_REGS, encodeRegs(regs, this.regsBuf), "KVM_SET_REGS");
  }

  getSregs(): Sregs {
    const b = new Uint8Array(SREGS_SIZE);
    ioctl(this.fd, ioctls.GET_SREGS, b, "KVM_GET_SREGS");
    return decodeSregs(b);
  }

  setSregs(s: Sregs): void {
    ioctl(this.fd, ioctls.SET_SREGS, encodeSregs(s), "KVM_SET_SREGS");
  }

  /** struct kvm_fpu as bytes (see fpuOffsets). */
  getFpu(): Uint8Array {
    const b = new Uint8Array(FPU_SIZE);
    ioctl(this.fd, ioctls.GET_FPU, b, "KVM_GET_FPU");
    return b;
  }

  setFpu(b: Uint8Array): void {
    ioctl(this.fd, ioctls.SET_FPU, b, "KVM_SET_FPU");
  }

  /**
   * x87/SSE state as an FXSAVE image. Through KVM_GET/SET_XSAVE when the host
   * has them: KVM_SET_FPU alone does not mark the x87/SSE components as in
   * use (XSTATE_BV), so the guest would see its init state instead.
   */
  getFxImage(): Uint8Array {
    try {
      this.xsave = this.getXsave();
      return this.xsave.slice(0, FX_SIZE);
    } catch {
      this.xsave = undefined;
      return fpuToFx(this.getFpu());
    }
  }

  /** Writes back an image from getFxImage(). */
  setFxImage(img: Uint8Array): void {
    if (!this.xsave) return this.setFpu(fxToFpu(img));
    this.xsave.set(img.subarray(0, 24), 0); // everything but MXCSR_MASK, which is read-only
    this.xsave.set(img.subarray(24, 28), 24);
    this.xsave.set(img.subarray(32, FX_SIZE), 32);
    const header = new DataView(this.xsave.buffer, 512, 64);
    header.setBigUint64(0, header.getBigUint64(0, true) | 3n, true); // XSTATE_BV: x87 and SSE in use
    this.setXsave(this.xsave);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    ioctl(this.fd, ioctls.SET_CPUID2, encodeCpuid(entries), "KVM_SET_CPUID2");
  }

  /** The CPUID table the guest sees (KVM_GET_CPUID2). */
  getCpuid(): CpuidEntry[] {
    const buf = cpuidBuffer(256);
    ioctl(this.fd, ioctls.GET_CPUID2, buf, "KVM_GET_CPUID2");
    return decodeCpuid(buf);
  }

  /** The whole x87/SSE/AVX/... state as a standard-form XSAVE area (KVM_GET_XSAVE, 4096 bytes). */
  getXsave(): Uint8Array {
    const area = new Uint8Array(4096);
    ioctl(this.fd, ioctls.GET_XSAVE, area, "KVM_GET_XSAVE");
    return area;
  }

  setXsave(area: Uint8Array): void {
    ioctl(this.fd, ioctls.SET_XSAVE, area, "KVM_SET_XSAVE");
  }

  /** Sets MSRs one by one; returns the indices KVM refused. */
  setMsrs(entries: ReadonlyArray<[number, bigint]>): number[] {
    const refused: number[] = [];
    for (const entry of entries) {
      const n = ioctl(this.fd, ioctls.SET_MSRS, encodeMsrs([entry]), "KVM_SET_MSRS");
      if (n !== 1) refused.push(entry[0]);
    }
    return refused;
  }

  getMsr(index: number): bigint | undefined {
    const b = encodeMsrs([[index, 0n]]);
    const n = ioctl(this.fd, ioctls.GET_MSRS, b, "KVM_GET_MSRS");
    return n === 1 ? decodeMsrValue(b, 0) : undefined;
  }

  translate(linear: bigint): Translation {
    const b = encodeTranslation(linear);
    ioctl(this.fd, ioctls.TRANSLATE, b, "KVM_TRANSLATE");
    return decodeTranslation(b);
  }

  /** Makes the vCPU take exception `vector` when it next runs. */
  injectException(vector: number, errorCode?: number): void {
    const b = new Uint8Array(VCPU_EVENTS_SIZE);
    ioctl(this.fd, ioctls.GET_VCPU_EVENTS, b, "KVM_GET_VCPU_EVENTS");
    encodeException(vector, errorCode, b);
    // flags: none (no payload, no valid NMI/SIPI/shadow changes)
    new DataView(b.buffer).setUint32(20, 0, true);
    ioctl(this.fd, ioctls.SET_VCPU_EVENTS, b, "KVM_SET_VCPU_EVENTS");
  }

  getLapic(): Uint8Array {
    const b = new Uint8Array(1024);
    ioctl(this.fd, ioctls.GET_LAPIC, b, "KVM_GET_LAPIC");
    return b;
  }

  setLapic(b: Uint8Array): void {
    ioctl(this.fd, ioctls.SET_LAPIC, b, "KVM_SET_LAPIC");
  }

  setMpState(state: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, state, true);
    ioctl(this.fd, ioctls.SET_MP_STATE, b, "KVM_SET_MP_STATE");
  }

  /** XCR0, or undefined when the host cannot report it. */
  getXcr0(): bigint | undefined {
    const b = new Uint8Array(392);
    try {
      ioctl(this.fd, ioctls.GET_XCRS, b, "KVM_GET_XCRS");
    } catch {
      return undefined;
    }
    const v = new DataView(b.buffer);
    const n = v.getUint32(0, true);
    for (let i = 0; i < n; i++) {
      if (v.getUint32(8 + i * 16, true) === 0) return v.getBigUint64(16 + i * 16, true);
    }
    return undefined;
  }

  /** Releases the kvm_run mapping; `closeFd` only on the thread that owns the fd. */
  dispose(closeFd: boolean): void {
    munmap(this.runAddr, this.runSize);
    if (closeFd) close(this.fd);
  }
}
