// Writing a stream to a file while computing its sha256 digest and size.

import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface Digested {
  /** "sha256:<hex>" */
  digest: string;
  size: number;
}

/** A pass-through stream that remembers the digest and size of what went by. */
export class DigestingStream extends Transform {
  private readonly hash = createHash("sha256");
  size = 0;

  override _transform(chunk: Buffer, _encoding: string, done: (err?: Error | null, data?: Buffer) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }

  result(): Digested {
    return { digest: "sha256:" + this.hash.digest("hex"), size: this.size };
  }
}

export async function writeDigested(source: Readable | AsyncIterable<Buffer>, file: string, signal?: AbortSignal): Promise<Digested> {
  const digesting = new DigestingStream();
  await pipeline(source, digesting, createWriteStream(file), { signal });
  return digesting.result();
}
