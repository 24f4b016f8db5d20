// Moves a file a stage made in the work directory to where the user asked:
// rename when on the same file system, else a copy that keeps the holes (an
// ext4 image is mostly holes: Node's copyFile fills them in, so a few MB of
// data became a GiB on the target), made beside the target and renamed into
// place, so that a copy that fails leaves nothing there.
import { spawnSync } from "node:child_process";
import { renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CommandError } from "./command-error.js";
import { systemReason } from "../../lib/fs/system-reason.js";

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
  const partial = join(dirname(to), `.${basename(to)}.${process.pid}.partial`);
  try {
    const why = copySparse(from, partial);
    if (why !== undefined) throw cannotWrite(shownAs, why);
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err instanceof CommandError ? err : cannotWrite(shownAs, systemReason(err));
  }
  rmSync(from);
}

/**
 * Copies with coreutils cp, which skips holes (SEEK_DATA) and runs of zeros,
 * and reflinks where the file system can; run synchronously, as the rename
 * it stands in for (the CLI does not load execa at start-up). Why it failed,
 * in the system's words without the file's temporary name; undefined if not.
 */
function copySparse(from: string, to: string): string | undefined {
  const cp = spawnSync("cp", ["--sparse=always", "--reflink=auto", "--", from, to], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (cp.error) return `cp did not run: ${cp.error.message}`;
  if (cp.status === 0) return undefined;
  // "cp: error writing '<temporary name>': No space left on device"
  const said = cp.stderr.trim().split("\n")[0] ?? "";
  if (said.includes(": ")) {
    const why = said.slice(said.lastIndexOf(": ") + 2);
    return why.charAt(0).toLowerCase() + why.slice(1);
  }
  return cp.signal ? `cp stopped by ${cp.signal}` : said || `cp exited ${cp.status}`;
}

function cannotWrite(shownAs: string, why: string): CommandError {
  return new CommandError(`${shownAs}: cannot write it: ${why}`);
}
