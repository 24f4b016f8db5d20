// Registry references: host[:port]/name[:tag|@sha256:…]. The host part is
// required (no implicit Docker Hub): bencher-run pulls from where it is told.

import { UnpackError } from "./image-root.js";
import { checkDigest } from "./digest.js";

export interface Reference {
  /** "host" or "host:port". */
  registry: string;
  /** Repository name, e.g. "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

/** Parses `host[:port]/name[:tag|@digest]`, optionally written `docker://…` (as skopeo takes it). */
export function parseReference(text: string): Reference {
  const bad = (why: string) => new UnpackError(`image reference ${JSON.stringify(text)}: ${why}`);
  let rest = text.startsWith("docker://") ? text.slice("docker://".length) : text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    try {
      checkDigest(digest, "digest");
    } catch {
      throw bad(`${JSON.stringify(digest)} is not a sha256/sha512 digest`);
    }
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf("/");
  if (slash < 0) throw bad("expected host[:port]/name[:tag|@digest] (or a path to a local image that exists)");
  const registry = rest.slice(0, slash);
  let name = rest.slice(slash + 1);
  if (!HOST.test(registry)) throw bad(`${JSON.stringify(registry)} is not a registry host`);
  const port = /:([0-9]+)$/.exec(registry)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(`port ${port} is out of range (1 to 65535)`);
  // Docker's rule for telling a host from a path's first directory: a mistyped
  // local path (results/x.oci) is named as such, not looked up on the network.
  if (!/[.:]/.test(registry) && registry.toLowerCase() !== "localhost") {
    throw bad(`no such local file or directory, and ${JSON.stringify(registry)} is not a registry host (a host has a "." or a ":port", or is localhost)`);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(":");
  if (colon >= 0) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`${JSON.stringify(tag)} is not a valid tag`);
  }
  if (name === "" || name.split("/").some((c) => !NAME_COMPONENT.test(c))) throw bad(`${JSON.stringify(name)} is not a valid repository name`);
  if (!tag && !digest) tag = "latest";
  return { registry, repository: name, tag, digest };
}

export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}
