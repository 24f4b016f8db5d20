// The names an image directory or archive holds, as this project's builder
// and `docker save` write them: oci-layout, index.json and blobs/<alg>/<hex>
// (OCI), and manifest.json, repositories, <hex>.json and
// <hex>/{layer.tar,VERSION,json} (docker save). `image --force` replaces only
// what holds these and nothing else: a user's directory or tar that merely
// has an oci-layout file among their own is never deleted.

const IMAGE_FILE = /^(?:oci-layout|index\.json|manifest\.json|repositories|blobs\/[a-z0-9]+\/[a-f0-9]+|[a-f0-9]{64}\.json|[a-f0-9]{64}\/(?:layer\.tar|VERSION|json))$/;
const IMAGE_DIRECTORY = /^(?:blobs|blobs\/[a-z0-9]+|[a-f0-9]{64})$/;

/** Whether `path` (relative, "/"-separated) is a file an image holds. */
export function isImageFileName(path: string): boolean {
  return IMAGE_FILE.test(path);
}

/** Whether `path` (relative, "/"-separated) is a directory an image holds. */
export function isImageDirectoryName(path: string): boolean {
  return IMAGE_DIRECTORY.test(path);
}

/** Whether an image's top-level marker is among these names: oci-layout (OCI) or manifest.json (docker save). */
export function hasImageMarker(names: Iterable<string>): boolean {
  for (const name of names) if (name === "oci-layout" || name === "manifest.json") return true;
  return false;
}
