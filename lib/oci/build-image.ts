// Builds OCI images without Docker, from a declarative ImageDescription, and
// writes them in the four forms the unpack stage reads: an OCI layout
// directory, an OCI archive, and a `docker save` archive as a tar or as the
// extracted directory (legacy form, or the newer form with an OCI index.json).

import { createReadStream, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import { writeDigested, type Digested } from "./blob-file.js";
import { busyboxBaseEntries } from "./busybox-base.js";
import { compressStream } from "./compress.js";
import type { ImageDescription, LayerDescription } from "./description.js";
import { layerTar } from "./layer-tar.js";
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, layerMediaType, type Compression } from "./media-types.js";
import { tarDirectory } from "./tar-directory.js";
import { makeDirectory } from "../fs/make-directory.js";

export type ImageFormat = "oci-dir" | "oci-archive" | "docker-archive" | "docker-dir";

export interface BuildOptions {
  format: ImageFormat;
  /** Directory (oci-dir, docker-dir) or file (oci-archive, docker-archive) to create; must not exist. */
  out: string;
  /** Reference name recorded in the index / docker manifest. Default "test:latest". */
  tag?: string;
  /** docker formats: also write the OCI index.json and oci-layout that Docker 25+ adds (blobs under blobs/sha256/). */
  dockerOciIndex?: boolean;
  /** Stops the build (Ctrl-C): it rejects with the signal's reason and leaves nothing behind. */
  signal?: AbortSignal;
}

export interface BuiltLayer extends Digested {
  mediaType: string;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids). */
  diffId: string;
}

export interface BuiltImage {
  manifest: Digested;
  config: Digested;
  layers: BuiltLayer[];
  platform: { os: string; architecture: string; variant?: string };
}

export interface BuildResult {
  /** The digest a user would pull: the index's when several platforms were built, else the manifest's. */
  digest: string;
  images: BuiltImage[];
  index?: Digested;
}

const CREATED = "2023-11-14T22:13:20Z";

class BlobStore {
  readonly dir: string;
  /** Every blob write goes through the store, so this is where a build is stopped. */
  constructor(layoutDir: string, readonly signal?: AbortSignal) {
    this.dir = join(layoutDir, "blobs", "sha256");
    makeDirectory(this.dir);
  }
  path(digest: string): string {
    return join(this.dir, digest.slice("sha256:".length));
  }
  putJson(value: unknown): Digested {
    const data = Buffer.from(JSON.stringify(value));
    const digest = "sha256:" + createHash("sha256").update(data).digest("hex");
    writeFileSync(this.path(digest), data);
    return { digest, size: data.length };
  }
  /** Moves a finished temp file in under its digest. */
  adopt(file: string, digested: Digested): void {
    renameSync(file, this.path(digested.digest));
  }
}

async function writeLayer(store: BlobStore, layer: LayerDescription, compression: Compression): Promise<BuiltLayer> {
  const rawFile = join(store.dir, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  if (layer.tarFile !== undefined && layer.entries !== undefined) throw new Error("oci builder: a layer has either entries or tarFile");
  const source = layer.tarFile !== undefined ? createReadStream(layer.tarFile) : Readable.from(layerTar(layer.entries ?? []));
  const raw = await writeDigested(source, rawFile, store.signal); // an aborted signal rejects at once and destroys the source
  if (compression === "none") {
    store.adopt(rawFile, raw);
    return { ...raw, mediaType: OCI_LAYER, diffId: raw.digest };
  }
  const packedFile = rawFile + ".packed";
  const packed = await writeDigested(compressStream(createReadStream(rawFile), compression), packedFile, store.signal);
  rmSync(rawFile);
  store.adopt(packedFile, packed);
  return { ...packed, mediaType: layerMediaType(compression), diffId: raw.digest };
}

function allLayers(desc: ImageDescription): LayerDescription[] {
  const layers = [...(desc.layers ?? [])];
  if ((desc.base ?? "busybox") === "busybox") {
    layers.unshift({ compression: desc.baseCompression ?? "gzip", entries: busyboxBaseEntries() });
  }
  return layers;
}

async function writeImage(store: BlobStore, desc: ImageDescription, forceUncompressed: boolean): Promise<BuiltImage> {
  const platform = desc.platform ?? { os: "linux", architecture: "amd64" };
  const layers: BuiltLayer[] = [];
  for (const layer of allLayers(desc)) {
    layers.push(await writeLayer(store, layer, forceUncompressed ? "none" : (layer.compression ?? "gzip")));
  }
  const c = desc.config ?? {};
  const config = store.putJson({
    created: CREATED,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: {
      Env: c.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(c.workingDir !== undefined ? { WorkingDir: c.workingDir } : {}),
      ...(c.entrypoint !== undefined ? { Entrypoint: c.entrypoint } : {}),
      ...(c.cmd !== undefined ? { Cmd: c.cmd } : {}),
      ...(c.user !== undefined ? { User: c.user } : {}),
      ...(c.labels !== undefined ? { Labels: c.labels } : {}),
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: CREATED, created_by: "bencher-run oci builder" })),
  });
  const manifest = store.putJson({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
  return { manifest, config, layers, platform };
}

function refAnnotations(tag: string) {
  return { "org.opencontainers.image.ref.name": tag.includes(":") ? tag.slice(tag.lastIndexOf(":") + 1) : tag };
}

function writeLayoutFiles(layoutDir: string, topEntry: object): void {
  writeFileSync(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(layoutDir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [topEntry] }));
}

