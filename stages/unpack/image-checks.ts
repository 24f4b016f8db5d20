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

/** Layer names and expectations from manifest descriptors, checked against the config's diff_ids. */
export function describeLayers(layers: Descriptor[], config: ImageConfig) {
  if (config.diffIds.length !== 0 && config.diffIds.length !== layers.length) {
    throw new UnpackError(`manifest has ${layers.length} layers but its config lists ${config.diffIds.length}`);
  }
  return layers.map((layer, i) => ({
    what: `layer ${i + 1}/${layers.length} ${layer.digest}`,
    expected: { digest: layer.digest, size: layer.size },
  }));
}
