// Where the project's files and caches live, in one place.
import { homedir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file compiles to dist/lib/paths.js). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Root of everything bencher-run caches: kernels, guest-init builds, root images. */
export function cacheRoot(): string {
  if (process.env.BENCHER_RUN_CACHE) return resolve(process.env.BENCHER_RUN_CACHE);
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(xdg, "bencher-run");
}
