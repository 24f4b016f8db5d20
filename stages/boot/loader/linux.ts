// Puts a Linux kernel, its initramfs and command line into a machine by the
// 64-bit boot protocol: kernel at its physical load address, boot_params in
// the zero page, page tables, GDT, MP table, and the BSP in long mode at
// startup_64 with RSI pointing at boot_params. APs wait for INIT/SIPI.
import { Machine } from "../machine.js";
import { randomBytes } from "../kvm/libc.js";
import { buildBootParams, buildSetupData, E820_RAM, E820Entry, initrdAddrMax, SETUP_RNG_SEED } from "./boot-params.js";
import { isBzImage, parseBzImage } from "./bzimage.js";
import { isElf, loadElfKernel } from "./elf.js";
import { bufferReader, readAll, type ImageReader } from "./image-reader.js";
import { layout, RamRegion } from "./layout.js";
import { buildMpTable } from "./mptable.js";
import { longModeSregs, writeLongModeTables } from "./cpu-state.js";

export interface LinuxImage {
  /** An ELF vmlinux or a bzImage; a file reader lets an ELF's segments go straight into guest RAM. */
  kernel: Uint8Array | ImageReader;
  initramfs?: Uint8Array | ImageReader;
  cmdline: string;
}

/** Enough of the image to tell an ELF (4 bytes) from a bzImage (its header, up to 0x260). */
const SNIFF_BYTES = 0x260;

export interface LoadedLinux {
  entry: number;
  kernelEnd: number;
  initrd?: { addr: number; size: number };
  format: "elf" | "bzImage";
}

const PAGE = 4096;

/**
 * RAM for the e820 table: base memory below the MP table, then each region
 * (the first from 1 MiB), regions that follow one another without a gap as
 * one entry (the 4 GiB regions above the hole are one run of RAM).
 */
export function e820Map(regions: readonly RamRegion[]): E820Entry[] {
  const [low, ...high] = regions;
  const entries: E820Entry[] = [
    { addr: 0, size: layout.lowRamEnd, type: E820_RAM },
    { addr: layout.highRamStart, size: low.gpa + low.size - layout.highRamStart, type: E820_RAM },
  ];
  for (const r of high) {
    const last = entries[entries.length - 1];
    if (last.addr + last.size === r.gpa) last.size += r.size;
    else entries.push({ addr: r.gpa, size: r.size, type: E820_RAM });
  }
  return entries;
}

export function loadLinux(machine: Machine, image: LinuxImage): LoadedLinux {
  const mem = machine.mem;
  const kernelImage = image.kernel instanceof Uint8Array ? bufferReader(image.kernel, "kernel") : image.kernel;
  const head = new Uint8Array(Math.min(SNIFF_BYTES, kernelImage.size));
  kernelImage.read(0, head);
  let elf: Uint8Array | ImageReader = kernelImage;
  let setupHeader: Uint8Array | undefined;
  let format: LoadedLinux["format"] = "elf";
  if (!isElf(head)) {
    if (!isBzImage(head)) throw new Error(`${kernelImage.what}: neither an ELF vmlinux nor a bzImage`);
    const bz = parseBzImage(readAll(kernelImage), kernelImage.what);
    elf = bz.vmlinux;
    setupHeader = bz.setupHeader;
    format = "bzImage";
  }
  const kernel = loadElfKernel(elf, mem, format === "bzImage" ? `${kernelImage.what} (its vmlinux)` : kernelImage.what);
  if (kernel.start < layout.highRamStart) throw new Error(`${kernelImage.what}: loads at 0x${kernel.start.toString(16)}, below 1 MiB`);

  let initrd: LoadedLinux["initrd"];
  const initramfs = image.initramfs instanceof Uint8Array ? bufferReader(image.initramfs, "initramfs") : image.initramfs;
  if (initramfs && initramfs.size > 0) {
    // As high as allowed, so it stays clear of the kernel's early allocations.
    const low = mem.regions[0];
    const top = Math.min(low.gpa + low.size, initrdAddrMax(setupHeader));
    const addr = Math.floor((top - initramfs.size) / PAGE) * PAGE;
    if (addr < kernel.end) {
      throw new Error(`memory: ${mem.size >> 20} MiB is too small for the kernel (ends at ${Math.ceil(kernel.end / 2 ** 20)} MiB) and a ${Math.ceil(initramfs.size / 2 ** 20)} MiB initramfs`);
    }
    initramfs.read(0, mem.slice(addr, initramfs.size));
    initrd = { addr, size: initramfs.size };
  }

  const cmdline = Buffer.from(image.cmdline + "\0", "latin1");
  if (cmdline.length > layout.cmdlineMax) throw new Error(`kernel command line is longer than ${layout.cmdlineMax - 1} bytes`);
  mem.write(layout.cmdline, cmdline);
  // A random seed for the kernel's CRNG. It is always mixed in; it is
  // credited (so getrandom() need not wait for timer-jitter entropy, which
  // takes minutes when guest kernel code is emulated) only in a kernel built
  // with CONFIG_RANDOM_TRUST_BOOTLOADER=y: on x86 the kernel reads setup_data
  // before it parses random.trust_bootloader= on the command line.
  mem.write(layout.setupData, buildSetupData(SETUP_RNG_SEED, randomBytes(32)));
  mem.write(layout.zeroPage, buildBootParams({
    setupHeader, cmdlineAddr: layout.cmdline, cmdlineSize: cmdline.length - 1, initrd, e820: e820Map(mem.regions),
    setupData: layout.setupData,
  }));
  mem.write(layout.mptable, buildMpTable(machine.vcpuCount));
  writeLongModeTables(mem);

  const bsp = machine.vcpu(0);
  bsp.setSregs(longModeSregs(bsp.getSregs()));
  bsp.setRegs({
    rip: BigInt(kernel.entry), rsi: BigInt(layout.zeroPage), rsp: BigInt(layout.bootStack), rbp: BigInt(layout.bootStack),
    rflags: 2n, rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rdi: 0n,
  });
  return { entry: kernel.entry, kernelEnd: kernel.end, initrd, format };
}
