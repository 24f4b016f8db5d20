// Whether a stage can read an input the user names. Under a root runner the
// stages run as an unprivileged uid (stage-identity.ts), with no
// supplementary groups (launch.ts), so a file only root may read (an image
// written under umask 077, a CA file of mode 600) would fail inside the
// stage with a bare EACCES, or worse, look like a file that is not there.
// The runner checks first and says which file and why.
import { lstatSync, readdirSync, statSync, type Stats } from "node:fs";
import { join, relative } from "node:path";
import { unprivilegedStageIds } from "./stage-identity.js";

/** Entries looked at before giving up the check (an image layout has a handful; a stray big tree is not walked whole). */
const MAX_ENTRIES = 100_000;

/** How the tree is read: a root file system's symlinks are entries of it, stored as they are, never opened (one may point at the host's /etc/shadow). */
export interface TreeReading {
  followLinks: boolean;
}

/**
 * The first entry at or under `path` that the stages' uid cannot read (a
 * directory: list and enter), relative to `path` ("." for itself); undefined
 * when every entry can be read, or when the runner is not root (the stages
 * then run as the caller, who reads what they can).
 */
export function unreadableByStage(path: string, { followLinks }: TreeReading = { followLinks: true }): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = unprivilegedStageIds();
  let seen = 0;
  const visit = (entry: string): string | undefined => {
    if (++seen > MAX_ENTRIES) return undefined;
    let st: Stats;
    try {
      // What the stage would open: a symlink's target, unless the tree keeps its links as they are.
      st = followLinks || entry === path ? statSync(entry) : lstatSync(entry);
    } catch {
      return undefined; // dangling or vanished: the stage reports what it needs
    }
    if (!stageMayRead(st, ids)) return relative(path, entry) || ".";
    if (!st.isDirectory()) return undefined;
    for (const name of readdirSync(entry)) {
      const bad = visit(join(entry, name));
      if (bad !== undefined) return bad;
    }
    return undefined;
  };
  return visit(path);
}

/** The permission bits that apply to the stage's uid and gid: owner, group or other. Directories need read and search. */
export function stageMayRead(st: Pick<Stats, "uid" | "gid" | "mode" | "isDirectory">, ids: { uid: number; gid: number }): boolean {
  const bits = st.uid === ids.uid ? (st.mode >> 6) & 7 : st.gid === ids.gid ? (st.mode >> 3) & 7 : st.mode & 7;
  return st.isDirectory() ? (bits & 5) === 5 : (bits & 4) === 4;
}

/** What keeps the stages from reading `path` (shown to the user as `shownAs`), as an error's clause; undefined when nothing does. */
export function stageReadProblem(path: string, shownAs: string, reading?: TreeReading): string | undefined {
  const entry = unreadableByStage(path, reading);
  if (entry === undefined) return undefined;
  const { uid } = unprivilegedStageIds();
  return `${entry === "." ? "it" : entry} cannot be read by uid ${uid}, which the stages run as under root (make it readable to others: chmod -R o+rX ${shownAs})`;
}
