// Path resolution inside the image root, the guard that keeps hostile layers
// from touching anything outside it.
//
// Every member name is resolved one component at a time with lstat, the way a
// container runtime resolves it under chroot: a symlink met on the way is
// followed, but its target is interpreted inside the root (absolute targets
// restart at the root, ".." stops at the root), so no resolution can leave
// the root. The final component is never followed: an entry replaces
// whatever is there. This is free of check-then-use races because this
// process is the only writer of the tree while it unpacks.

import { lstatSync, mkdirSync, readlinkSync } from "node:fs";

const MAX_SYMLINK_HOPS = 40;

export class UnpackError extends Error {}

/**
 * Lexically cleans a member name ("./usr//bin/../lib/x" → ["usr","lib","x"]).
 * A name that climbs above the root is refused rather than clamped: no honest
 * layer has one.
 */
export function memberComponents(name: string, what: string | null = "member"): string[] {
  const out: string[] = [];
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      // `what` null: the caller's message names the member already.
      if (out.length === 0) throw new UnpackError(`${what === null ? "" : `${what} ${JSON.stringify(name)} `}climbs out of the image root`);
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out;
}

/** "/a/b" for ["a","b"], "/" for []. The form metadata.jsonl uses. */
export function imagePath(components: readonly string[]): string {
  return "/" + components.join("/");
}

export interface ResolvedDir {
  /** Components of the real directory inside the image (symlinks resolved). */
  components: string[];
  /** Its path on the host. */
  host: string;
}

export class ImageRoot {
  /** Raw parent path → resolution, valid until a directory or symlink is removed. */
  private cache = new Map<string, ResolvedDir>();

  /**
   * `nodeAt` says what device node or FIFO the image has at a path: those
   * exist only as metadata, so the tree has nothing there, yet it is no
   * place to make a directory.
   */
  constructor(readonly host: string, private readonly nodeAt: (path: string) => string | undefined = () => undefined) {}

  hostPath(components: readonly string[]): string {
    return components.length === 0 ? this.host : this.host + "/" + components.join("/");
  }

  /** Call after removing or replacing a directory or symlink: cached resolutions may pass through it. */
  invalidate(): void {
    this.cache.clear();
  }

  /**
   * Resolves a directory inside the root, following symlinks inside the root.
   * With `create`, missing directories are made (mode 0700 until the unpack
   * finishes; `onCreate` hears their image paths). Returns null when a
   * component is missing and `create` is false.
   */
  resolveDir(parts: readonly string[], create: boolean, onCreate?: (components: string[]) => void): ResolvedDir | null {
    const key = parts.join("/");
    const cached = this.cache.get(key);
    if (cached) return cached;

    const done: string[] = [];
    const todo = [...parts].reverse();
    let hops = 0;
    while (todo.length > 0) {
      const part = todo.pop()!;
      if (part === "" || part === ".") continue;
      if (part === "..") {
        done.pop(); // at the root, ".." is the root
        continue;
      }
      const host = this.hostPath([...done, part]);
      let st;
      try {
        st = lstatSync(host);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        if (!create) return null;
        const node = this.nodeAt(imagePath([...done, part]));
        if (node) throw new UnpackError(`${imagePath([...done, part])} is a ${node}, not a directory (needed by ${JSON.stringify(key)})`);
        mkdirSync(host, 0o700);
        done.push(part);
        onCreate?.([...done]);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw new UnpackError(`too many levels of symbolic links in ${JSON.stringify(key)}`);
        const target = readlinkSync(host);
        if (target.startsWith("/")) done.length = 0;
        const targetParts = target.split("/");
        for (let i = targetParts.length - 1; i >= 0; i--) todo.push(targetParts[i]);
        continue;
      }
      if (!st.isDirectory()) {
        throw new UnpackError(`${imagePath([...done, part])} is not a directory (needed by ${JSON.stringify(key)})`);
      }
      done.push(part);
    }
    const resolved = { components: done, host: this.hostPath(done) };
    this.cache.set(key, resolved);
    return resolved;
  }
}
