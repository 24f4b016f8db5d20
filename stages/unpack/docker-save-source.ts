// Resolves a `docker save` archive (tar or extracted directory) through its
// manifest.json. The legacy form names the config "<sha256 hex>.json" and
// stores uncompressed "<id>/layer.tar" files, which are checked against the
// config's diff_ids; Docker 25+ stores both under blobs/sha256/, named by
// digest, and adds an OCI index.json that this reader does not need.
// `docker save a b` lists several images: one is chosen by its RepoTags.

import { UnpackError } from "./image-root.js";
import { verifyBuffer } from "./digest.js";
import type { ImageFiles } from "./image-files.js";
import { parseJson } from "./manifests.js";
import { parseImageConfig } from "./image-config.js";
import type { Platform } from "./platform.js";
import type { ResolvedImage } from "./resolved-image.js";
import { checkDiffIdCount, checkPlatform } from "./image-checks.js";

/** The digest a docker-save path is named by, if it is named by one. */
function digestInName(path: string): string | null {
  const match = /(?:^|\/)(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(path);
  return match ? `sha256:${match[1]}` : null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Docker's short form of a name: "docker.io/library/x:1" and "x" are "x:1" and "x:latest". */
function familiarTag(name: string): string {
  let short = name.replace(/^(?:docker\.io|index\.docker\.io)\//, "").replace(/^library\//, "");
  if (short.lastIndexOf(":") <= short.lastIndexOf("/")) short += ":latest";
  return short;
}

function repoTags(entry: unknown): string[] {
  if (!isObject(entry) || !Array.isArray(entry.RepoTags)) return [];
  return entry.RepoTags.filter((t): t is string => typeof t === "string");
}

/**
 * The manifest.json entry to unpack: the one tagged `tag` (a RepoTag, as
 * `docker save` wrote it), or the only one when no tag is given.
 */
function selectEntry(doc: unknown[], tag: string | undefined, what: string, origin: string): unknown {
  const held = () => doc.map((e) => repoTags(e).join(", ") || "(untagged)").join("; ");
  if (tag === undefined) {
    if (doc.length > 1) throw new UnpackError(`${what} holds ${doc.length} images (${held()}); name one as docker-archive:${origin}:REPO:TAG`);
    return doc[0];
  }
  const wanted = familiarTag(tag);
  const chosen = doc.filter((e) => repoTags(e).some((t) => familiarTag(t) === wanted));
  if (chosen.length === 0) throw new UnpackError(`${what}: no image tagged ${JSON.stringify(tag)} (it holds: ${held()})`);
  if (chosen.length > 1) throw new UnpackError(`${what}: ${chosen.length} images are tagged ${JSON.stringify(tag)}`);
  return chosen[0];
}

/** `tag` picks one image of several by its RepoTags ("repo:tag"; no ":tag" means ":latest"). */
export async function resolveDockerSave(files: ImageFiles, platform: Platform, tag?: string): Promise<ResolvedImage> {
  const what = `${files.origin}: manifest.json`;
  const doc = parseJson(files.readSmall("manifest.json"), what);
  if (!Array.isArray(doc) || doc.length === 0) throw new UnpackError(`${what} lists no image`);
  const entry = selectEntry(doc, tag, what, files.origin);
  if (!isObject(entry) || typeof entry.Config !== "string" || !Array.isArray(entry.Layers) || entry.Layers.some((l) => typeof l !== "string")) {
    throw new UnpackError(`${what} entry needs "Config" and "Layers"`);
  }
  const layerPaths = entry.Layers as string[];

  const configPath = entry.Config;
  const configDigest = digestInName(configPath);
  if (!configDigest) throw new UnpackError(`${what}: config ${JSON.stringify(configPath)} is not named by its digest, so it cannot be verified`);
  if (!files.has(configPath)) throw new UnpackError(`${files.origin}: config ${configPath} is missing`);
  const configBytes = files.readSmall(configPath);
  verifyBuffer(configBytes, { digest: configDigest }, `${files.origin}: config ${configPath}`);
  const config = parseImageConfig(parseJson(configBytes, `config ${configDigest}`), `config ${configDigest}`);
  checkPlatform(config, platform, files.origin);
  checkDiffIdCount(config, layerPaths.length, `${what} lists ${layerPaths.length} layers`);

  return {
    configDigest,
    config,
    layers: layerPaths.map((path, i) => {
      if (!files.has(path)) throw new UnpackError(`${files.origin}: layer ${path} is missing`);
      // Blobs named by digest are checked against it; legacy layer.tar files against the diff_id.
      const named = /(?:^|\/)blobs\/sha256\/[a-f0-9]{64}$/.test(path) ? digestInName(path) : null;
      const expected = named ? { digest: named, size: files.size(path) } : { digest: config.diffIds[i] };
      return {
        what: `layer ${i + 1}/${layerPaths.length} ${path}`,
        expected,
        diffId: config.diffIds[i],
        open: async () => files.open(path),
      };
    }),
  };
}
