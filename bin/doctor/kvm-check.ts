// Is KVM usable: /dev/kvm opens read-write and answers KVM_GET_API_VERSION
// with 12; and is the host the nested PVM kind (docs: kvm-on-these-machines).
import { closeSync, openSync } from "node:fs";
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
    if (code === "ENOENT") {
      return { name, status: "fail", detail: `${device} does not exist`, fix: "enable VT-x/AMD-V in the firmware and load kvm_intel or kvm_amd (modprobe kvm_intel)" };
    }
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
