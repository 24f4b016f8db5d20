// Puts a file made in the work directory (or the cache) where the user asked:
// rename when on the same file system, else a copy that keeps the holes
// (lib/fs/copy-sparse.ts), made beside the target and renamed into place, so
// that a copy that fails leaves nothing there.
//
// The copy goes into a new file of a random name, created exclusively (never
// through a symlink someone put beside the target). A file a stage made is
// taken as it is only if it is a regular file with no other name, and gets
// the caller's mode (0644), not whatever the stage gave it.
import { closeSync, fchmodSync, lstatSync, openSync, renameSync, rmSync, chmodSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { CommandError } from "./command-error.js";
import { systemReason } from "../../lib/fs/system-reason.js";
import { copySparse } from "../../lib/fs/copy-sparse.js";

const USER_FILE_MODE = 0o644;

/**
 * Moves a file a stage made to `to`. `shownAs` is the option as the user
 * typed it (`--out r.ext4`): a failure names it, never the work directory's
 * file, which is gone by then.
 */
export function moveFile(from: string, to: string, shownAs: string): void {
  const st = lstatSync(from, { throwIfNoEntry: false });
  if (!st?.isFile()) throw new CommandError(`${shownAs}: the stage left no regular file to put there`);
  if (st.nlink !== 1) throw new CommandError(`${shownAs}: the stage's file has ${st.nlink} names; it may have no other`);
  chmodSync(from, USER_FILE_MODE); // in the run's private work directory: no one can swap it meanwhile
  try {
    renameSync(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw cannotWrite(shownAs, systemReason(err));
  }
  copyFile(from, to, shownAs, USER_FILE_MODE);
  rmSync(from);
}

/** A copy of `from` at `to` (sparse, reflinked where it can be), with `mode`. */
export function copyFile(from: string, to: string, shownAs: string, mode = USER_FILE_MODE): void {
  const partial = join(dirname(to), `.${basename(to)}.${randomBytes(6).toString("hex")}.partial`);
  let fd: number;
  try {
    fd = openSync(partial, "wx", mode);
  } catch (err) {
    throw cannotWrite(shownAs, systemReason(err));
  }
  try {
    try {
      fchmodSync(fd, mode); // exactly `mode`, whatever the umask
      const why = copySparse(from, fd);
      if (why !== undefined) throw cannotWrite(shownAs, why);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof CommandError ? err : cannotWrite(shownAs, systemReason(err));
  }
}

function cannotWrite(shownAs: string, why: string): CommandError {
  return new CommandError(`${shownAs}: cannot write it: ${why}`);
}
