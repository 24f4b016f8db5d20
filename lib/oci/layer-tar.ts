// Turns a layer's entry descriptions into the bytes of an uncompressed tar,
// produced as a stream so that large generated files never sit in memory.

import { createCipheriv } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import type { EntryDescription } from "./description.js";
import { END_OF_ARCHIVE, encodeTarHeader, paddingFor, type TarHeader } from "./tar-header.js";

/** 2023-11-14: a fixed default mtime keeps builds reproducible. */
export const DEFAULT_MTIME = 1_700_000_000;

const CHUNK = 1 << 20;

function memberName(path: string): string {
  const name = path.replace(/^\/+/, "");
  if (name === "") throw new Error(`oci builder: entry path ${JSON.stringify(path)} names the root`);
  return name;
}

function splitParent(path: string): [string, string] {
  const name = memberName(path).replace(/\/+$/, "");
  const slash = name.lastIndexOf("/");
  return slash < 0 ? ["", name] : [name.slice(0, slash + 1), name.slice(slash + 1)];
}

function xattrValues(xattrs: Record<string, string | { base64: string }> | undefined) {
  if (!xattrs) return undefined;
  const out: Record<string, Uint8Array | string> = {};
  for (const [name, value] of Object.entries(xattrs)) {
    out[name] = typeof value === "string" ? value : Buffer.from(value.base64, "base64");
  }
  return out;
}

/** Deterministic pseudo-random bytes (AES-CTR over zeros): fast and incompressible. */
async function* randomBytes(size: number, seed: number): AsyncGenerator<Buffer> {
  const key = Buffer.alloc(16);
  key.writeUInt32LE(seed >>> 0);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) {
    yield cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
  }
}

function fileBody(entry: Extract<EntryDescription, { type: "file" }>): { size: number; body: () => AsyncIterable<Buffer> } {
  const given = [entry.content, entry.base64, entry.hostFile, entry.random].filter((x) => x !== undefined);
  if (given.length > 1) throw new Error(`oci builder: file ${entry.path} gives more than one content source`);
  if (entry.hostFile !== undefined) {
    const file = entry.hostFile;
    return { size: statSync(file).size, body: () => createReadStream(file, { highWaterMark: CHUNK }) };
  }
  if (entry.random !== undefined) {
    const { size, seed = 1 } = entry.random;
    return { size, body: () => randomBytes(size, seed) };
  }
  const data = entry.base64 !== undefined ? Buffer.from(entry.base64, "base64") : Buffer.from(entry.content ?? "", "utf8");
  return { size: data.length, body: async function* () { yield data; } };
}

/** The tar header for one entry, and its body if it has one. */
function member(entry: EntryDescription): { header: TarHeader; size: number; body?: () => AsyncIterable<Buffer> } {
  switch (entry.type) {
    case "whiteout": {
      const [parent, name] = splitParent(entry.path);
      return { header: { name: `${parent}.wh.${name}`, type: "file", mode: 0o644, mtime: DEFAULT_MTIME }, size: 0 };
    }
    case "opaque": {
      const dir = memberName(entry.path).replace(/\/+$/, "");
      return { header: { name: `${dir}/.wh..wh..opq`, type: "file", mode: 0o644, mtime: DEFAULT_MTIME }, size: 0 };
    }
    case "hardlink":
      return { header: { name: memberName(entry.path), type: "hardlink", linkname: memberName(entry.target), mtime: DEFAULT_MTIME }, size: 0 };
    default:
      break;
  }
  const header: TarHeader = {
    name: memberName(entry.path),
    type: entry.type,
    mode: entry.mode,
    uid: entry.uid,
    gid: entry.gid,
    mtime: entry.mtime ?? DEFAULT_MTIME,
    xattrs: xattrValues(entry.xattrs),
  };
  switch (entry.type) {
    case "file": {
      const { size, body } = fileBody(entry);
      header.size = size;
      return { header, size, body };
    }
    case "dir":
      header.name = header.name.replace(/\/*$/, "/");
      return { header, size: 0 };
    case "symlink":
      header.linkname = entry.target;
      return { header, size: 0 };
    case "chardev":
    case "blockdev":
      header.devmajor = entry.major;
      header.devminor = entry.minor;
      return { header, size: 0 };
    case "fifo":
      return { header, size: 0 };
  }
}

export async function* layerTar(entries: readonly EntryDescription[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    const { header, size, body } = member(entry);
    yield encodeTarHeader(header);
    if (!body) continue;
    let written = 0;
    for await (const chunk of body()) {
      written += chunk.length;
      yield chunk;
    }
    if (written !== size) throw new Error(`oci builder: ${entry.path} changed size while being read`);
    yield paddingFor(size);
  }
  yield END_OF_ARCHIVE;
}
