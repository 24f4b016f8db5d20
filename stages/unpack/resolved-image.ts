// What every image source (OCI layout, docker-save, registry) resolves an
// image to: its verified config and the layer blobs to stream, in order.

import type { Readable } from "node:stream";
import type { ImageConfig } from "./image-config.js";

export interface LayerBlob {
  /** Names the blob in messages, e.g. "layer 2/3 sha256:ab…". */
  what: string;
  /** What the bytes of open() must hash to (compressed digest, or the diff_id for docker-save legacy layers). */
  expected: { digest: string; size?: number };
  /**
   * What the layer's tar must hash to once decompressed: the config's
   * diff_id. The config digest (the image ID, and the root image cache's
   * key) then vouches for the layers' content, not just for their count.
   */
  diffId: string;
  open(): Promise<Readable>;
}

export interface ResolvedImage {
  /** Digest of the config: the image ID, the same whatever the transport or layer compression. */
  configDigest: string;
  /** Digest of the manifest that was unpacked, when the source has one. */
  manifestDigest?: string;
  config: ImageConfig;
  layers: LayerBlob[];
}
