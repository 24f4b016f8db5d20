// Intel MultiProcessor Specification 1.4 tables: how a kernel without ACPI
// finds its processors, the ISA bus, the IOAPIC and how IRQs reach it.
import { layout } from "./layout.js";

const APIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const CPU_SIGNATURE = 0x600; // family 6
const CPU_FEATURES = 0x201; // FPU | APIC
const IRQ_PINS = 24;

function checksum(b: Uint8Array): number {
  let sum = 0;
  for (const x of b) sum = (sum + x) & 0xff;
  return (256 - sum) & 0xff;
}

function ascii(b: Uint8Array, at: number, text: string, width: number): void {
  for (let i = 0; i < width; i++) b[at + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** The floating pointer followed by the configuration table, to be placed at `base`. */
export function buildMpTable(cpus: number, base: number = layout.mptable): Uint8Array {
  if (!Number.isInteger(cpus) || cpus < 1 || cpus > 254) throw new RangeError(`mptable: ${cpus} vCPUs, need 1..254`);
  const ioapicId = cpus; // APIC IDs 0..cpus-1 are the vCPUs
  const entries: Uint8Array[] = [];
  for (let id = 0; id < cpus; id++) {
    const e = new Uint8Array(20);
    const v = new DataView(e.buffer);
    e[0] = 0; // processor
    e[1] = id;
    e[2] = APIC_VERSION;
    e[3] = 0x01 | (id === 0 ? 0x02 : 0); // enabled, BSP
    v.setUint32(4, CPU_SIGNATURE, true);
    v.setUint32(8, CPU_FEATURES, true);
    entries.push(e);
  }
  const bus = new Uint8Array(8);
  bus[0] = 1; // bus
  bus[1] = 0;
  ascii(bus, 2, "ISA", 6);
  entries.push(bus);
  const ioapic = new Uint8Array(8);
  ioapic[0] = 2; // I/O APIC
  ioapic[1] = ioapicId;
  ioapic[2] = IOAPIC_VERSION;
  ioapic[3] = 0x01; // enabled
  new DataView(ioapic.buffer).setUint32(4, layout.ioapic, true);
  entries.push(ioapic);
  // ISA IRQ n is IOAPIC pin n, as KVM's default routing has it.
  for (let irq = 0; irq < IRQ_PINS; irq++) {
    const e = new Uint8Array(8);
    e[0] = 3; // I/O interrupt
    e[1] = 0; // INT
    e[4] = 0; // source bus
    e[5] = irq;
    e[6] = ioapicId;
    e[7] = irq;
    entries.push(e);
  }
  // Local interrupts: LINT0 is ExtINT (the PIC), LINT1 is NMI, on every local APIC.
  for (const [type, lint] of [[3, 0], [1, 1]]) {
    const e = new Uint8Array(8);
    e[0] = 4; // local interrupt
    e[1] = type;
    e[4] = 0;
    e[5] = 0;
    e[6] = 0xff; // all local APICs
    e[7] = lint;
    entries.push(e);
  }

  const bodyLength = entries.reduce((n, e) => n + e.length, 0);
  const table = new Uint8Array(44 + bodyLength);
  const tv = new DataView(table.buffer);
  ascii(table, 0, "PCMP", 4);
  tv.setUint16(4, table.length, true);
  table[6] = 4; // spec 1.4
  ascii(table, 8, "BENCHER", 8);
  ascii(table, 16, "BENCHER-RUN", 12);
  tv.setUint16(34, entries.length, true);
  tv.setUint32(36, layout.lapic, true);
  let at = 44;
  for (const e of entries) {
    table.set(e, at);
    at += e.length;
  }
  table[7] = checksum(table);

  const floating = new Uint8Array(16);
  ascii(floating, 0, "_MP_", 4);
  new DataView(floating.buffer).setUint32(4, base + 16, true);
  floating[8] = 1; // length in 16-byte units
  floating[9] = 4; // spec 1.4
  floating[10] = checksum(floating);

  const out = new Uint8Array(16 + table.length);
  out.set(floating, 0);
  out.set(table, 16);
  if (base + out.length > layout.highRamStart) throw new RangeError(`mptable: ${cpus} vCPUs make the table too large`);
  return out;
}
