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
  /** 3 GiB: RAM must end below the MMIO hole (virtio-mmio, IOAPIC, LAPIC, KVM's TSS). */
  ramLimit: 0xc0000000,
  virtioMmioBase: 0xd0000000,
  virtioMmioStride: 0x1000,
  ioapic: 0xfec00000,
  lapic: 0xfee00000,
  kvmTss: 0xfffbd000,
} as const;

/** Legacy IRQs: 4 is COM1; virtio devices get 5 and up (IOAPIC has 24 pins). */
export const irqs = { serial: 4, firstVirtio: 5, lastVirtio: 23 } as const;
