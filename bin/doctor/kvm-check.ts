// Is KVM usable: /dev/kvm opens read-write and answers KVM_GET_API_VERSION
// with 12; and is the host the nested PVM kind (docs: kvm-on-these-machines).
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { libc } from "../../lib/native/libc.js";
import { isNestedPvmHost } from "../../kernel/cmdline.js";
import type { CheckResult } from "./check.js";

const KVM_GET_API_VERSION = 0xae00; // _IO(KVMIO, 0x00)
const KVM_API_VERSION = 12;

let ioctl: ((fd: number, request: number, arg: number) => number) | undefined;
function kvmIoctl(fd: number, request: number): number {
  ioctl ??= libc().func("int ioctl(int fd, unsigned long request, unsigned long arg)") as unknown as typeof ioctl;
  return ioctl!(fd, request, 0);
}

export function checkKvm(device = "/dev/kvm"): CheckResult {
  const name = "kvm";
  let fd: number;
  try {
    fd = openSync(device, "r+");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { name, status: "fail", ...explainMissingKvm(device, readHostFacts()) };
    if (code === "EACCES" || code === "EPERM") {
      return { name, status: "fail", detail: `${device}: permission denied`, fix: "sudo usermod -aG kvm $USER, then log in again" };
    }
    return { name, status: "fail", detail: `${device}: ${(err as Error).message}` };
  }
  try {
    const version = kvmIoctl(fd, KVM_GET_API_VERSION);
    if (version !== KVM_API_VERSION) {
      return { name, status: "fail", detail: `${device} answers KVM API version ${version}, expected ${KVM_API_VERSION}` };
    }
    const kind = isNestedPvmHost() ? "nested PVM host (kvm_pvm): the guest kernel runs emulated, boots are slow" : "hardware virtualization";
    return { name, status: "ok", detail: `${device} usable, API ${version}, ${kind}` };
  } finally {
    closeSync(fd);
  }
}

/** What decides why a host has no /dev/kvm. */
export interface HostFacts {
  /** The first CPU's flags from /proc/cpuinfo. */
  cpuFlags: ReadonlySet<string>;
  /** /sys/module/kvm_pvm exists: the PVM hypervisor is in this kernel. */
  pvmModule: boolean;
}

function readHostFacts(): HostFacts {
  let flags = "";
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "";
  } catch {
    // no /proc: the answer falls back to the firmware advice
  }
  return { cpuFlags: new Set(flags.trim().split(/\s+/)), pvmModule: existsSync("/sys/module/kvm_pvm") };
}

/**
 * Why there is no KVM device, and what would give one. Loading a module is
 * the fix only where the CPU has VT-x or AMD-V; a virtual machine without
 * them (a cloud VM without nested virtualization) needs its host changed.
 */
export function explainMissingKvm(device: string, host: HostFacts): { detail: string; fix: string } {
  const detail = `${device} does not exist`;
  if (host.cpuFlags.has("vmx")) return { detail, fix: "load kvm_intel (sudo modprobe kvm_intel)" };
  if (host.cpuFlags.has("svm")) return { detail, fix: "load kvm_amd (sudo modprobe kvm_amd)" };
  if (host.pvmModule) {
    // kvm_pvm offers no device on a kernel that is itself a PVM guest (dmesg: "not binding").
    return { detail: `${detail}: kvm_pvm is loaded but offers no device (it does not bind on a kernel that is itself a PVM guest; see dmesg)`, fix: "run on a host whose kernel offers /dev/kvm: bare metal, or a VM with nested virtualization" };
  }
  if (host.cpuFlags.has("hypervisor")) {
    return { detail: `${detail}: this is a virtual machine whose CPU has neither VT-x (vmx) nor AMD-V (svm)`, fix: "enable nested virtualization for this VM on its host, or run on bare metal" };
  }
  return { detail: `${detail}: the CPU shows neither VT-x (vmx) nor AMD-V (svm)`, fix: "enable VT-x/AMD-V in the firmware, then load kvm_intel or kvm_amd" };
}
