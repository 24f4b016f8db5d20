// A copy of a disk image that keeps its holes: an ext4 image is mostly holes,
// and Node's copyFile fills them in (a few MB of data became a GiB). coreutils
// cp skips holes (SEEK_DATA) and runs of zeros, and reflinks where the file
// system can. Run synchronously: it stands in for a rename, and the CLI does
// not load execa at start-up.
import { spawnSync } from "node:child_process";

/** Copies `from` to the new file `to`; why it failed in the system's words (without the file names), or undefined. */
export function copySparse(from: string, to: string): string | undefined {
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
