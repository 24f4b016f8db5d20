// The unpack stage: image (layout, archive, docker-save, registry) → an
// unpacked image directory (docs/architecture.md, "unpack → mkrootfs"):
//   OUT/rootfs/          the flattened tree, without owners
//   OUT/metadata.jsonl   owners, xattrs, device nodes, FIFOs
//   OUT/config.json      how to run it
// Everything streams: blob → digest check → decompression → tar parser →
// files on disk; no layer is ever held in memory.

import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { StageContext } from "../../lib/ipc/stage.js";
import { UnpackError } from "./image-root.js";
import { DiffIdCheck, VerifyingStream } from "./digest.js";
import { decompressed } from "./decompress.js";
import { LayerApplier } from "./layer-applier.js";
import { TarReader } from "./tar-reader.js";
import { resolveImage } from "./image-source.js";
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform } from "./platform.js";
import type { LayerBlob, ResolvedImage } from "./resolved-image.js";
import type { UnpackRequest } from "./request.js";
import { makeDirectory } from "../../lib/fs/make-directory.js";

export interface UnpackResult {
  rootfs: string;
  metadata: string;
  config: string;
  /** The image's config digest (its image ID), as in config.json. */
  digest: string;
  manifestDigest?: string;
  layers: number;
  /** Regular files written (across layers, counting overwritten ones). */
  files: number;
  /** Bytes of file content written. */
  bytes: number;
}

export interface RunConfig {
  digest: string;
  manifestDigest?: string;
  env: string[];
  workingDir: string;
  entrypoint: string[] | null;
  cmd: string[] | null;
  user: string;
  platform: string;
}

type Context = Partial<Pick<StageContext, "progress" | "log" | "event" | "signal">>;

/** Runs a step of the tar parser: its format errors get the layer's name (the applier's errors have it already). */
function inLayer(what: string, step: () => void): void {
  try {
    step();
  } catch (err) {
    if (err instanceof UnpackError) throw err;
    throw new UnpackError(`${what}: ${(err as Error).message}`);
  }
}

async function applyLayer(applier: LayerApplier, layer: LayerBlob, signal?: AbortSignal): Promise<void> {
  const raw = await layer.open();
  const verifier = new VerifyingStream(layer.expected, layer.what);
  raw.on("error", (err) => verifier.destroy(err));
  raw.pipe(verifier);
  const reader = new TarReader((member) => applier.member(member));
  // A docker-save layer.tar is checked against its diff_id as a blob already:
  // the config vouches for those bytes, so a second hash of them is waste.
  const content = layer.expected.digest === layer.diffId ? null : new DiffIdCheck(layer.diffId, layer.what);
  applier.beginLayer(layer.what);
  try {
    for await (const chunk of decompressed(verifier, layer.what, signal)) {
      if (signal?.aborted) throw signal.reason ?? new UnpackError("unpack aborted");
      content?.update(chunk);
      inLayer(layer.what, () => reader.push(chunk));
    }
    inLayer(layer.what, () => reader.end());
    await verifier.verified;
    content?.check();
  } finally {
    applier.closeOpenFile();
    raw.destroy();
    verifier.destroy();
  }
}

function runConfig(image: ResolvedImage, platform: string): RunConfig {
  const c = image.config;
  return {
    digest: image.configDigest,
    ...(image.manifestDigest ? { manifestDigest: image.manifestDigest } : {}),
    env: c.env,
    workingDir: c.workingDir,
    entrypoint: c.entrypoint,
    cmd: c.cmd,
    user: c.user,
    platform,
  };
}

/** Makes OUT, which must not exist or be empty; returns how to undo it. */
function prepareOut(out: string): () => void {
  if (existsSync(out)) {
    if (readdirSync(out).length > 0) throw new UnpackError(`output ${out} exists and is not empty`);
    return () => {
      for (const name of readdirSync(out)) rmSync(join(out, name), { recursive: true, force: true });
    };
  }
  makeDirectory(out);
  return () => rmSync(out, { recursive: true, force: true });
}

export async function unpack(req: UnpackRequest, ctx: Context = {}): Promise<UnpackResult> {
  const out = resolve(req.out);
  const platform = parsePlatform(req.platform ?? DEFAULT_PLATFORM);
  const progress = ctx.progress ?? (() => {});
  progress(null, `resolving ${req.image}`);
  const image = await resolveImage(req, platform, {
    signal: ctx.signal,
    onRetry: (message) => ctx.log?.("warn", message),
    // Told before any layer is read: the coordinator keys the root image by it (bin/pipeline/registry-pin.ts).
    onResolved: (digest) => ctx.event?.("resolved", { digest }),
  });

  const undo = prepareOut(out);
  try {
    const rootfs = join(out, "rootfs");
    mkdirSync(rootfs, 0o755);
    const applier = new LayerApplier(rootfs);
    const total = image.layers.length;
    for (const [i, layer] of image.layers.entries()) {
      progress(i / total, `unpacking ${layer.what}`);
      ctx.signal?.throwIfAborted();
      await applyLayer(applier, layer, ctx.signal);
    }
    applier.finish();
    const metadata = join(out, "metadata.jsonl");
    await applier.metadata.writeJsonl(metadata);
    const config = join(out, "config.json");
    writeFileSync(config, JSON.stringify(runConfig(image, formatPlatform(platform)), null, 2) + "\n");
    progress(1, `unpacked ${total} layers, ${applier.files} files`);
    ctx.log?.("info", `unpacked ${req.image}: ${total} layers, ${applier.files} files, ${applier.bytes} bytes`);
    return {
      rootfs,
      metadata,
      config,
      digest: image.configDigest,
      ...(image.manifestDigest ? { manifestDigest: image.manifestDigest } : {}),
      layers: total,
      files: applier.files,
      bytes: applier.bytes,
    };
  } catch (err) {
    undo();
    // After an abort, streams fail with assorted errors: report the abort itself.
    if (ctx.signal?.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new UnpackError("unpack aborted");
    throw err;
  }
}
