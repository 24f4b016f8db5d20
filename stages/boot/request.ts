// What the coordinator asks the boot stage for, checked field by field: a bad
// request is a one-line error naming the field.
import { requestFields, type Fail } from "../../lib/ipc/request-fields.js";
import { MAX_MEMORY_MIB, MAX_TIMEOUT_MS, MAX_VCPUS, MIN_MEMORY_MIB } from "./limits.js";
import { MAX_CPU } from "../../lib/cpu-affinity/cpu-list.js";

export interface BootRequest {
  /** Path of an ELF vmlinux or a bzImage. */
  kernel: string;
  /** Path of the initramfs (newc cpio), if any. */
  initramfs?: string;
  /** Appended to the VMM's own kernel command line. */
  cmdline?: string;
  vcpus: number;
  memoryMiB: number;
  /** The root image, as virtio-blk (/dev/vda). */
  disk?: {
    path: string;
    /** Where to create this run's sparse copy-on-write overlay (the base stays untouched). */
    overlay?: string;
    readOnly?: boolean;
  };
  /** Base path of the virtio-vsock Unix sockets (guest port P reaches `<path>_P`). */
  vsockUds?: string;
  /** The guest's vsock CID (default 3). */
  guestCid?: number;
  /** Where the serial console is saved. */
  consoleLog?: string;
  /**
   * Set the VM up at once but start its vCPUs only when this path exists
   * (e.g. the Unix socket the guest will connect to): the set-up then
   * overlaps the listener's start-up. The timeout counts from the request.
   */
  holdUntilExists?: string;
  /** The VM is stopped after this long (exit reason "timeout"). */
  timeoutMs: number;
  /** An open /dev/kvm handed over by the coordinator; opened here when absent. */
  kvmFd?: number;
  /** Force the nested-PVM-host behaviour on or off (default: detect /sys/module/kvm_pvm). */
  pvmHost?: boolean;
  /**
   * Host CPUs for the vCPU threads (vCPU i on cpus[i % n]); the VMM's other
   * threads keep off them when this process may use other CPUs too.
   */
  cpus?: number[];
  /**
   * vCPU 0 keeps the guest kernel's housekeeping; the command runs on
   * vCPUs 1..n-1, which have no timer tick while it runs (loader/cmdline.ts
   * quietCpuArgs). Needs vcpus >= 2; the command sees n - 1 CPUs.
   */
  quietCpus?: boolean;
}

export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;

const fields = requestFields("boot request");
const fail: Fail = fields.fail;
const path = fields.absolutePath;
const int = fields.wholeNumber;

export function parseBootRequest(raw: unknown): BootRequest {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("boot request: must be an object");
  const r = raw as Record<string, unknown>;
  const known = new Set(["kernel", "initramfs", "cmdline", "vcpus", "memoryMiB", "disk", "vsockUds", "guestCid", "consoleLog", "holdUntilExists", "timeoutMs", "kvmFd", "pvmHost", "cpus", "quietCpus"]);
  for (const key of Object.keys(r)) if (!known.has(key)) fail(key, "is not a boot request field");

  const cmdline = r.cmdline;
  if (cmdline !== undefined && cmdline !== null) {
    if (typeof cmdline !== "string") fail("cmdline", "must be a string");
    if (/[\0\n\r]/.test(cmdline)) fail("cmdline", "must not contain NUL or line breaks");
    if (cmdline.length > 4096) fail("cmdline", "is longer than 4096 bytes");
  }
  let disk: BootRequest["disk"];
  if (r.disk !== undefined && r.disk !== null) {
    if (typeof r.disk !== "object" || Array.isArray(r.disk)) fail("disk", "must be an object { path, overlay?, readOnly? }");
    const d = r.disk as Record<string, unknown>;
    for (const key of Object.keys(d)) if (!["path", "overlay", "readOnly"].includes(key)) fail(`disk.${key}`, "is not a disk field");
    const diskPath = path(d, "path", true)!;
    const overlay = path(d, "overlay", false);
    if (d.readOnly !== undefined && typeof d.readOnly !== "boolean") fail("disk.readOnly", "must be true or false");
    if (overlay !== undefined && d.readOnly === true) fail("disk.overlay", "makes no sense on a read-only disk");
    disk = { path: diskPath, overlay, readOnly: d.readOnly as boolean | undefined };
  }
  if (r.pvmHost !== undefined && typeof r.pvmHost !== "boolean") fail("pvmHost", "must be true or false");
  const cpus = hostCpus(r.cpus);
  const vcpus = int(r, "vcpus", 1, MAX_VCPUS, 1)!;
  if (r.quietCpus !== undefined && typeof r.quietCpus !== "boolean") fail("quietCpus", "must be true or false");
  if (r.quietCpus === true && vcpus < 2) fail("quietCpus", "needs vcpus 2 or more (vCPU 0 keeps the housekeeping)");
  return {
    kernel: path(r, "kernel", true)!,
    initramfs: path(r, "initramfs", false),
    cmdline: (cmdline as string | undefined) ?? undefined,
    vcpus,
    memoryMiB: int(r, "memoryMiB", MIN_MEMORY_MIB, MAX_MEMORY_MIB, 256)!,
    disk,
    vsockUds: path(r, "vsockUds", false),
    guestCid: int(r, "guestCid", 3, 0xffffffff, undefined),
    consoleLog: path(r, "consoleLog", false),
    holdUntilExists: path(r, "holdUntilExists", false),
    timeoutMs: int(r, "timeoutMs", 1, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS)!,
    kvmFd: int(r, "kvmFd", 0, 1 << 20, undefined),
    pvmHost: r.pvmHost as boolean | undefined,
    ...(cpus ? { cpus } : {}),
    ...(r.quietCpus === true ? { quietCpus: true } : {}),
  };
}

/** A non-empty list of distinct host CPU numbers; whether this host has them is checked where the VM starts. */
function hostCpus(raw: unknown): number[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) fail("cpus", "must be a non-empty list of host CPU numbers");
  const list = raw as unknown[];
  const seen = new Set<number>();
  for (const cpu of list) {
    if (typeof cpu !== "number" || !Number.isSafeInteger(cpu) || cpu < 0 || cpu > MAX_CPU) fail("cpus", `must hold whole numbers from 0 to ${MAX_CPU}, got ${JSON.stringify(cpu)}`);
    if (seen.has(cpu as number)) fail("cpus", `names CPU ${cpu} twice`);
    seen.add(cpu as number);
  }
  return list as number[];
}
