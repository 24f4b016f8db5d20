// Resolves an OCI image layout (directory or OCI archive): index.json →
// (nested indexes) → manifest → config and layers, all read from blobs/.

import { UnpackError } from "./image-root.js";
import { verifyBuffer } from "./digest.js";
import { MAX_JSON_BYTES, type ImageFiles } from "./image-files.js";
import { indexEntries, parseJson, resolveManifest, type Descriptor } from "./manifests.js";
import { parseImageConfig } from "./image-config.js";
import { OCI_INDEX } from "../../lib/oci/media-types.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import { checkPlatform, describeLayers } from "./image-checks.js";

export function blobPath(digest: string): string {
  const [algorithm, hex] = digest.split(":");
  return `blobs/${algorithm}/${hex}`;
}

const REF_NAME = "org.opencontainers.image.ref.name";

/**
 * index.json may list several images under different ref names (what
 * `skopeo copy … oci:DIR:REF` writes): `refName` picks one, as in "DIR:REF".
 */
function selectByRef(index: unknown, refName: string | undefined, origin: string): unknown {
  const entries = indexEntries(index, `${origin}: index.json`);
  const refs = entries.map((e) => e.annotations?.[REF_NAME]).filter((r): r is string => typeof r === "string");
  if (refName === undefined) {
    if (new Set(refs).size > 1) {
      throw new UnpackError(`${origin}: index.json holds several images (${refs.join(", ")}); name one as ${origin}:REF`);
    }
    return index;
  }
  const chosen = entries.filter((e) => e.annotations?.[REF_NAME] === refName);
  if (chosen.length === 0) throw new UnpackError(`${origin}: no image named ${JSON.stringify(refName)} (it has: ${refs.join(", ") || "no names"})`);
  return { manifests: chosen };
}

export async function resolveLayout(files: ImageFiles, platform: Platform, refName?: string): Promise<ResolvedImage> {
  const fetchDocument = async (desc: Descriptor, what: string): Promise<Buffer> => {
    if (desc.size > MAX_JSON_BYTES) throw new UnpackError(`${files.origin}: ${what} claims ${desc.size} bytes, too large for a JSON document`);
    const path = blobPath(desc.digest);
    if (!files.has(path)) throw new UnpackError(`${files.origin}: ${what} is missing (${path})`);
    const bytes = files.readSmall(path);
    verifyBuffer(bytes, desc, `${files.origin}: ${what}`);
    return bytes;
  };
  if (!files.has("index.json")) throw new UnpackError(`${files.origin}: not an OCI image layout (no index.json)`);
  const index = selectByRef(parseJson(files.readSmall("index.json"), `${files.origin}: index.json`), refName, files.origin);
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
