// Resolves a `docker save` archive (tar or extracted directory) through its
// manifest.json. The legacy form names the config "<sha256 hex>.json" and
// stores uncompressed "<id>/layer.tar" files, which are checked against the
// config's diff_ids; Docker 25+ stores both under blobs/sha256/, named by
// digest, and adds an OCI index.json that this reader does not need.

import { UnpackError } from "./image-root.js";
import { verifyBuffer } from "./digest.js";
import type { ImageFiles } from "./image-files.js";
import { parseJson } from "./manifests.js";
import { parseImageConfig } from "./image-config.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import { checkPlatform } from "./image-checks.js";

/** The digest a docker-save path is named by, if it is named by one. */
function digestInName(path: string): string | null {
  const match = /(?:^|\/)(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(path);
  return match ? `sha256:${match[1]}` : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export async function resolveDockerSave(files: ImageFiles, platform: Platform): Promise<ResolvedImage> {
  const what = `${files.origin}: manifest.json`;
  const doc = parseJson(files.readSmall("manifest.json"), what);
  if (!Array.isArray(doc) || doc.length === 0) throw new UnpackError(`${what} lists no image`);
  if (doc.length > 1) {
    const tags = doc.map((d) => (isObject(d) && Array.isArray(d.RepoTags) ? d.RepoTags.join(",") : "?")).join("; ");
    throw new UnpackError(`${what} holds ${doc.length} images (${tags}); save one image per archive`);
  }
  const entry = doc[0];
  if (!isObject(entry) || typeof entry.Config !== "string" || !Array.isArray(entry.Layers) || entry.Layers.some((l) => typeof l !== "string")) {
    throw new UnpackError(`${what} entry needs "Config" and "Layers"`);
  }
  const layerPaths = entry.Layers as string[];

  const configPath = entry.Config;
  const configDigest = digestInName(configPath);
  if (!configDigest) throw new UnpackError(`${what}: config ${JSON.stringify(configPath)} is not named by its digest, so it cannot be verified`);
  if (!files.has(configPath)) throw new UnpackError(`${files.origin}: config ${configPath} is missing`);
  const configBytes = files.readSmall(configPath);
  verifyBuffer(configBytes, { digest: configDigest }, `${files.origin}: config ${configPath}`);
  const config = parseImageConfig(parseJson(configBytes, `config ${configDigest}`), `config ${configDigest}`);
  checkPlatform(config, platform, files.origin);
  if (config.diffIds.length !== layerPaths.length) {
    throw new UnpackError(`${what} lists ${layerPaths.length} layers but the config has ${config.diffIds.length} diff_ids`);
  }

  return {
    configDigest,
    config,
    layers: layerPaths.map((path, i) => {
      if (!files.has(path)) throw new UnpackError(`${files.origin}: layer ${path} is missing`);
      // Blobs named by digest are checked against it; legacy layer.tar files against the diff_id.
      const named = /(?:^|\/)blobs\/sha256\/[a-f0-9]{64}$/.test(path) ? digestInName(path) : null;
      const expected = named ? { digest: named, size: files.size(path) } : { digest: config.diffIds[i] };
      return {
        what: `layer ${i + 1}/${layerPaths.length} ${path}`,
        expected,
        open: async () => files.open(path),
      };
    }),
  };
}
