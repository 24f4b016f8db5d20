// The identity of a local image without unpacking it: its config digest (the
// image ID, which is what the root image cache is keyed on) and how to run
// it. Only the index, manifest and config are read (for an archive, its tar
// headers and those three members), never a layer, so a second run of the
// same image skips unpack and mkrootfs entirely.
//
// These are the unpack stage's own readers (same code, same answer), run in
// the coordinator: they parse JSON from the image, checked field by field,
// and touch no layer content. Anything unusual returns null and the run
// falls back to the sandboxed unpack stage, which reports real errors.
import { parseLocalImage } from "../../stages/unpack/local-image.js";
import { resolveImage } from "../../stages/unpack/image-source.js";
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform } from "../../stages/unpack/platform.js";
import type { RunConfig } from "../../stages/unpack/unpack.js";

export interface ImageIdentity {
  /** The config digest: config.json's `digest` after unpack. */
  digest: string;
  /** What unpack would write to config.json. */
  runConfig: RunConfig;
}

/** True when `image` names a file or directory on this host (else it is a registry reference). */
export function isLocalImage(image: string): boolean {
  return parseLocalImage(image) !== null;
}

/** The identity of a local image (request string as unpack takes it), or null when it cannot be read cheaply. */
export async function peekLocalImage(image: string): Promise<ImageIdentity | null> {
  try {
    const platform = parsePlatform(DEFAULT_PLATFORM);
    const resolved = await resolveImage({ image, out: "/nonexistent" }, platform);
    const c = resolved.config;
    return {
      digest: resolved.configDigest,
      runConfig: {
        digest: resolved.configDigest,
        ...(resolved.manifestDigest ? { manifestDigest: resolved.manifestDigest } : {}),
        env: c.env,
        workingDir: c.workingDir,
        entrypoint: c.entrypoint,
        cmd: c.cmd,
        user: c.user,
        platform: formatPlatform(platform),
      },
    };
  } catch {
    return null;
  }
}
