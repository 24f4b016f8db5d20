// The CPU state a vCPU starts in: 64-bit long mode for the Linux 64-bit boot
// protocol (and small test guests), or flat real mode for test guests.
import { GuestMemory } from "../guest-memory.js";
import { Segment, Sregs } from "../kvm/structs.js";
import { layout } from "./layout.js";

// GDT entries: null, null, code (0x10), data (0x18), TSS (0x20): the
// selectors Linux's boot protocol names __BOOT_CS and __BOOT_DS.
const GDT = [0n, 0n, 0x00af9b000000ffffn, 0x00cf93000000ffffn, 0x008f8b000000ffffn];
export const BOOT_CS = 0x10;
export const BOOT_DS = 0x18;
const BOOT_TSS = 0x20;

const CR0_PE = 1n;
const CR0_MP = 2n;
const CR0_ET = 0x10n;
const CR0_NE = 0x20n;
const CR0_PG = 0x80000000n;
const CR4_PAE = 0x20n;
const CR4_OSFXSR = 0x200n;
const CR4_OSXMMEXCPT = 0x400n;
const EFER_SCE = 1n;
const EFER_LME = 0x100n;
const EFER_LMA = 0x400n;

/** Writes the GDT, an empty IDT and page tables identity-mapping the first 4 GiB (MMIO included). */
export function writeLongModeTables(mem: GuestMemory): void {
  const gdt = mem.dataView(layout.gdt, GDT.length * 8);
  GDT.forEach((e, i) => gdt.setBigUint64(i * 8, e, true));
  mem.slice(layout.idt, 8).fill(0);
  const pml4 = mem.dataView(layout.pml4, 4096);
  const pdpt = mem.dataView(layout.pdpt, 4096);
  const pd = mem.dataView(layout.pd, 4 * 4096);
  mem.slice(layout.pml4, 0x6000).fill(0);
  pml4.setBigUint64(0, BigInt(layout.pdpt) | 0x03n, true); // present, writable
  for (let g = 0; g < 4; g++) pdpt.setBigUint64(g * 8, BigInt(layout.pd + g * 4096) | 0x03n, true);
  for (let i = 0; i < 4 * 512; i++) pd.setBigUint64(i * 8, (BigInt(i) << 21n) | 0x83n, true); // 2 MiB pages
}

function segment(selector: number, code: boolean): Segment {
  return {
    base: 0n, limit: 0xffffffff, selector, type: code ? 11 : 3, present: 1, dpl: 0,
    db: code ? 0 : 1, s: 1, l: code ? 1 : 0, g: 1, avl: 0, unusable: 0,
  };
}

/** Turns the vCPU's initial sregs into 64-bit long mode with our tables. */
export function longModeSregs(s: Sregs, idt?: { base: bigint; limit: number }): Sregs {
  const data = segment(BOOT_DS, false);
  return {
    ...s,
    cs: segment(BOOT_CS, true),
    ds: data, es: data, fs: data, gs: data, ss: data,
    tr: { base: 0n, limit: 0xfffff, selector: BOOT_TSS, type: 11, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 1, avl: 0, unusable: 0 },
    gdt: { base: BigInt(layout.gdt), limit: GDT.length * 8 - 1 },
    idt: idt ?? { base: BigInt(layout.idt), limit: 7 },
    cr0: CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG,
    cr3: BigInt(layout.pml4),
    cr4: CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT,
    efer: EFER_LME | EFER_LMA | EFER_SCE,
  };
}

/** Flat real mode with CS:IP = 0:`ip` (for hand-made test guests). */
export function realModeSregs(s: Sregs): Sregs {
  const flat = (sel: Segment): Segment => ({ ...sel, base: 0n, selector: 0 });
  return { ...s, cs: flat(s.cs), ds: flat(s.ds), es: flat(s.es), ss: flat(s.ss), fs: flat(s.fs), gs: flat(s.gs) };
}
