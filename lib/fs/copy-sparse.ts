// A copy of a disk image that keeps its holes: an ext4 image is mostly holes,
// and Node's copyFile fills them in (a few MB of data became a GiB). coreutils
// cp skips holes (SEEK_DATA) and runs of zeros, and reflinks where the file
// system can. Run synchronously: it stands in for a rename, and the CLI does
// not load execa at start-up.
//
// cp writes into a file the caller opened (its stdout), never to a name: a
// name in a directory others can write could be a symlink by then, and the
// copy (run as root) would follow it.
import { spawnSync } from "node:child_process";

/** Copies `from` into the open file `toFd`; why it failed in the system's words (without the file names), or undefined. */
export function copySparse(from: string, toFd: number): string | undefined {
  const cp = spawnSync("cp", ["--sparse=always", "--reflink=auto", "--", from, "/dev/stdout"], { encoding: "utf8", stdio: ["ignore", toFd, "pipe"] });
  if (cp.error) return `cp did not run: ${cp.error.message}`;
  if (cp.status === 0) return undefined;
  // "cp: error writing '/dev/stdout': No space left on device"
  const said = cp.stderr.trim().split("\n")[0] ?? "";
  if (said.includes(": ")) {
    const why = said.slice(said.lastIndexOf(": ") + 2);
    return why.charAt(0).toLowerCase() + why.slice(1);
  }
  return cp.signal ? `cp stopped by ${cp.signal}` : said || `cp exited ${cp.status}`;
}
