// Renders a MountPlan as the /bin/sh script that runs first inside the
// stage's new mount namespace: build the new root, pivot into it, drop the
// old root, then exec the rest of the command ("$@").
// Every external command here costs a fork and an exec (1-3 ms each on these
// machines, and every stage start pays for all of them): builtins and one
// command for several operations where the result is the same.
import { posix } from "node:path";
import { shellQuote as q } from "./shell-quote.js";
import { isUnder, type MountPlan, type RootLink } from "./mount-plan.js";

/** /bin -> usr/bin: a link that `ln -s TARGET... DIR` makes under its target's own name. */
function namedLikeTarget(link: RootLink): boolean {
  return posix.dirname(link.path) === "/" && !link.target.endsWith("/") && posix.basename(link.target) === posix.basename(link.path);
}

export function renderMountScript(plan: MountPlan, rootMountpoint: string): string {
  const lines: string[] = [
    "set -eu",
    `R=${q(rootMountpoint)}`,
    `mount -t tmpfs -o mode=0755,nosuid,nodev bencher-stage-root "$R"`,
    `mkdir "$R/proc" "$R/dev" "$R/dev/shm" "$R/tmp" "$R/.old-root"`,
    // Before the binds: a bind under /tmp (a work root in $TMPDIR) must land on this tmpfs, not under it.
    `mount -t tmpfs -o mode=1777,nosuid,nodev bencher-stage-tmp "$R/tmp"`,
  ];
  const grouped = plan.links.filter(namedLikeTarget);
  if (grouped.length > 0) lines.push(`ln -s ${grouped.map((l) => q(l.target)).join(" ")} "$R/"`);
  for (const link of plan.links) if (!grouped.includes(link)) lines.push(`ln -s ${q(link.target)} "$R"${q(link.path)}`);
  // Mount points on the new root, all made by one mkdir (after /tmp's tmpfs,
  // so those under /tmp land on it). A bind inside another bind needs none:
  // its path is there already, seen through the outer bind.
  const outermost = plan.binds.filter((b) => !plan.binds.some((outer) => outer.path !== b.path && isUnder(b.path, outer.path)));
  const dirs = outermost.map((b) => (b.kind === "dir" ? b.path : posix.dirname(b.path))).filter((d) => d !== "/");
  if (dirs.length > 0) lines.push(`mkdir -p ${dirs.map((d) => `"$R"${q(d)}`).join(" ")}`);
  for (const b of outermost) if (b.kind === "file") lines.push(`: > "$R"${q(b.path)}`);
  for (const bind of plan.binds) {
    const target = `"$R"${q(bind.path)}`;
    // nosuid and nodev on everything: nothing on an input may gain privilege or reach a device.
    // mount binds, then remounts with these flags itself (the remount does not reach submounts).
    const flags = new Set([bind.writable ? "rw" : "ro", "nosuid", "nodev", ...bind.hostFlags]);
    lines.push(`mount --rbind -o ${[...flags].join(",")} ${q(bind.path)} ${target}`);
    if (!bind.writable) {
      for (const sub of bind.submounts) {
        const subFlags = new Set(["bind", "ro", "nosuid", "nodev", ...sub.hostFlags]);
        lines.push(`mount -o remount,${[...subFlags].join(",")} "$R"${q(sub.path)}`);
      }
    }
  }
  for (const name of plan.devices) {
    lines.push(`: > "$R/dev/${name}"`, `mount --bind /dev/${name} "$R/dev/${name}"`);
  }
  lines.push(
    `ln -s /proc/self/fd "$R/dev/fd"`,
    `ln -s /proc/self/fd/0 "$R/dev/stdin"`,
    `ln -s /proc/self/fd/1 "$R/dev/stdout"`,
    `ln -s /proc/self/fd/2 "$R/dev/stderr"`,
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
