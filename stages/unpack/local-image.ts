// Local image names: "[oci:|oci-archive:|docker-archive:]PATH[:NAME]". NAME
// picks one image of several: a ref name in an OCI layout ("DIR:REF", as
// skopeo and umoci write it), a RepoTag in a docker-save archive
// ("x.tar:repo:tag", as skopeo reads it). A NAME may hold colons and slashes
// ("x.tar:host:5000/repo:tag"), so the path is the shortest prefix, ending
// before a colon, that exists on disk.

import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const LOCAL_PREFIXES = ["oci:", "oci-archive:", "docker-archive:"] as const;

export interface LocalImage {
  /** The transport prefix given, or "" (the form is then found from the files). */
  prefix: (typeof LOCAL_PREFIXES)[number] | "";
  /** Absolute path of the layout or archive (it may not exist: the caller reports that). */
  path: string;
  /** The image named after the path, if any. */
  name?: string;
}

/** Where the path ends: the whole string if it exists, else the shortest existing prefix before a colon. */
function splitPath(rest: string): { path: string; name?: string } {
  if (existsSync(rest)) return { path: rest };
  for (let colon = rest.indexOf(":"); colon > 0; colon = rest.indexOf(":", colon + 1)) {
    if (existsSync(rest.slice(0, colon))) return { path: rest.slice(0, colon), name: rest.slice(colon + 1) };
  }
  return { path: rest };
}

/**
 * The local image `image` names, or null when it is not local (then it is a
 * registry reference). Local means: a transport prefix, a path starting with
 * "/" or ".", or a path (before any ":NAME") that exists.
 */
export function parseLocalImage(image: string): LocalImage | null {
  const prefix = LOCAL_PREFIXES.find((p) => image.startsWith(p)) ?? "";
  const rest = image.slice(prefix.length);
  const { path, name } = splitPath(rest);
  const local = prefix !== "" || rest.startsWith("/") || rest.startsWith(".") || existsSync(path);
  if (!local) return null;
  return { prefix, path: resolve(path), ...(name !== undefined ? { name } : {}) };
}

/** The request string for a parsed local image: its path made absolute, prefix and name kept. */
export function formatLocalImage(local: LocalImage): string {
  return `${local.prefix}${local.path}${local.name !== undefined ? `:${local.name}` : ""}`;
}
