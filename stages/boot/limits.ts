// The VMM's limits, in a module that loads no KVM bindings, so the
// coordinator can check options against them before starting any stage.
import { MAX_VIEW_BYTES } from "./guest-memory.js";
import { layout } from "./loader/layout.js";

/** Less leaves a Linux guest no room to boot. */
export const MIN_MEMORY_MIB = 16;

/** The longest a VM may be given (BootRequest.timeoutMs). */
export const MAX_TIMEOUT_MS = 24 * 3600 * 1000;

/** The MP table and the kernel's NR_CPUS (kernel/bencher.config) both allow this many. */
export const MAX_VCPUS = 64;

/**
 * 3 GiB below the MMIO hole plus up to 4 GiB from 4 GiB: every thread views
 * guest RAM one region at a time (GuestMemory.fromHost), and one view is at
 * most 4 GiB in Node 20 (a larger one aborts the process).
 */
export const MAX_MEMORY_MIB = layout.ramLimit / 2 ** 20 + MAX_VIEW_BYTES / 2 ** 20;
