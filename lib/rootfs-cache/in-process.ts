// The cache and the mkrootfs stage function in one process, without the
// sandbox: for callers that trust the unpacked directory (benchmarks, tests,
// an embedder that made it itself). The pipeline and the CLI run the stage
// sandboxed instead. The digest is the one the directory's config.json
// names, so the caller says who vouches for it (`origin`).
import { openUnpackedImage } from "../../stages/mkrootfs/input.js";
import { mkrootfs } from "../../stages/mkrootfs/mkrootfs.js";
import type { RootfsType } from "../../stages/mkrootfs/request.js";
import type { DigestOrigin } from "./cache.js";
import { cachedRootImage, type CachedRootImage } from "./cached-build.js";

export interface InProcessBuild {
  fs?: RootfsType;
  diskMiB?: number | undefined;
  origin: DigestOrigin;
}

/** The cached image for the unpacked directory `input`, built by the stage function into `staging` on a miss. */
export function cachedRootImageInProcess(input: string, staging: string, options: InProcessBuild): Promise<CachedRootImage> {
  const fs = options.fs ?? "ext4";
  const { digest, platform } = openUnpackedImage(input);
  return cachedRootImage({ digest, origin: options.origin, fs, diskMiB: options.diskMiB, platform }, staging, (out) =>
    mkrootfs({ input, out, fs, ...(options.diskMiB !== undefined ? { diskMiB: options.diskMiB } : {}) }),
  );
}
