// Finds the guest kernel this checkout's recipe builds.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { kernelCacheDir, recipeKey, sourceVersion, SOURCE_PACKAGE } from "./recipe.js";

export class KernelNotBuiltError extends Error {}

/** Path of the built vmlinux for the current recipe; throws a one-line error when it is not built. */
export function locateKernel(): string {
  return locateBuilt("vmlinux");
}

/** The same kernel as a bzImage (the form distributions ship). */
export function locateKernelBzImage(): string {
  return locateBuilt("bzImage");
}

function locateBuilt(file: "vmlinux" | "bzImage"): string {
  const version = sourceVersion();
  if (!version) {
    throw new KernelNotBuiltError(`guest kernel: Debian package ${SOURCE_PACKAGE} is not installed; run ./setup`);
  }
  const path = join(kernelCacheDir(), recipeKey(version), file);
  if (!existsSync(path)) {
    throw new KernelNotBuiltError(`guest kernel: not built for this recipe (expected ${path}); run ./setup or node dist/kernel/build.js`);
  }
  return path;
}
