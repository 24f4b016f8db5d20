// Layer decompression chosen by the stream's first bytes (media types lie,
// and docker-save layers carry none): gzip via Node's zlib, zstd via the
// `zstd` CLI (Node 20's zlib has no zstd), anything else is a plain tar.

import { spawn } from "node:child_process";
import { createGunzip } from "node:zlib";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { UnpackError } from "./image-root.js";

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(buf: Buffer, magic: number[]): boolean {
  return magic.every((byte, i) => buf[i] === byte);
}

/** Peeks at the first bytes, then returns the stream's decompressed bytes. */
export async function* decompressed(source: Readable, what: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  while (head.length < 4) {
    const next = await iterator.next();
    if (next.done) break;
    head = Buffer.concat([head, next.value as Buffer]);
  }
  const rest = Readable.from((async function* () {
    yield head;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value as Buffer;
    }
  })(), { objectMode: false });

  if (startsWith(head, GZIP_MAGIC)) {
    const gunzip = createGunzip({ chunkSize: 256 * 1024 });
    let failure: unknown;
    const feeding = pipeline(rest, gunzip, { signal }).catch((err) => (failure ??= err));
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } catch (err) {
      failure ??= err;
    }
    await feeding;
    if (failure) throw asLayerError(failure, what, "gzip");
    return;
  }
  if (startsWith(head, ZSTD_MAGIC)) {
    yield* zstdDecompressed(rest, what, signal);
    return;
  }
  for await (const chunk of rest) yield chunk as Buffer;
}

async function* zstdDecompressed(source: Readable, what: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const child = spawn("zstd", ["-d", "-q", "-c", "--no-progress"], { stdio: ["pipe", "pipe", "pipe"], signal });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", (err) =>
      reject(new UnpackError(`${what}: zstd layers need the zstd command (Debian package zstd): ${err.message}`)));
    child.on("close", (code) => resolve(code));
  });
  exited.catch(() => {});
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  let failure: unknown;
  // The input failing (digest mismatch, read error) must fail the layer.
  const feeding = pipeline(source, child.stdin).catch((err) => {
    failure ??= err;
    out.destroy(err);
  });
  child.stdout.pipe(out);
  try {
    try {
      for await (const chunk of out) yield chunk as Buffer;
    } catch (err) {
      failure ??= err;
    }
    await feeding;
    if (failure) throw asLayerError(failure, what, "zstd");
    const code = await exited;
    if (code !== 0) throw new UnpackError(`${what}: bad zstd data: ${stderr.trim() || `zstd exited with ${code}`}`);
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

/** Errors of our own (digest checks) pass unchanged; a decompressor's own error says which. */
function asLayerError(err: unknown, what: string, format: string): Error {
  if (err instanceof UnpackError) return err;
  return new UnpackError(`${what}: bad ${format} data: ${err instanceof Error ? err.message : String(err)}`);
}
