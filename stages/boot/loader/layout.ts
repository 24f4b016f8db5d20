// Where things live in guest physical memory (a layout like Firecracker's).

export const layout = {
  gdt: 0x500,
  idt: 0x520,
  setupData: 0x6000, // a setup_data list (the RNG seed)
  zeroPage: 0x7000, // boot_params
  bootStack: 0x8ff0,
  pml4: 0x9000,
  pdpt: 0xa000,
  pd: 0xb000, // 4 page directories (to 0xefff): 4 GiB identity-mapped with 2 MiB pages
  cmdline: 0x20000,
  cmdlineMax: 0x10000,
  mptable: 0x9fc00, // the last KiB of base memory, where Linux looks for the MP floating pointer
  lowRamEnd: 0x9fc00,
  highRamStart: 0x100000,
  kernelDefault: 0x1000000, // 16 MiB: where a non-relocatable x86_64 kernel is linked
  /** 3 GiB: low RAM ends here, below the MMIO hole (virtio-mmio, IOAPIC, LAPIC, KVM's TSS). */
  ramLimit: 0xc0000000,
  /** 4 GiB: RAM beyond what fits below the hole continues here. */
  highRamBase: 0x100000000,
  virtioMmioBase: 0xd0000000,
  virtioMmioStride: 0x1000,
  ioapic: 0xfec00000,
  lapic: 0xfee00000,
  kvmTss: 0xfffbd000,
} as const;

/** Legacy IRQs: 4 is COM1; virtio devices get 5 and up (IOAPIC has 24 pins). */
export const irqs = { serial: 4, firstVirtio: 5, lastVirtio: 23 } as const;

/** A run of guest RAM: guest physical [gpa, gpa + size). */
export interface RamRegion {
  gpa: number;
  size: number;
}

/**
 * The most one region of RAM holds: every thread views guest RAM one region
 * at a time, and Node 20 caps one view at 4 GiB (a larger koffi view aborts
 * the process).
 */
export const MAX_REGION_BYTES = 2 ** 32;

/**
 * Where `bytes` of guest RAM go: from 0 up to the MMIO hole, and whatever
 * does not fit there from 4 GiB on, in regions of at most MAX_REGION_BYTES
 * that follow one another without a gap. The host maps the regions back to
 * back, in this order, so this is also the layout of the host mapping.
 */
export function ramRegions(bytes: number): RamRegion[] {
  const low = Math.min(bytes, layout.ramLimit);
  const regions: RamRegion[] = [{ gpa: 0, size: low }];
  for (let gpa = layout.highRamBase, left = bytes - low; left > 0; gpa += MAX_REGION_BYTES) {
    const size = Math.min(left, MAX_REGION_BYTES);
    regions.push({ gpa, size });
    left -= size;
  }
  return regions;
}
