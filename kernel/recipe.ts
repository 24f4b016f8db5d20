// The guest kernel recipe: which source, which configuration, which patches,
// and the cache key they make together. A change to any of them is a new key,
// so a stale kernel is never used.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { cacheRoot, projectRoot } from "../lib/paths.js";

/** Debian's package that ships the kernel source as a tarball. */
export const SOURCE_PACKAGE = "linux-source-6.1";
export const SOURCE_TARBALL = "/usr/src/linux-source-6.1.tar.xz";

/** Bump when the build steps below change in a way that changes the output. */
const RECIPE_VERSION = "1";

export const recipeDir = join(projectRoot, "kernel");
export const configFragment = join(recipeDir, "bencher.config");
export const patchDir = join(recipeDir, "patches");

export function patchFiles(): string[] {
  return readdirSync(patchDir)
    .filter((name) => name.endsWith(".patch"))
    .sort()
    .map((name) => join(patchDir, name));
}

/** The installed source package's version, e.g. "6.1.192-2"; null when it is not installed. */
export function sourceVersion(): string | null {
  try {
    return execFileSync("dpkg-query", ["-W", "-f", "${Version}", SOURCE_PACKAGE], { encoding: "utf8" }).trim() || null;
  } catch {
    return null;
  }
}

export function recipeKey(version: string): string {
  const hash = createHash("sha256");
  hash.update(`recipe ${RECIPE_VERSION}\nsource ${SOURCE_PACKAGE} ${version}\n`);
  hash.update(readFileSync(configFragment));
  for (const patch of patchFiles()) hash.update(readFileSync(patch));
  return hash.digest("hex").slice(0, 16);
}

export function kernelCacheDir(): string {
  return join(cacheRoot(), "kernel");
}
