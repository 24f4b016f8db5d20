// Moves a file a stage made in the work directory to where the user asked:
// rename when on the same file system, else copy (a reflink where possible).
import { copyFileSync, constants, renameSync, rmSync } from "node:fs";

export function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
    copyFileSync(from, to, constants.COPYFILE_FICLONE);
    rmSync(from);
  }
}
