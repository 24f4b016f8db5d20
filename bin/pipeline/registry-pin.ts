// A registry image pinned to a digest: `host/name@sha256:…`, the name its
// root image is cached under. A reference by digest is pinned as given. For
// a tag, unpack tells the digest the tag names now (its `resolved` event) as
// soon as it has fetched and hashed the manifest, before it reads anything
// else; the first such event pins the reference, and nothing unpack says
// later can change it. So a cached image is found before any layer is
// fetched (the stage is stopped then), and an unpack compromised by an
// image's layers can spoil only the entry of the pinned reference it was
// unpacking.
import { PipelineError } from "./errors.js";
import { parseReference, formatReference, type Reference } from "../../stages/unpack/reference.js";
import { parseResolvedEvent } from "../../stages/unpack/result.js";
import { describeError } from "../../lib/ipc/errors.js";

export interface PinnedImage {
  /** `host/name@digest`: who vouches for the cached tree. */
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

/** Follows one unpack of a registry image to the digest it is pinned to. */
export class RegistryPin {
  readonly ref: Reference;
  /** Set from the start for a reference by digest, else by unpack's first `resolved` event. */
  pinned: PinnedImage | null;
  /** What was wrong with the stage's events: the run fails with it. */
  problem: string | null = null;
  private told = false;

  constructor(image: string) {
    try {
      this.ref = parseReference(image);
    } catch (err) {
      throw new PipelineError(`unpack: ${(err as Error).message}`);
    }
    this.pinned = this.ref.digest ? pinnedReference(this.ref, this.ref.digest) : null;
  }

  /**
   * Takes the body of a `resolved` event. Returns the image it pinned (a tag
   * newly pinned), or null; a problem (a second event, a bad digest, another
   * digest than the reference's own) is kept for `checked()`.
   */
  resolved(body: unknown): PinnedImage | null {
    if (this.problem) return null;
    if (this.told) {
      this.problem = "it told the digest the reference names twice";
      return null;
    }
    this.told = true;
    let pinned: PinnedImage;
    try {
      pinned = pinnedReference(this.ref, parseResolvedEvent(body).digest);
    } catch (err) {
      this.problem = describeError(err);
      return null;
    }
    if (this.pinned) {
      if (pinned.digest !== this.pinned.digest) this.problem = `it resolved ${this.pinned.reference} to ${pinned.digest}`;
      return null;
    }
    this.pinned = pinned;
    return pinned;
  }

  /** The pinned image once unpack has succeeded: it must have told the digest, once, before its result. */
  checked(): PinnedImage {
    if (this.problem) throw this.problemError();
    if (!this.told || !this.pinned) throw new PipelineError("unpack: invalid result: it did not tell the digest the reference names before unpacking it");
    return this.pinned;
  }

  problemError(): PipelineError {
    return new PipelineError(`unpack: invalid result: ${this.problem}`);
  }
}
