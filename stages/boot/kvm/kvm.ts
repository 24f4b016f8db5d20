// The /dev/kvm system handle and the VM handle: creating a VM, its memory,
// its in-kernel interrupt controllers and timer, its vCPUs and interrupt lines.
import {
  close, eventfd, ioctl, ioctlInBackground, ioctlValue, MADV_HUGEPAGE, madvise, mmap, MAP_ANONYMOUS, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED,
  munmap, openDevice, PROT_READ, PROT_WRITE,
} from "./libc.js";
import { caps, ioctls, KVM_API_VERSION } from "./constants.js";
import {
  cpuidBuffer, CpuidEntry, decodeCpuid, encodeIoeventfd, encodeIrqfd, encodeIrqLevel, encodeMemoryRegion,
} from "./structs.js";

export class Kvm {
  private constructor(readonly fd: number, private readonly ownsFd: boolean) {}

  /** Uses `fd` when given (an open /dev/kvm handed over by the coordinator), else opens /dev/kvm. */
  static open(fd?: number): Kvm {
    const kvm = fd === undefined ? new Kvm(openDevice("/dev/kvm"), true) : new Kvm(fd, false);
    const version = ioctlValue(kvm.fd, ioctls.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
    if (version !== KVM_API_VERSION) {
      kvm.close();
      throw new Error(`/dev/kvm: KVM API version ${version}, expected ${KVM_API_VERSION}`);
    }
    return kvm;
  }

  hasExtension(cap: number): boolean {
    return ioctlValue(this.fd, ioctls.CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION") > 0;
  }

  /** How many memory slots a VM may have (KVM_CAP_NR_MEMSLOTS; 509 since Linux 3.x). */
  memorySlots(): number {
    return ioctlValue(this.fd, ioctls.CHECK_EXTENSION, caps.NR_MEMSLOTS, "KVM_CHECK_EXTENSION(KVM_CAP_NR_MEMSLOTS)");
  }

  vcpuMmapSize(): number {
    return ioctlValue(this.fd, ioctls.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  }

  supportedCpuid(): CpuidEntry[] {
    const buf = cpuidBuffer(256);
    ioctl(this.fd, ioctls.GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
    return decodeCpuid(buf);
  }

  close(): void {
    if (this.ownsFd) close(this.fd);
  }
}

/** Guest RAM: one anonymous mapping holding every region back to back. */
export interface RamMapping {
  addr: bigint;
  size: number;
  /** Marked MADV_HUGEPAGE (transparent huge pages), 2 MiB aligned. */
  hugePages: boolean;
  /** Why MADV_HUGEPAGE was refused, when it was asked for and refused (e.g. a kernel without THP). */
  hugePagesRefused?: string;
}

const HUGE_PAGE = 2n ** 21n;

export class Vm {
  private readonly ram: RamMapping[] = [];
  private readonly background: Promise<unknown>[] = [];
  private backgroundRunning = 0;
  private closed = false;
  private readonly eventfds: number[] = [];
  /** Registered ioeventfds, to unregister before their eventfds are closed. */
  private readonly ioeventfds: Uint8Array[] = [];
  readonly hasIrqfd: boolean;
  readonly hasIoeventfd: boolean;

  private constructor(readonly kvm: Kvm, readonly fd: number) {
    this.hasIrqfd = kvm.hasExtension(caps.IRQFD);
    this.hasIoeventfd = kvm.hasExtension(caps.IOEVENTFD);
  }

  static create(kvm: Kvm): Vm {
    return new Vm(kvm, ioctlValue(kvm.fd, ioctls.CREATE_VM, 0, "KVM_CREATE_VM"));
  }

  /**
   * Allocates RAM for `regions` as one mapping (regions back to back, in
   * order) and gives KVM one memory slot per region, numbered from 0.
   */
  addRam(regions: readonly { gpa: number; size: number }[], opts: { hugePages?: boolean } = {}): RamMapping {
    const size = regions.reduce((n, r) => n + r.size, 0);
    const mapping = opts.hugePages
      ? { size, ...hugePageMapping(size) }
      : { addr: mmap(size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, "guest memory"), size, hugePages: false };
    this.ram.push(mapping);
    let offset = 0n;
    regions.forEach((r, slot) => {
      ioctl(this.fd, ioctls.SET_USER_MEMORY_REGION, encodeMemoryRegion(slot, BigInt(r.gpa), BigInt(r.size), mapping.addr + offset), `KVM_SET_USER_MEMORY_REGION (slot ${slot} at 0x${r.gpa.toString(16)})`);
      offset += BigInt(r.size);
    });
    return mapping;
  }

  /**
   * In-kernel PIC, IOAPIC and local APICs, then the PIT (timer on IRQ 0).
   * The PIT drops ticks the guest missed instead of re-injecting them: a
   * guest whose tick handler is slower than a tick (emulated kernel code on a
   * nested PVM host) would otherwise do nothing but catch up.
   */
  createInterruptControllers(): void {
    ioctlValue(this.fd, ioctls.CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
    ioctl(this.fd, ioctls.CREATE_PIT2, new Uint8Array(64), "KVM_CREATE_PIT2");
    // pit_reinject = 0. KVM then drops the PIT's interrupt-ack notifier and
    // waits out an SRCU grace period (up to 15 ms measured): done in the
    // background while the caller builds the rest; ready() waits for it.
    this.inBackground(ioctlInBackground(this.fd, ioctls.REINJECT_CONTROL, new Uint8Array(32), "KVM_REINJECT_CONTROL"));
  }

  /** Settles when the VM's background ioctls have ended; rejects with the first failure. */
  async ready(): Promise<void> {
    await Promise.all(this.background);
  }

  private inBackground(call: Promise<unknown>): void {
    this.backgroundRunning++;
    const done = call.finally(() => {
      // close() leaves the descriptor to the last background call to end.
      if (--this.backgroundRunning === 0 && this.closed) close(this.fd);
    });
    done.catch(() => {}); // reported through ready()
    this.background.push(done);
  }

  /** Where KVM (VMX) keeps its real-mode TSS and identity map: 4 pages below the 4 GiB MMIO hole's top. */
  setTssAddress(tss: number): void {
    const ident = new Uint8Array(8);
    new DataView(ident.buffer).setBigUint64(0, BigInt(tss - 0x1000), true);
    try {
      ioctl(this.fd, ioctls.SET_IDENTITY_MAP_ADDR, ident, "KVM_SET_IDENTITY_MAP_ADDR");
    } catch {
      // Only VMX needs it; other backends may refuse it.
    }
    ioctlValue(this.fd, ioctls.SET_TSS_ADDR, tss, "KVM_SET_TSS_ADDR");
  }

  irqLine(irq: number, level: 0 | 1): void {
    ioctl(this.fd, ioctls.IRQ_LINE, encodeIrqLevel(irq, level), "KVM_IRQ_LINE");
  }

  /** An eventfd that raises `gsi` (edge) when written: an interrupt with no ioctl. */
  irqfd(gsi: number): number {
    const fd = eventfd();
    this.eventfds.push(fd);
    ioctl(this.fd, ioctls.IRQFD, encodeIrqfd(fd, gsi), "KVM_IRQFD");
    return fd;
  }

  /** An eventfd KVM signals when the guest writes `addr` (MMIO), instead of exiting to us. */
  ioeventfd(addr: number, len: number, datamatch?: bigint): number {
    const fd = eventfd();
    try {
      ioctl(this.fd, ioctls.IOEVENTFD, encodeIoeventfd(BigInt(addr), len, fd, { datamatch }), "KVM_IOEVENTFD");
    } catch (err) {
      close(fd);
      throw err;
    }
    this.eventfds.push(fd);
    this.ioeventfds.push(encodeIoeventfd(BigInt(addr), len, fd, { datamatch, deassign: true }));
    return fd;
  }

  createVcpu(id: number): number {
    return ioctlValue(this.fd, ioctls.CREATE_VCPU, id, `KVM_CREATE_VCPU ${id}`);
  }

  close(): void {
    for (const deassign of this.ioeventfds) {
      try {
        ioctl(this.fd, ioctls.IOEVENTFD, deassign, "KVM_IOEVENTFD (deassign)");
      } catch {
        // Closing the VM below drops it anyway.
      }
    }
    this.ioeventfds.length = 0;
    for (const fd of this.eventfds) close(fd);
    this.eventfds.length = 0;
    this.closed = true;
    if (this.backgroundRunning === 0) close(this.fd);
    for (const r of this.ram) munmap(r.addr, r.size);
    this.ram.length = 0;
  }
}

/**
 * Guest RAM for transparent huge pages: private anonymous memory (shared
 * anonymous memory is shmem, which follows shmem_enabled, often "never"),
 * 2 MiB aligned so guest physical and host huge pages line up, and marked
 * MADV_HUGEPAGE (needed when THP is "madvise", harmless when "always").
 */
function hugePageMapping(size: number): { addr: bigint; hugePages: boolean; hugePagesRefused?: string } {
  const raw = mmap(size + Number(HUGE_PAGE), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, "guest memory");
  const addr = (raw + HUGE_PAGE - 1n) & ~(HUGE_PAGE - 1n);
  const end = addr + BigInt(size);
  if (addr > raw) munmap(raw, Number(addr - raw));
  const rawEnd = raw + BigInt(size) + HUGE_PAGE;
  if (rawEnd > end) munmap(end, Number(rawEnd - end));
  try {
    madvise(addr, size, MADV_HUGEPAGE, "guest memory (MADV_HUGEPAGE)");
  } catch (err) {
    return { addr, hugePages: false, hugePagesRefused: (err as Error).message };
  }
  return { addr, hugePages: true };
}
