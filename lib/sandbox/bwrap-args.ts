// Renders a MountPlan as the bubblewrap options that build the stage's root:
// a fresh tmpfs holding the binds, links, device nodes and private tmpfs
// mounts the plan names, pivoted into before the command runs.
// bwrap makes every bind nosuid and nodev (but --dev-bind's device nodes),
// read-only binds read-only all the way down (each submount too), keeps the
// flags the kernel locked on the source (noexec, atime), and mounts /proc of
// the new PID namespace nosuid,nodev,noexec: all of that is its code, not ours.
import { posix } from "node:path";
import { isUnder, type MountPlan } from "./mount-plan.js";

/** The directories bwrap must make on the new root (it would make them 0700, closed to an unprivileged stage). */
function mountPointParents(plan: MountPlan): string[] {
  const parents = new Set<string>(["/dev"]);
  for (const bind of plan.binds) {
    // A bind inside another bind needs nothing: its path is there, seen through the outer one.
    const inOtherBind = (path: string) => plan.binds.some((outer) => outer !== bind && isUnder(path, outer.path));
    for (let dir = posix.dirname(bind.path); dir !== "/" && dir !== "/tmp"; dir = posix.dirname(dir)) {
      if (!inOtherBind(dir)) parents.add(dir);
    }
  }
  // Parents before children.
  return [...parents].sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
}

export function bwrapRootArgs(plan: MountPlan): string[] {
  // /tmp first: a bind under it (a work root in $TMPDIR) must land on this tmpfs, not under it.
  const args = ["--perms", "1777", "--tmpfs", "/tmp"];
  for (const dir of mountPointParents(plan)) args.push("--perms", "0755", "--dir", dir);
  for (const link of plan.links) args.push("--symlink", link.target, link.path);
  // Parents before children (planMounts' order), so a nested bind lands inside its parent's bind.
  for (const bind of plan.binds) args.push(bind.writable ? "--bind" : "--ro-bind", bind.path, bind.path);
  for (const name of plan.devices) args.push("--dev-bind", `/dev/${name}`, `/dev/${name}`);
  args.push(
    "--symlink", "/proc/self/fd", "/dev/fd",
    "--symlink", "/proc/self/fd/0", "/dev/stdin",
    "--symlink", "/proc/self/fd/1", "/dev/stdout",
    "--symlink", "/proc/self/fd/2", "/dev/stderr",
    "--perms", "1777", "--tmpfs", "/dev/shm",
  );
  // A tool the stage may not run: /dev/null (read-only, nodev: not even readable) in its place.
  for (const path of plan.masked) args.push("--ro-bind", "/dev/null", path);
  args.push("--proc", "/proc", "--chdir", "/");
  return args;
}
