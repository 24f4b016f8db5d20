// The VMM's limits, in a module that loads no KVM bindings, so the
// coordinator can check options against them before starting any stage.

/** Less leaves a Linux guest no room to boot. */
export const MIN_MEMORY_MIB = 16;

/** The longest a VM may be given (BootRequest.timeoutMs). */
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

/** The MP table and the kernel's NR_CPUS (kernel/bencher.config) both allow this many. */
export const MAX_VCPUS = 64;

/**
 * 256 GiB: 3 GiB below the MMIO hole and 64 regions of at most 4 GiB from
 * 4 GiB (loader/layout.ts ramRegions), each a KVM memory slot: far within
 * the 509 slots KVM has offered since Linux 3.x. The host's MemAvailable is
 * the limit that usually applies first (host-memory.ts).
 */
export const MAX_MEMORY_MIB = 256 * 1024;
