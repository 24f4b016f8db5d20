// The emulated KVM host's initramfs: busybox, the host kernel's modules, and
// an init that loads them, mounts this machine's files (9p, read-only) as its
// root and runs one script there, then says how it ended and powers off.
// Powering off is synchronous (poweroff -f: the reboot system call): a sysrq
// power-off runs in the background, and the shell's next exec raced the
// shutdown of the 9p root, so init died and the kernel panicked instead.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { writeNewc, type CpioEntry } from "../../initramfs/newc.js";
import type { HostKernel } from "./host-kernel.js";

/** Debian's busybox-static: one static binary, whatever libc the machine has. */
export const BUSYBOX = "/bin/busybox";

/** The line the init prints last (after whatever the firmware left on the same line); the run's result is parsed from it. */
export const EXIT_LINE = /emulated-kvm-host: exit (\d+)\s*$/m;

/**
 * A file in the shared directory the host rewrites every HEARTBEAT_EVERY_S
 * while its script runs: a host whose kernel has livelocked (its clock
 * stops, so no timer in it fires) stops writing it.
 */
export const HEARTBEAT = ".emulated-kvm-host-heartbeat";
export const HEARTBEAT_EVERY_S = 5;

/** What idle-vm.js prints once its VM is held; the script starts only then. */
export const IDLE_VM_READY = "idle VM held";

// Kernel arguments: ekh.script=PATH (run with sh, cwd ekh.cwd), ekh.shared=PATH
// (the writable 9p share, mounted at its own path), ekh.idle=PATH (idle-vm.js,
// run with node). Paths have no spaces: the runner checks.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
say() { echo "emulated-kvm-host: $*"; }
end() { say "exit $1"; poweroff -f; }
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m || say "insmod $m failed"; done
script=; shared=; cwd=/; idle=
for arg in $(cat /proc/cmdline); do
  case $arg in
    ekh.script=*) script=\${arg#ekh.script=};;
    ekh.shared=*) shared=\${arg#ekh.shared=};;
    ekh.cwd=*) cwd=\${arg#ekh.cwd=};;
    ekh.idle=*) idle=\${arg#ekh.idle=};;
  esac
done
[ -c /dev/kvm ] || { say "no /dev/kvm: the emulated CPU offers no SVM"; end 125; }
# Loopback, as on any machine: tests serve registries on 127.0.0.1.
ip link set lo up || say "cannot bring up lo"
opts=trans=virtio,version=9p2000.L,msize=262144
mount -t 9p -o ro,$opts hostroot /newroot || { say "cannot mount the machine's files"; end 125; }
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
mount -t tmpfs -o mode=1777 tmp /newroot/tmp; mount -t tmpfs run /newroot/run
# After the tmpfs mounts: a shared directory under /tmp is made on the new tmpfs.
if [ -n "$shared" ]; then
  mkdir -p "/newroot$shared" 2>/dev/null
  mount -t 9p -o $opts shared "/newroot$shared" || { say "cannot mount $shared"; end 125; }
fi
# In the machine's files: the heartbeat (the runner outside ends a host that
# stops writing it), the idle VM (idle-vm.ts), then the other CPUs (the host
# boots with one: the idle VM's start rewrites kernel code, and TCG's stale
# translations come from another CPU running that code meanwhile), then the
# script.
exec switch_root /newroot /bin/sh -c '
  clean() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 "$@"; }
  [ -z "$3" ] || while :; do date > "$3/${HEARTBEAT}"; sleep ${HEARTBEAT_EVERY_S}; done &
  status=125
  if [ -n "$4" ]; then
    clean node "$4" > /tmp/.idle-vm 2>&1 &
    until grep -q "${IDLE_VM_READY}" /tmp/.idle-vm || ! kill -0 $! 2>/dev/null; do sleep 0.1; done
  fi
  for cpu in /sys/devices/system/cpu/cpu*/online; do echo 1 > $cpu; done
  if [ -n "$4" ] && ! grep -q "${IDLE_VM_READY}" /tmp/.idle-vm; then
    echo "emulated-kvm-host: the idle VM did not start: $(cat /tmp/.idle-vm)"
  else
    cd "$1" && clean sh "$2"; status=$?
  fi
  echo "emulated-kvm-host: exit $status"
  exec ${BUSYBOX} poweroff -f' - "$cwd" "$script" "$shared" "$idle"
`;

export function hostInitramfs(kernel: HostKernel): Buffer {
  const entries: CpioEntry[] = [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", data: readFileSync(BUSYBOX), mode: 0o755 },
    ...["dev", "proc", "sys", "newroot", "modules"].map((path): CpioEntry => ({ type: "dir", path })),
    { type: "chardev", path: "dev/console", major: 5, minor: 1, mode: 0o600 },
    ...kernel.modules.map((path): CpioEntry => ({ type: "file", path: `modules/${basename(path)}`, data: readFileSync(path), mode: 0o644 })),
    { type: "file", path: "modules/order", data: Buffer.from(kernel.modules.map((path) => basename(path)).join("\n") + "\n"), mode: 0o644 },
    { type: "file", path: "init", data: Buffer.from(INIT), mode: 0o755 },
  ];
  return writeNewc(entries);
}
