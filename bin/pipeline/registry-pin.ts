// A registry image pinned to a digest: `host/repo@sha256:…`, the name its
// root image is cached under. A reference by digest is pinned already (no
// stage, no network); a tag is pinned to the digest it names now by the
// unpack stage with `resolveOnly`, which fetches and hashes only the top
// manifest. So a run of a cached registry image fetches no layer, and the
// unpack that builds one is given the pinned reference: it checks the
// manifest against that digest before it reads a layer.
import { PipelineError } from "./errors.js";
import { parseReference, formatReference, type Reference } from "../../stages/unpack/reference.js";
import { parseResolveResult } from "../../stages/unpack/result.js";
import type { ResolveResult } from "../../stages/unpack/resolve-digest.js";
import type { ImageRequest, ResolveRequest } from "../../stages/unpack/request.js";
import { runStage, type StageHooks } from "./stage-runner.js";

export interface PinnedImage {
  /** `host/repo@digest`: what unpack is given, and who vouches for the cached tree. */
  reference: string;
  /** The manifest's (or index's) digest. */
  digest: string;
}

/** The reference without its tag, at `digest` (one a reference may hold: sha256 or sha512). */
export function pinnedReference(ref: Reference, digest: string): PinnedImage {
  const reference = formatReference({ registry: ref.registry, repository: ref.repository, digest });
  parseReference(reference);
  return { reference, digest };
}

/**
 * Pins `access.image` (a registry reference, with the registry options and
 * credentials of the unpack request to come). `readOnly`: the files the
 * stage must read (a CA file).
 */
export async function pinRegistryImage(access: ImageRequest, readOnly: string[], hooks: StageHooks): Promise<PinnedImage> {
  let ref: Reference;
  try {
    ref = parseReference(access.image.startsWith("docker://") ? access.image.slice("docker://".length) : access.image);
  } catch (err) {
    throw new PipelineError(`unpack: ${(err as Error).message}`);
  }
  if (ref.digest) return pinnedReference(ref, ref.digest);
  const request: ResolveRequest = { ...access, resolveOnly: true };
  const { digest } = await runStage<ResolveResult>("unpack", request, { readOnly, network: true }, hooks, parseResolveResult);
  try {
    return pinnedReference(ref, digest);
  } catch (err) {
    throw new PipelineError(`unpack: invalid result: ${(err as Error).message}`);
  }
}
