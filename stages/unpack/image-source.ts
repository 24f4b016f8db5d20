// Turns the request's image string into a resolved image: a local directory
// or archive (its kind found from what it contains) or a registry reference.

import { existsSync, statSync } from "node:fs";
import { UnpackError } from "./image-root.js";
import { ArchiveFiles, DirectoryFiles, type ImageFiles } from "./image-files.js";
import { resolveLayout } from "./layout-source.js";
import { resolveDockerSave } from "./docker-save-source.js";
import { parseLocalImage } from "./local-image.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import type { ImageRequest } from "./request.js";

function localFiles(path: string): ImageFiles {
  const st = statSync(path);
  if (st.isDirectory()) return new DirectoryFiles(path);
  if (st.isFile()) return new ArchiveFiles(path);
  throw new UnpackError(`${path} is neither a directory nor a file`);
}

export interface ResolveHooks {
  signal?: AbortSignal | undefined;
  /** Hears of each registry request tried again (why, and what), so a slow registry is not silent. */
  onRetry?: ((message: string) => void) | undefined;
  /** Hears the digest a registry reference names (its manifest's or index's) before anything else is fetched. */
  onResolved?: ((digest: string) => void) | undefined;
}

export async function resolveImage(req: ImageRequest, platform: Platform, hooks: ResolveHooks = {}): Promise<ResolvedImage> {
  const local = parseLocalImage(req.image);
  if (local) {
    if (!existsSync(local.path)) throw new UnpackError(`image ${req.image}: no such file or directory`);
    if (local.name === "") throw new UnpackError(`image ${req.image}: nothing after the ":" that names one image`);
    const files = localFiles(local.path);
    // docker-save (both forms) has manifest.json; a plain OCI layout does not. A prefix says which to read.
    const dockerSave = local.prefix === "docker-archive:" || (local.prefix === "" && files.has("manifest.json"));
    if (dockerSave) {
      if (!files.has("manifest.json")) throw new UnpackError(`image ${req.image}: not a docker-save archive (no manifest.json)`);
      return resolveDockerSave(files, platform, local.name);
    }
    if (files.has("index.json")) return resolveLayout(files, platform, local.name);
    if (local.prefix !== "") throw new UnpackError(`image ${req.image}: not an OCI layout (no index.json)`);
    throw new UnpackError(`image ${req.image}: neither an OCI layout (index.json) nor a docker-save archive (manifest.json)`);
  }
  // Loaded only for a registry: the HTTP client and TLS would cost every local run ~5 ms (the pipeline's coordinator resolves images too).
  const [{ parseReference }, { readRegistryCa }, { resolveRegistryImage }] = await Promise.all([
    import("./reference.js"), import("./registry-ca.js"), import("./registry-source.js"),
  ]);
  const ref = parseReference(req.image);
  const ca = req.registryCa !== undefined ? readRegistryCa(req.registryCa) : undefined;
  return resolveRegistryImage(ref, { auth: req.auth, plainHttp: req.plainHttp, ca, platform, ...hooks });
}
