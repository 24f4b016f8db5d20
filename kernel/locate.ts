// Finds the guest kernel this checkout's recipe builds.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { kernelCacheDir, recipeKey, sourceVersion, SOURCE_PACKAGE } from "./recipe.js";

export class KernelNotBuiltError extends Error {}

/** Path of the built vmlinux for the current recipe; throws a one-line error when it is not built. */
export function locateKernel(): string {
  const version = sourceVersion();
  if (!version) {
    throw new KernelNotBuiltError(`guest kernel: Debian package ${SOURCE_PACKAGE} is not installed; run ./setup`);
  }
  const vmlinux = join(kernelCacheDir(), recipeKey(version), "vmlinux");
  if (!existsSync(vmlinux)) {
    throw new KernelNotBuiltError(`guest kernel: not built for this recipe (expected ${vmlinux}); run ./setup or node dist/kernel/build.js`);
  }
  return vmlinux;
}
