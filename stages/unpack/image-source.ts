// Turns the request's image string into a resolved image: a local directory
// or archive (its kind found from what it contains) or a registry reference.

import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { UnpackError } from "./image-root.js";
import { ArchiveFiles, DirectoryFiles, type ImageFiles } from "./image-files.js";
import { resolveLayout } from "./layout-source.js";
import { resolveDockerSave } from "./docker-save-source.js";
import { resolveRegistryImage } from "./registry-source.js";
import { parseReference } from "./reference.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import type { UnpackRequest } from "./request.js";

const LOCAL_PREFIXES = ["oci:", "oci-archive:", "docker-archive:"];

function localFiles(path: string): ImageFiles {
  const st = statSync(path);
  if (st.isDirectory()) return new DirectoryFiles(path);
  if (st.isFile()) return new ArchiveFiles(path);
  throw new UnpackError(`${path} is neither a directory nor a file`);
}

export async function resolveImage(req: UnpackRequest, platform: Platform, signal?: AbortSignal): Promise<ResolvedImage> {
  let image = req.image;
  const prefix = LOCAL_PREFIXES.find((p) => image.startsWith(p));
  if (prefix) image = image.slice(prefix.length);
  const looksLocal = prefix !== undefined || image.startsWith("/") || image.startsWith(".") || existsSync(image);
  if (looksLocal) {
    let path = resolve(image);
    let refName: string | undefined;
    // "DIR:REF" names one image of an OCI layout, as skopeo and umoci write it.
    const colon = path.lastIndexOf(":");
    if (!existsSync(path) && colon > path.lastIndexOf("/") && existsSync(path.slice(0, colon))) {
      refName = path.slice(colon + 1);
      path = path.slice(0, colon);
    }
    if (!existsSync(path)) throw new UnpackError(`image ${req.image}: no such file or directory`);
    const files = localFiles(path);
    // docker-save (both forms) has manifest.json; a plain OCI layout does not.
    if (files.has("manifest.json") && refName === undefined) return resolveDockerSave(files, platform);
    if (files.has("index.json")) return resolveLayout(files, platform, refName);
    throw new UnpackError(`image ${req.image}: neither an OCI layout (index.json) nor a docker-save archive (manifest.json)`);
  }
  const ref = parseReference(image.startsWith("docker://") ? image.slice("docker://".length) : image);
  return resolveRegistryImage(ref, { auth: req.auth, plainHttp: req.plainHttp, platform, signal });
}
