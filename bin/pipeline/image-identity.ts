// The identity of a local image without unpacking it: its config digest (the
// image ID, which is what the root image cache is keyed on) and how to run
// it. Only the index, manifest and config are read (for an archive, its tar
// headers and those three members), never a layer, so a second run of the
// same image skips unpack and mkrootfs entirely.
//
// These are the unpack stage's own readers (same code, same answer), run in
// the coordinator: they parse JSON from the image, checked field by field,
// and never parse layer content. Anything unusual returns null and the run
// falls back to the sandboxed unpack stage, which reports real errors.
//
// The layers are only hashed, never decompressed or parsed (verifyLayers):
// on a cache miss, so that the root image unpack builds can be cached under
// layer digests the coordinator checked itself (lib/rootfs-cache/cache.ts).
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseLocalImage } from "../../stages/unpack/local-image.js";
import { VerifyingStream } from "../../stages/unpack/digest.js";
import { resolveImage } from "../../stages/unpack/image-source.js";
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform } from "../../stages/unpack/platform.js";
import type { RunConfig } from "../../stages/unpack/unpack.js";

export interface ImageIdentity {
  /** The config digest: config.json's `digest` after unpack. */
  digest: string;
  /** What unpack would write to config.json. */
  runConfig: RunConfig;
  /** Each layer blob's digest as the manifest names it (the diff_id for a legacy docker-save layer), in order. */
  layerDigests: string[];
  /** Hashes every layer blob against layerDigests; rejects naming the first that differs. */
  verifyLayers(signal?: AbortSignal): Promise<void>;
}

/** True when `image` names a file or directory on this host (else it is a registry reference). */
export function isLocalImage(image: string): boolean {
  return parseLocalImage(image) !== null;
}

/** The identity of a local image (request string as unpack takes it), or null when it cannot be read cheaply. */
export async function peekLocalImage(image: string): Promise<ImageIdentity | null> {
  try {
    const platform = parsePlatform(DEFAULT_PLATFORM);
    const resolved = await resolveImage({ image }, platform);
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
      layerDigests: resolved.layers.map((layer) => layer.expected.digest),
      async verifyLayers(signal?: AbortSignal): Promise<void> {
        for (const layer of resolved.layers) {
          const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
          await pipeline(await layer.open(), new VerifyingStream(layer.expected, layer.what), discard, ...(signal ? [{ signal }] : []));
        }
      },
    };
  } catch {
    return null;
  }
}
