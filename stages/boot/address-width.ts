// Whether guest RAM lies within the CPU's physical address width. CPUID leaf
// 0x80000008 (passed on to the guest as KVM reports it) gives the width:
// 48 bits on current server CPUs, as few as 36 on old client ones (64 GiB).
// RAM above it could never be reached, so it is refused before the boot.
import type { CpuidEntry } from "./kvm/structs.js";
import type { RamRegion } from "./loader/layout.js";

/** Why `regions` do not fit the address width `supported` CPUID gives, or undefined when they do (or it is not given). */
export function ramBeyondAddressWidth(regions: readonly RamRegion[], supported: readonly CpuidEntry[]): string | undefined {
  const leaf = supported.find((e) => e.function === 0x80000008);
  const bits = leaf ? leaf.eax & 0xff : 0;
  if (bits === 0) return undefined;
  const top = regions.reduce((end, r) => Math.max(end, r.gpa + r.size), 0);
  if (top <= 2 ** bits) return undefined;
  return `ends at guest address 0x${top.toString(16)}, beyond the CPU's ${bits}-bit physical addresses`;
}
