// Resolves an image in a registry: the tag or digest's manifest (or index),
// then config and layers as verified streams.

import { UnpackError } from "./image-root.js";
import { DIGEST, digestOf, verifyBuffer } from "./digest.js";
import { parseJson, resolveManifest, type Descriptor } from "./manifests.js";
import { parseImageConfig } from "./image-config.js";
import { RegistryClient, type RegistryOptions } from "./registry-client.js";
import { readCapped } from "./response-body.js";
import { formatReference, type Reference } from "./reference.js";
import { INDEX_TYPES, MANIFEST_TYPES } from "../../lib/oci/media-types.js";
import { MAX_JSON_BYTES } from "./image-files.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import { checkPlatform, describeLayers } from "./image-checks.js";

const ACCEPT = [...MANIFEST_TYPES, ...INDEX_TYPES].join(", ");

async function readLimited(response: Response, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > MAX_JSON_BYTES) throw new UnpackError(`${what} is ${declared} bytes, too large for a JSON document`);
  const { bytes, whole } = await readCapped(response, MAX_JSON_BYTES);
  if (!whole) throw new UnpackError(`${what} is too large for a JSON document`);
  return bytes;
}

/** `onResolved` hears the top document's digest (what a tag names now) before anything else is fetched. */
export async function resolveRegistryImage(
  ref: Reference,
  options: RegistryOptions & { platform: Platform; onResolved?: ((digest: string) => void) | undefined },
): Promise<ResolvedImage> {
  const client = new RegistryClient(ref, options);
  const name = formatReference(ref);

  const fetchManifest = async (reference: string, what: string) => {
    const response = await client.get(`manifests/${reference}`, { Accept: ACCEPT }, what);
    const bytes = await readLimited(response, what);
    return { bytes, mediaType: response.headers.get("content-type")?.split(";")[0].trim(), servedDigest: response.headers.get("docker-content-digest") };
  };

  // The top document: by digest it is checked against it; by tag, against the digest the registry
  // says it serves (Docker-Content-Digest, as containerd checks it), so that its digest, which
  // unpack reports and a later pull by digest uses, names these bytes.
  const top = await fetchManifest(ref.digest ?? ref.tag!, `manifest ${name}`);
  if (ref.digest) verifyBuffer(top.bytes, { digest: ref.digest }, `manifest ${name}`);
  else if (top.servedDigest && DIGEST.test(top.servedDigest)) verifyBuffer(top.bytes, { digest: top.servedDigest }, `manifest ${name} (against the registry's Docker-Content-Digest)`);
  const topDigest = ref.digest ?? digestOf(top.bytes);
  options.onResolved?.(topDigest);

  const fetchDocument = async (desc: Descriptor, what: string) => {
    if (desc.size > MAX_JSON_BYTES) throw new UnpackError(`${what} claims ${desc.size} bytes, too large for a JSON document`);
    const { bytes } = await fetchManifest(desc.digest, what);
    verifyBuffer(bytes, desc, what);
    return bytes;
  };
  const { manifest, digest } = await resolveManifest(
    { doc: parseJson(top.bytes, `manifest ${name}`), mediaType: top.mediaType, digest: topDigest, what: `manifest ${name}` },
    fetchDocument,
    options.platform,
  );

  const configWhat = `config ${manifest.config.digest}`;
  if (manifest.config.size > MAX_JSON_BYTES) throw new UnpackError(`${configWhat} is too large`);
  const configBytes = await readLimited(await client.get(`blobs/${manifest.config.digest}`, {}, configWhat), configWhat);
  verifyBuffer(configBytes, manifest.config, configWhat);
  const config = parseImageConfig(parseJson(configBytes, configWhat), configWhat);
  checkPlatform(config, options.platform, name);

  return {
    configDigest: manifest.config.digest,
    manifestDigest: digest,
    config,
    layers: describeLayers(manifest.layers, config).map((layer) => ({
      ...layer,
      open: async () => client.blob(layer.expected.digest, layer.what),
    })),
  };
}