async function writeOciLayout(layoutDir: string, descs: ImageDescription[], tag: string, signal?: AbortSignal): Promise<BuildResult> {
  const store = new BlobStore(layoutDir, signal);
  const images: BuiltImage[] = [];
  for (const desc of descs) images.push(await writeImage(store, desc, false));
  if (images.length === 1) {
    const [image] = images;
    writeLayoutFiles(layoutDir, { mediaType: OCI_MANIFEST, ...image.manifest, platform: image.platform, annotations: refAnnotations(tag) });
    return { digest: image.manifest.digest, images };
  }
  // Several platforms: index.json points at an image index, as `skopeo copy --all` writes it.
  const index = store.putJson({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: images.map((i) => ({ mediaType: OCI_MANIFEST, ...i.manifest, platform: i.platform })),
  });
  writeLayoutFiles(layoutDir, { mediaType: OCI_INDEX, ...index, annotations: refAnnotations(tag) });
  return { digest: index.digest, images, index };
}

async function writeDockerSave(dir: string, desc: ImageDescription, tag: string, ociIndex: boolean, signal?: AbortSignal): Promise<BuildResult> {
  const repoTag = tag.includes(":") ? tag : `${tag}:latest`;
  const [repo, tagName] = [repoTag.slice(0, repoTag.lastIndexOf(":")), repoTag.slice(repoTag.lastIndexOf(":") + 1)];
  const store = new BlobStore(dir, signal);
  const image = await writeImage(store, desc, true);
  const hex = (d: string) => d.slice("sha256:".length);
  let configPath: string;
  let layerPaths: string[];
  if (ociIndex) {
    // Docker 25+: the blobs stay where the OCI layout has them.
    configPath = `blobs/sha256/${hex(image.config.digest)}`;
    layerPaths = image.layers.map((l) => `blobs/sha256/${hex(l.digest)}`);
    writeLayoutFiles(dir, {
      mediaType: OCI_MANIFEST,
      ...image.manifest,
      annotations: { "io.containerd.image.name": `docker.io/library/${repoTag}`, ...refAnnotations(tagName) },
    });
  } else {
    // The legacy form: <config hex>.json and one <id>/layer.tar per layer.
    configPath = `${hex(image.config.digest)}.json`;
    renameSync(store.path(image.config.digest), join(dir, configPath));
    layerPaths = [];
    for (const layer of image.layers) {
      const id = hex(layer.diffId);
      // A layer the image repeats is one blob: moved once, listed each time (its directory is named by its content).
      if (!layerPaths.includes(`${id}/layer.tar`)) {
        makeDirectory(join(dir, id));
        renameSync(store.path(layer.digest), join(dir, id, "layer.tar"));
        writeFileSync(join(dir, id, "VERSION"), "1.0");
      }
      layerPaths.push(`${id}/layer.tar`);
    }
    rmSync(join(dir, "blobs"), { recursive: true });
  }
  writeFileSync(join(dir, "manifest.json"), JSON.stringify([{ Config: configPath, RepoTags: [repoTag], Layers: layerPaths }]));
  writeFileSync(join(dir, "repositories"), JSON.stringify({ [repo]: { [tagName]: hex(image.layers.at(-1)?.diffId ?? image.config.digest) } }));
  return { digest: image.manifest.digest, images: [image] };
}

/**
 * Builds one image, or a multi-platform index when given several descriptions
 * (OCI formats only). Layers are written streaming, never held in memory.
 */
export async function buildImage(desc: ImageDescription | ImageDescription[], options: BuildOptions): Promise<BuildResult> {
  const descs = Array.isArray(desc) ? desc : [desc];
  if (descs.length === 0) throw new Error("oci builder: no image description given");
  const out = resolve(options.out);
  if (existsSync(out)) throw new Error(`oci builder: output ${out} already exists`);
  const tag = options.tag ?? "test:latest";
  const isDocker = options.format === "docker-archive" || options.format === "docker-dir";
  if (isDocker && descs.length > 1) throw new Error("oci builder: a docker-save archive holds one platform only");

  const isArchive = options.format === "oci-archive" || options.format === "docker-archive";
  const dir = isArchive ? mkdtempSync(join(tmpdir(), "oci-build-")) : out;
  if (!isArchive) makeDirectory(dir);
  try {
    const result = isDocker
      ? await writeDockerSave(dir, descs[0], tag, options.dockerOciIndex ?? false, options.signal)
      : await writeOciLayout(dir, descs, tag, options.signal);
    if (isArchive) {
      makeDirectory(dirname(out));
      await tarDirectory(dir, out, options.signal);
    }
    return result;
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  } finally {
    if (isArchive) rmSync(dir, { recursive: true, force: true });
  }
}
