// Renders a MountPlan as the /bin/sh script that runs first inside the
// stage's new mount namespace: build the new root, pivot into it, drop the
// old root, then exec the rest of the command ("$@").
import { shellQuote as q } from "./shell-quote.js";
import type { MountPlan } from "./mount-plan.js";

export function renderMountScript(plan: MountPlan, rootMountpoint: string): string {
  const lines: string[] = [
    "set -eu",
    `R=${q(rootMountpoint)}`,
    `mount -t tmpfs -o mode=0755,nosuid,nodev bencher-stage-root "$R"`,
    `mkdir "$R/proc" "$R/dev" "$R/tmp" "$R/.old-root"`,
    // Before the binds: a bind under /tmp (a work root in $TMPDIR) must land on this tmpfs, not under it.
    `mount -t tmpfs -o mode=1777,nosuid,nodev bencher-stage-tmp "$R/tmp"`,
  ];
  for (const link of plan.links) lines.push(`ln -s ${q(link.target)} "$R"${q(link.path)}`);
  for (const bind of plan.binds) {
    const target = `"$R"${q(bind.path)}`;
    if (bind.kind === "dir") lines.push(`mkdir -p ${target}`);
    else lines.push(`mkdir -p "$(dirname ${target})"`, `[ -e ${target} ] || touch ${target}`);
    lines.push(`mount --rbind ${q(bind.path)} ${target}`);
    // nosuid and nodev on everything: nothing on an input may gain privilege or reach a device.
    const flags = new Set(["bind", bind.writable ? "rw" : "ro", "nosuid", "nodev", ...bind.hostFlags]);
    lines.push(`mount -o remount,${[...flags].join(",")} ${target}`);
    if (!bind.writable) {
      for (const sub of bind.submounts) {
        const subFlags = new Set(["bind", "ro", "nosuid", "nodev", ...sub.hostFlags]);
        lines.push(`mount -o remount,${[...subFlags].join(",")} "$R"${q(sub.path)}`);
      }
    }
  }
  for (const name of plan.devices) {
    lines.push(`touch "$R/dev/${name}"`, `mount --bind /dev/${name} "$R/dev/${name}"`);
  }
  lines.push(
    `ln -s /proc/self/fd "$R/dev/fd"`,
    `ln -s /proc/self/fd/0 "$R/dev/stdin"`,
    `ln -s /proc/self/fd/1 "$R/dev/stdout"`,
    `ln -s /proc/self/fd/2 "$R/dev/stderr"`,
    `mkdir "$R/dev/shm"`,
    `mount -t tmpfs -o mode=1777,nosuid,nodev bencher-stage-shm "$R/dev/shm"`,
  );
  for (const path of plan.masked) {
    lines.push(`if [ -e "$R"${q(path)} ]; then mount --bind /dev/null "$R"${q(path)}; fi`);
  }
  lines.push(
    // /proc of the new PID namespace (mounted by unshare --mount-proc at /proc).
    `mount -t proc -o nosuid,nodev,noexec proc "$R/proc"`,
    `cd "$R"`,
    `pivot_root . .old-root`,
    `cd /`,
    `umount -l /.old-root`,
    `rmdir /.old-root`,
    `exec "$@"`,
  );
  return lines.join("\n") + "\n";
}
