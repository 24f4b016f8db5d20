// Moves a file a stage made in the work directory to where the user asked:
// rename when on the same file system, else a copy that keeps the holes (an
// ext4 image is mostly holes: Node's copyFile fills them in, so a few MB of
// data became a GiB on the target), made beside the target and renamed into
// place, so that a copy that fails leaves nothing there.
import { spawnSync } from "node:child_process";
import { renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

export function moveFile(from: string, to: string): void {
  try {
    renameSync(from, to);
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EXDEV") throw err;
  }
  const partial = join(dirname(to), `.${basename(to)}.${process.pid}.partial`);
  try {
    copySparse(from, partial);
    renameSync(partial, to);
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  }
  rmSync(from);
}

/**
 * coreutils cp: it skips holes (SEEK_DATA) and runs of zeros, and reflinks
 * where the file system can. Run synchronously, as the rename it replaces:
 * the CLI does not load execa at start-up. Its error says why in the
 * system's words, without the temporary name.
 */
function copySparse(from: string, to: string): void {
  const cp = spawnSync("cp", ["--sparse=always", "--reflink=auto", "--", from, to], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (cp.error) throw new Error(`cannot run cp to copy the file: ${cp.error.message}`);
  if (cp.status === 0) return;
  const said = cp.stderr.trim().split("\n")[0] ?? "";
  const why = said.includes(": ") ? said.slice(said.lastIndexOf(": ") + 2) : cp.signal ? `stopped by ${cp.signal}` : said || `exit status ${cp.status}`;
  throw new Error(`cannot copy the file to ${dirname(to)}: ${why}`);
}
