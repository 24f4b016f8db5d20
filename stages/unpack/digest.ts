// Content digests ("sha256:<hex>") and the stream check that every blob is
// exactly the bytes its descriptor promises.

import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { UnpackError } from "./image-root.js";

export const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** Checks a digest's form before it is used in a file path or URL. */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest !== "string" || !DIGEST.test(digest)) {
    throw new UnpackError(`${what}: ${JSON.stringify(digest)} is not a valid sha256/sha512 digest`);
  }
  return digest;
}

export function digestOf(data: Uint8Array, algorithm = "sha256"): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

export function verifyBuffer(data: Uint8Array, expected: { digest: string; size?: number }, what: string): void {
  if (expected.size !== undefined && data.length !== expected.size) {
    throw new UnpackError(`${what}: size is ${data.length} bytes, its descriptor says ${expected.size}`);
  }
  const actual = digestOf(data, expected.digest.split(":")[0]);
  if (actual !== expected.digest) throw new UnpackError(`${what}: digest mismatch: expected ${expected.digest}, got ${actual}`);
}

/**
 * Passes bytes through while hashing and counting them; fails as soon as the
 * blob grows past its size, and at the end if size or digest differ.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private seen = 0;
  /** Settles once the whole blob went by: resolves if it matched, rejects if not. */
  readonly verified: Promise<void>;
  private settle!: (err?: Error) => void;

  constructor(private readonly expected: { digest: string; size?: number }, private readonly what: string) {
    super({ highWaterMark: 1 << 20 });
    this.hash = createHash(expected.digest.split(":")[0]);
    this.verified = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    this.verified.catch(() => {});
    this.on("error", (err) => this.settle(err));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.expected.size !== undefined && this.seen > this.expected.size) {
      done(new UnpackError(`${this.what}: blob is larger than the ${this.expected.size} bytes its descriptor says`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    this.settle(err ?? new UnpackError(`${this.what}: reading the blob was stopped`));
    done(err);
  }

  override _flush(done: TransformCallback): void {
    if (this.expected.size !== undefined && this.seen !== this.expected.size) {
      done(new UnpackError(`${this.what}: blob is truncated: ${this.seen} of ${this.expected.size} bytes`));
      return;
    }
    const actual = `${this.expected.digest.split(":")[0]}:${this.hash.digest("hex")}`;
    if (actual !== this.expected.digest) {
      done(new UnpackError(`${this.what}: digest mismatch: expected ${this.expected.digest}, got ${actual}`));
      return;
    }
    this.settle();
    done();
  }
}

/** Hashes a layer's decompressed tar as it goes by; check() compares it with the config's diff_id. */
export class DiffIdCheck {
  private readonly hash: Hash;

  constructor(private readonly diffId: string, private readonly what: string) {
    this.hash = createHash(diffId.split(":")[0]);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
  }

  check(): void {
    const actual = `${this.diffId.split(":")[0]}:${this.hash.digest("hex")}`;
    if (actual !== this.diffId) throw new UnpackError(`${this.what}: its content does not match the config's diff_id: expected ${this.diffId}, got ${actual}`);
  }
}
