// Writes a directory tree as a tar file (for OCI archives and docker-save
// tarballs), streaming file contents from disk.

import { createReadStream, readdirSync, lstatSync, createWriteStream } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { END_OF_ARCHIVE, encodeTarHeader, paddingFor } from "./tar-header.js";

async function* members(root: string, relative: string): AsyncGenerator<Buffer> {
  const names = readdirSync(join(root, relative)).sort();
  for (const name of names) {
    const rel = relative ? `${relative}/${name}` : name;
    const st = lstatSync(join(root, rel));
    const mtime = Math.floor(st.mtimeMs / 1000);
    if (st.isDirectory()) {
      yield encodeTarHeader({ name: rel + "/", type: "dir", mode: st.mode & 0o7777, mtime });
      yield* members(root, rel);
    } else if (st.isFile()) {
      yield encodeTarHeader({ name: rel, type: "file", mode: st.mode & 0o7777, size: st.size, mtime });
      for await (const chunk of createReadStream(join(root, rel), { highWaterMark: 1 << 20 })) yield chunk as Buffer;
      yield paddingFor(st.size);
    } else {
      throw new Error(`oci builder: ${join(root, rel)} is neither a file nor a directory`);
    }
  }
}

export async function tarDirectory(dir: string, outFile: string, signal?: AbortSignal): Promise<void> {
  async function* all() {
    yield* members(dir, "");
    yield END_OF_ARCHIVE;
  }
  await pipeline(Readable.from(all(), { objectMode: false }), createWriteStream(outFile), { signal });
}
