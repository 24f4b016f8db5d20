// Which build tool made an image, for the cache key: an upgrade of
// e2fsprogs or squashfs-tools can change the image built from the same tree,
// and a cached image from the old tool must then not be reused. The
// coordinator computes the key too, and only the mkrootfs stage may run
// mkfs, so the tool is identified by its installed file (resolved path,
// size, mtime: a package upgrade changes them) rather than by running it.
import { realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RootfsType } from "./request.js";

/** The stage's PATH (lib/sandbox/launch.ts), where the tools are looked up. */
const TOOL_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
const TOOL: Record<RootfsType, string> = { ext4: "mkfs.ext4", squashfs: "mksquashfs" };

const known = new Map<string, string>();

/** "path size mtime" of the tool that builds `fs` images; "missing" when it is not installed (mkrootfs then fails with its own error). */
export function buildToolIdentity(fs: RootfsType, dirs: readonly string[] = TOOL_DIRS): string {
  const cacheKey = `${fs}\0${dirs.join(":")}`;
  const seen = known.get(cacheKey);
  if (seen !== undefined) return seen;
  let identity = "missing";
  for (const dir of dirs) {
    try {
      const path = realpathSync(join(dir, TOOL[fs]));
      const st = statSync(path);
      identity = `${path} ${st.size} ${Math.trunc(st.mtimeMs)}`;
      break;
    } catch {
      // not in this directory
    }
  }
  known.set(cacheKey, identity);
  return identity;
}
