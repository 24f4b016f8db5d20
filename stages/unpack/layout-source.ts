// Resolves an OCI image layout (directory or OCI archive): index.json →
// (nested indexes) → manifest → config and layers, all read from blobs/.

import { UnpackError } from "./image-root.js";
import { verifyBuffer } from "./digest.js";
import { MAX_JSON_BYTES, type ImageFiles } from "./image-files.js";
import { parseJson, resolveManifest, type Descriptor } from "./manifests.js";
import { parseImageConfig } from "./image-config.js";
import { OCI_INDEX } from "../../lib/oci/media-types.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import { checkPlatform, describeLayers } from "./image-checks.js";

export function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

export async function resolveLayout(files: ImageFiles, platform: Platform): Promise<ResolvedImage> {
  const fetchDocument = async (desc: Descriptor, what: string): Promise<Buffer> => {
    if (desc.size > MAX_JSON_BYTES) throw new UnpackError(`${files.origin}: ${what} claims ${desc.size} bytes, too large for a JSON document`);
    const path = blobPath(desc.digest);
    if (!files.has(path)) throw new UnpackError(`${files.origin}: ${what} is missing (${path})`);
    const bytes = files.readSmall(path);
    verifyBuffer(bytes, desc, `${files.origin}: ${what}`);
    return bytes;
  };
  if (!files.has("index.json")) throw new UnpackError(`${files.origin}: not an OCI image layout (no index.json)`);
  const index = parseJson(files.readSmall("index.json"), `${files.origin}: index.json`);
  const { manifest, digest } = await resolveManifest(
    { doc: index, mediaType: OCI_INDEX, what: `${files.origin}: index.json` },
    fetchDocument,
    platform,
  );
  const configWhat = `config ${manifest.config.digest}`;
  const config = parseImageConfig(parseJson(await fetchDocument(manifest.config, configWhat), configWhat), configWhat);
  checkPlatform(config, platform, files.origin);
  return {
    configDigest: manifest.config.digest,
    manifestDigest: digest,
    config,
    layers: describeLayers(manifest.layers, config).map((layer) => ({
      ...layer,
      open: async () => {
        const path = blobPath(layer.expected.digest);
        if (!files.has(path)) throw new UnpackError(`${files.origin}: ${layer.what} is missing (${path})`);
        return files.open(path);
      },
    })),
  };
}
