// Compressing a layer stream with gzip (Node's zlib) or zstd (the `zstd` CLI:
// Node 20's zlib has no zstd).

import { spawn } from "node:child_process";
import { createGzip } from "node:zlib";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Compression } from "./media-types.js";

export function compressStream(source: Readable, compression: Compression): Readable {
  if (compression === "none") return source;
  if (compression === "gzip") {
    const gzip = createGzip({ level: 6 });
    pipeline(source, gzip).catch((err) => gzip.destroy(err));
    return gzip;
  }
  const child = spawn("zstd", ["-q", "-c", "-3"], { stdio: ["pipe", "pipe", "pipe"] });
  const out = new PassThrough();
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  child.on("error", (err) => out.destroy(new Error(`oci builder: cannot run zstd (install the Debian package zstd): ${err.message}`)));
  pipeline(source, child.stdin).catch((err) => out.destroy(err));
  child.stdout.pipe(out, { end: false });
  child.on("close", (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`oci builder: zstd exited with ${code}: ${stderr.trim()}`));
  });
  return out;
}
