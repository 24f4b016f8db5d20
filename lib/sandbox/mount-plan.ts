// What a stage's filesystem contains. The sandbox builds a fresh root (a
// tmpfs) holding only: the system directories read-only, the project's
// runtime (dist, node_modules, package.json) read-only, a handful of
// harmless device nodes, a private /tmp, /proc of the stage's own PID
// namespace, and exactly the input (read-only) and output (read-write) paths
// the caller names, each at its host path. Everything else on the host is
// simply not there.
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { projectRoot } from "../paths.js";

export interface BindMount {
  /** Host path, bound at the same path inside the stage. */
  path: string;
  writable: boolean;
}

export interface RootLink {
  /** e.g. "/bin" */
  path: string;
  /** e.g. "usr/bin" */
  target: string;
}

export interface MountPlan {
  links: RootLink[];
  binds: BindMount[];
  /** Files replaced by /dev/null (tools the stage may not run). */
  masked: string[];
  /** Device nodes bound from the host /dev. */
  devices: string[];
}

const SYSTEM_DIRS = ["/usr", "/etc"];
const MAYBE_LINKED_DIRS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];
export const STAGE_DEVICES = ["null", "zero", "full", "random", "urandom"];

export interface MountRequest {
  readOnly: string[];
  writable: string[];
  masked: string[];
  /** The stage shares the host network: bring name resolution along. */
  network?: boolean;
}

export function planMounts(request: MountRequest): MountPlan {
  const links: RootLink[] = [];
  const binds = new Map<string, BindMount>();
  const add = (path: string, writable: boolean) => {
    const real = realPath(path);
    // Named both ways: writable wins (an output may also be read).
    binds.set(real, { path: real, writable: writable || (binds.get(real)?.writable ?? false) });
  };

  for (const dir of SYSTEM_DIRS) add(dir, false);
  for (const dir of MAYBE_LINKED_DIRS) {
    let stat;
    try {
      stat = lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) links.push({ path: dir, target: readlinkSync(dir) });
    else if (stat.isDirectory()) add(dir, false);
  }
  for (const path of projectRuntime()) add(path, false);
  // Node installed outside /usr (nvm, a tarball): bring its prefix along.
  const nodePrefix = dirname(dirname(realPath(process.execPath)));
  if (!isUnder(realPath(process.execPath), "/usr")) add(nodePrefix, false);

  // /etc/resolv.conf is often a link into /run (systemd-resolved), which the stage does not get.
  if (request.network) {
    const resolvConf = resolvConfTarget();
    if (resolvConf && !isUnder(resolvConf, "/etc") && !isUnder(resolvConf, "/usr")) add(resolvConf, false);
  }
  for (const path of request.readOnly) add(path, false);
  for (const path of request.writable) add(path, true);

  // Parents before children, so a nested bind lands inside its parent's bind.
  const ordered = [...binds.values()].sort((a, b) => depth(a.path) - depth(b.path) || a.path.localeCompare(b.path));
  return { links, binds: ordered, masked: request.masked.map(realPath), devices: STAGE_DEVICES };
}

/**
 * What a stage needs of the project to run: its compiled code, the
 * package.json that makes it ES modules, and every node_modules directory
 * Node's resolution walks from the project up (a hoisted install puts the
 * dependencies in the enclosing one). Not the whole project: a cache or a
 * run directory kept inside a checkout would otherwise show through to every
 * stage, and a stage running as another uid would have to walk its 0700 run
 * directories to reach its own paths.
 */
export function projectRuntime(root = projectRoot): string[] {
  const parts = ["package.json", "dist"].map((name) => join(root, name)).filter((path) => existsSync(path));
  for (let dir = root; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "node_modules"))) parts.push(join(dir, "node_modules"));
    if (dirname(dir) === dir) break;
  }
  return parts;
}

function resolvConfTarget(): string | null {
  try {
    return realpathSync("/etc/resolv.conf");
  } catch {
    return null;
  }
}

/** Absolute, symlink-free path; a missing path is a one-line error naming it. */
export function realPath(path: string): string {
  if (!isAbsolute(path)) path = resolve(path);
  try {
    return realpathSync(path);
  } catch {
    throw new Error(`sandbox mount ${path}: no such file or directory`);
  }
}

export function isUnder(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith("/") ? dir : dir + "/");
}

function depth(path: string): number {
  return path.split("/").length;
}
