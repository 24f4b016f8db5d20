// Who a stage runs as on the host. Run as root, the runner drops each stage to
// an unprivileged uid before it creates its user namespace, so root inside
// the sandbox is never root outside it. Run as an ordinary user, the stage is
// that user (a user namespace cannot map anyone else without privilege).
import { chownSync, closeSync, constants, lchownSync, lstatSync, openSync, readdirSync } from "node:fs";

/** The host uid/gid stages run as when the runner is root ("nobody" unless overridden). */
export function unprivilegedStageIds(): { uid: number; gid: number } {
  const uid = parseId(process.env.BENCHER_RUN_STAGE_UID, 65534);
  const gid = parseId(process.env.BENCHER_RUN_STAGE_GID, 65534);
  if (uid === 0 || gid === 0) throw new Error("BENCHER_RUN_STAGE_UID/GID must not be 0: stages never run as host root");
  return { uid, gid };
}

/**
 * Hands a directory the caller made for a stage's output to the stage's host
 * uid (under a root runner; otherwise the caller already is that uid). Never
 * use it on a directory the user named that may hold anything else.
 */
export function giveToStage(path: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = unprivilegedStageIds();
  chownSync(path, uid, gid);
}

/**
 * Gives what a stage made under `path` (path included) back to the caller,
 * once the stage has ended: under a root runner the stage wrote it as its
 * own uid. Symlinks are changed themselves, never followed; only entries the
 * stage uid owns change hands.
 *
 * Any process of the stage uid (on many hosts, "nobody" is shared) may
 * change the tree while this walks it, say swap a directory for a symlink
 * to elsewhere. So every directory is opened without following a symlink
 * and read, and its entries changed, through that descriptor
 * (/proc/self/fd/N/name): nothing outside the tree is ever reached, and an
 * entry that changes meanwhile is skipped. `beforeListing` (tests) runs
 * once a directory is found, before it is opened and listed.
 */
export function returnFromStage(path: string, beforeListing: (dir: string) => void = () => {}): void {
  if (process.getuid?.() !== 0) return;
  const owner = { stage: unprivilegedStageIds().uid, gid: process.getgid!() };
  // The top is the caller's own path (its parents are not the stage's to change).
  if (returnEntry(path, owner)) returnDirectory(path, owner, beforeListing);
}

const DIRECTORY_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** A directory, or an entry, that changed while it was being walked: left as it is. */
const CHANGED = new Set(["ENOENT", "ELOOP", "ENOTDIR"]);

/** Changes one entry's owner if the stage's; true if it is a directory to descend into. */
function returnEntry(path: string, owner: { stage: number; gid: number }): boolean {
  const st = lstatSync(path);
  if (st.uid === owner.stage) lchownSync(path, 0, owner.gid);
  return st.isDirectory();
}

function returnDirectory(path: string, owner: { stage: number; gid: number }, beforeListing: (dir: string) => void): void {
  beforeListing(path);
  const fd = unlessChanged(() => openSync(path, DIRECTORY_FLAGS));
  if (fd === undefined) return;
  try {
    const here = `/proc/self/fd/${fd}`;
    for (const name of readdirSync(here)) {
      const entry = `${here}/${name}`;
      if (unlessChanged(() => returnEntry(entry, owner))) returnDirectory(entry, owner, beforeListing);
    }
  } finally {
    closeSync(fd);
  }
}

/** `step`'s answer, or undefined when what it touched changed meanwhile (gone, or swapped for a symlink or a file). */
function unlessChanged<T>(step: () => T): T | undefined {
  try {
    return step();
  } catch (err) {
    if (CHANGED.has((err as NodeJS.ErrnoException).code ?? "")) return undefined;
    throw err;
  }
}

function parseId(text: string | undefined, fallback: number): number {
  if (text === undefined || text === "") return fallback;
  if (!/^\d+$/.test(text)) throw new Error(`invalid uid/gid ${JSON.stringify(text)}: expected a number`);
  return Number(text);
}
