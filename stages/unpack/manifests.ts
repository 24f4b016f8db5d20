// Walking from an image's top document (an index or a manifest) to the one
// manifest to unpack, and from there to its config and layer descriptors.
// Shared by OCI layouts and registries; docker-save's manifest.json is its
// own thing (docker-save-source.ts).

import { UnpackError } from "./image-root.js";
import { checkDigest } from "./digest.js";
import { INDEX_TYPES, MANIFEST_TYPES } from "../../lib/oci/media-types.js";
import { formatPlatform, platformMatches, type Platform } from "./platform.js";

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: Partial<Platform>;
  annotations?: Record<string, string>;
}

export interface Manifest {
  config: Descriptor;
  layers: Descriptor[];
}

/** Fetches a JSON document by descriptor, digest and size already verified. */
export type DocumentFetcher = (desc: Descriptor, what: string) => Promise<Buffer>;

const MAX_NESTING = 4;

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new UnpackError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function parseDescriptor(raw: unknown, what: string): Descriptor {
  if (!isObject(raw)) throw new UnpackError(`${what} is not a descriptor object`);
  const digest = checkDigest(raw.digest, what);
  if (!Number.isSafeInteger(raw.size) || (raw.size as number) < 0) throw new UnpackError(`${what} has no valid size`);
  return {
    digest,
    size: raw.size as number,
    mediaType: typeof raw.mediaType === "string" ? raw.mediaType : undefined,
    platform: isObject(raw.platform) ? (raw.platform as Partial<Platform>) : undefined,
    annotations: isObject(raw.annotations) ? (raw.annotations as Record<string, string>) : undefined,
  };
}

/** An index document's entries. */
export function indexEntries(doc: unknown, what: string): Descriptor[] {
  if (!isObject(doc) || !Array.isArray(doc.manifests)) throw new UnpackError(`${what} has no "manifests" list`);
  return doc.manifests.map((m, i) => parseDescriptor(m, `${what} entry ${i}`));
}

function isIndex(doc: unknown, mediaType: string | undefined): boolean {
  if (mediaType && INDEX_TYPES.includes(mediaType)) return true;
  if (mediaType && MANIFEST_TYPES.includes(mediaType)) return false;
  return isObject(doc) && Array.isArray(doc.manifests);
}

/** Picks the entry for the platform; a lone entry without a platform is taken as is. */
export function pickEntry(entries: Descriptor[], platform: Platform, what: string): Descriptor {
  const matching = entries.filter((e) => platformMatches(e.platform, platform));
  if (matching.length > 0) return matching[0];
  const unlabeled = entries.filter((e) => !e.platform);
  if (unlabeled.length === 1 && entries.length === 1) return unlabeled[0];
  if (entries.length === 1 && entries[0].mediaType && INDEX_TYPES.includes(entries[0].mediaType)) return entries[0];
  const offered = entries.map((e) => (e.platform ? formatPlatform(e.platform as Platform) : "unlabeled")).join(", ");
  throw new UnpackError(`${what} has no image for ${formatPlatform(platform)} (it offers: ${offered || "nothing"})`);
}

export function parseManifest(doc: unknown, what: string): Manifest {
  if (!isObject(doc) || !Array.isArray(doc.layers)) throw new UnpackError(`${what} is not an image manifest (no "layers")`);
  return {
    config: parseDescriptor(doc.config, `${what} config`),
    layers: doc.layers.map((l, i) => parseDescriptor(l, `${what} layer ${i + 1}`)),
  };
}

/**
 * From a top document (and its media type, if known) down nested indexes to
 * a manifest for the platform. Returns the manifest and its digest.
 */
export async function resolveManifest(
  top: { doc: unknown; mediaType?: string; digest?: string; what: string },
  fetch: DocumentFetcher,
  platform: Platform,
): Promise<{ manifest: Manifest; digest?: string }> {
  let current = top;
  for (let depth = 0; depth <= MAX_NESTING; depth++) {
    if (!isIndex(current.doc, current.mediaType)) {
      return { manifest: parseManifest(current.doc, current.what), digest: current.digest };
    }
    const entry = pickEntry(indexEntries(current.doc, current.what), platform, current.what);
    const what = `manifest ${entry.digest}`;
    const bytes = await fetch(entry, what);
    current = { doc: parseJson(bytes, what), mediaType: entry.mediaType, digest: entry.digest, what };
  }
  throw new UnpackError(`${top.what}: indexes nested more than ${MAX_NESTING} deep`);
}
