// `mkdir -p` that always ends. Node's fs.mkdirSync(path, { recursive: true })
// (and fs.promises.mkdir) spins forever at full CPU, deaf to signals, when a
// directory exists but refuses a new entry with ENOENT, as /proc and /sys
// do: mkdir /proc/x → ENOENT, so it makes the parent, /proc → EEXIST, so it
// tries /proc/x again... Here each missing directory is made once, outermost
// first, and the first failure is the answer.
import { mkdirSync, rmdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { systemReason } from "./system-reason.js";

export class MakeDirectoryError extends Error {
  override name = "MakeDirectoryError";
  constructor(message: string, readonly code: string | undefined, options: { cause?: unknown } = {}) {
    super(message, options);
  }
}

/**
 * Makes `path` and whichever of its parents are missing (mode before the
 * umask). Returns the directories it made, outermost first: what to remove
 * to leave nothing behind. Throws a MakeDirectoryError naming the directory
 * that could not be made and why.
 */
export function makeDirectory(path: string, mode = 0o777): string[] {
  const target = resolve(path);
  const missing: string[] = [];
  for (let dir = target; ; dir = dirname(dir)) {
    const kind = entryKind(dir);
    if (kind === "directory") break;
    if (kind === "other") throw new MakeDirectoryError(`${dir} exists and is not a directory`, "ENOTDIR");
    missing.unshift(dir);
    if (dirname(dir) === dir) break;
  }
  const made: string[] = [];
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode });
      made.push(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST" && entryKind(dir) === "directory") continue; // made by someone else meanwhile
      throw new MakeDirectoryError(`cannot create directory ${dir}: ${whyNotMade(err, dir)}`, code, { cause: err });
    }
  }
  return made;
}

/**
 * Undoes makeDirectory after a failure: removes the directories it made,
 * innermost first, while they are empty (nothing anyone put in them since is
 * touched).
 */
export function removeMadeDirectories(made: readonly string[]): void {
  for (const dir of [...made].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      return; // not empty (or gone): its parents are not empty either
    }
  }
}

/** What `path` is once symlinks are followed; "missing" for a dangling symlink too (mkdir then says EEXIST). */
function entryKind(path: string): "directory" | "other" | "missing" {
  try {
    return statSync(path).isDirectory() ? "directory" : "other";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a parent is a file; the walk up finds and names it.
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw new MakeDirectoryError(`cannot create directory ${path}: ${whyNotMade(err, path)}`, code, { cause: err });
  }
}

/** Why mkdir(dir) failed, in the system's words ("permission denied") without the code and path Node adds. */
export function whyNotMade(err: unknown, dir: string): string {
  const e = err as NodeJS.ErrnoException;
  // ENOENT while the parent is a directory: a file system that takes no new directories (/proc, /sys).
  if (e.code === "ENOENT") return `${dirname(dir)} does not take new directories`;
  if (e.code === "EEXIST") return "a dangling symlink or another non-directory is in the way";
  return systemReason(err);
}
