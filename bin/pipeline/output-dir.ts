// Saving the --output files into --output-dir. The directory may hold an
// earlier run's results: each file this run names there is replaced by this
// run's, or removed when this run did not bring it back, so a stale result
// never passes for a new one. Nothing else in the directory is touched.
import { lstatSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { makeDirectory } from "../../lib/fs/make-directory.js";
import { describeError } from "../../lib/ipc/errors.js";
import { hostNameForOutput } from "../../stages/collect/output-names.js";

/** Where `guestPath` is saved under `outputDir`. */
export function savedOutputPath(outputDir: string, guestPath: string): string {
  return join(outputDir, hostNameForOutput(guestPath));
}

/**
 * Why an --output could not be saved in `outputDir` as things stand: a
 * file where one of its directories must go, or a directory where the file
 * must go. Checked before the VM boots, so that a run is never spent to
 * find it out (and the command's status lost to a save failure); null when
 * nothing is in the way.
 */
export function outputPlaceProblem(outputDir: string, guestPath: string): string | null {
  const target = savedOutputPath(outputDir, guestPath);
  const parts = hostNameForOutput(guestPath).split("/");
  let at = outputDir;
  for (const [i, part] of parts.entries()) {
    at = join(at, part);
    let st;
    try {
      st = statSync(at); // a symlink the user put in their own directory is theirs to follow
    } catch {
      return null; // nothing there yet: made (or written) at save time
    }
    const last = i === parts.length - 1;
    if (!last && !st.isDirectory()) return `${guestPath} would be saved as ${target}, but ${at} is not a directory`;
    if (last && st.isDirectory()) return `${guestPath} would be saved as ${target}, which is a directory`;
  }
  return null;
}

/**
 * Saves the file collect brought back (its bytes, `content`, already read
 * safely from collect's output directory), or removes what an earlier run
 * left at its place (`content` null). Returns where it was saved, or throws
 * a one-line error naming both paths.
 */
export function saveOutput(outputDir: string, guestPath: string, content: Buffer | null): string | null {
  const target = savedOutputPath(outputDir, guestPath);
  try {
    removeEarlier(target);
    if (content === null) return null;
    makeDirectory(dirname(target));
    // Exclusive: a file or symlink put there meanwhile is refused, never written through.
    writeFileSync(target, content, { flag: "wx", mode: 0o644 });
    return target;
  } catch (err) {
    const what = content === null ? `remove an earlier run's ${target}` : `save ${guestPath} as ${target}`;
    throw new Error(`output-dir: could not ${what}: ${describeError(err)}`);
  }
}

/** An earlier run's file (or a symlink) at `target` goes; a directory there is left for the copy to refuse. */
function removeEarlier(target: string): void {
  let st;
  try {
    st = lstatSync(target);
  } catch {
    return; // nothing there, or its parent is not a directory: the copy says so
  }
  if (!st.isDirectory()) unlinkSync(target);
}
