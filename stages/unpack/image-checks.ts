// Checks shared by all image sources.

import { UnpackError } from "./image-root.js";
import type { ImageConfig } from "./image-config.js";
import type { Descriptor } from "./manifests.js";
import { formatPlatform, type Platform } from "./platform.js";

/** An image for another platform would unpack fine and then fail to run: refuse it here. */
export function checkPlatform(config: ImageConfig, wanted: Platform, origin: string): void {
  if (!config.os && !config.architecture) return;
  const offered = { os: config.os, architecture: config.architecture, variant: config.variant };
  if (offered.os !== wanted.os || offered.architecture !== wanted.architecture) {
    throw new UnpackError(`${origin}: image is for ${formatPlatform(offered)}, not ${formatPlatform(wanted)}`);
  }
}

/** Layer names and expectations from manifest descriptors, each with the config's diff_id for it. */
export function describeLayers(layers: Descriptor[], config: ImageConfig) {
  checkDiffIdCount(config, layers.length, `manifest has ${layers.length} layers`);
  return layers.map((layer, i) => ({
    what: `layer ${i + 1}/${layers.length} ${layer.digest}`,
    expected: { digest: layer.digest, size: layer.size },
    diffId: config.diffIds[i],
  }));
}

/**
 * One diff_id per layer, as the image spec requires: each layer's content is
 * checked against its diff_id, so a config without them vouches for nothing.
 */
export function checkDiffIdCount(config: ImageConfig, layers: number, what: string): void {
  if (config.diffIds.length !== layers) {
    throw new UnpackError(`${what} but its config lists ${config.diffIds.length} diff_ids (rootfs.diff_ids: one per layer)`);
  }
}
