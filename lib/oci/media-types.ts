// Media types of the OCI image spec and of Docker's v2 schema 2, in one place
// for the builder and the unpack stage.

export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar";
export const OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";

export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

export const INDEX_TYPES = [OCI_INDEX, DOCKER_MANIFEST_LIST];
export const MANIFEST_TYPES = [OCI_MANIFEST, DOCKER_MANIFEST];

export type Compression = "none" | "gzip" | "zstd";

export function layerMediaType(compression: Compression): string {
  return compression === "gzip" ? OCI_LAYER_GZIP : compression === "zstd" ? OCI_LAYER_ZSTD : OCI_LAYER;
}
