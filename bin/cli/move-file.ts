// Puts a file made in the work directory (or the cache) where the user asked:
// rename when on the same file system, else a copy that keeps the holes
// (lib/fs/copy-sparse.ts), made beside the target and renamed into place, so
// that a copy that fails leaves nothing there.
import { chmodSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CommandError } from "./command-error.js";
import { systemReason } from "../../lib/fs/system-reason.js";
import { copySparse } from "../../lib/fs/copy-sparse.js";

/**
 * `shownAs` is the option as the user typed it (`--out r.ext4`): a failure
 * names it, never the work directory's file, which is gone by then.
 */
export function moveFile(from: string, to: string, shownAs: string): void {
  try {
    renameSync(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw cannotWrite(shownAs, systemReason(err));
  }
  copyFile(from, to, shownAs);
  rmSync(from);
}

/** A copy of `from` at `to` (sparse, reflinked where it can be), with `mode` (default: as cp makes it). */
export function copyFile(from: string, to: string, shownAs: string, mode?: number): void {
  const partial = join(dirname(to), `.${basename(to)}.${process.pid}.partial`);
  try {
    const why = copySparse(from, partial);
    if (why !== undefined) throw cannotWrite(shownAs, why);
    if (mode !== undefined) chmodSync(partial, mode);
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof CommandError ? err : cannotWrite(shownAs, systemReason(err));
  }
}

function cannotWrite(shownAs: string, why: string): CommandError {
  return new CommandError(`${shownAs}: cannot write it: ${why}`);
}
