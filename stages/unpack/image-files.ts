// Read access to the files of an image on disk, whether it is a directory
// (OCI layout, extracted docker-save) or a tar archive of one. Paths come
// from the image's own JSON, so they are checked: no "..", no symlinks.

import { createReadStream, lstatSync, openSync, closeSync, readSync, constants } from "node:fs";
import { Readable } from "node:stream";
import { indexArchive, type ArchiveMember } from "./archive-index.js";
import { UnpackError, memberComponents } from "./image-root.js";
import { FileTooLargeError, readSmallFile } from "../../lib/fs/read-small-file.js";

/** JSON documents (index, manifest, config) bigger than this are refused. */
export const MAX_JSON_BYTES = 16 << 20;

export interface ImageFiles {
  /** What the user gave, for messages. */
  readonly origin: string;
  has(path: string): boolean;
  size(path: string): number;
  open(path: string): Readable;
  readSmall(path: string): Buffer;
}

function cleanRelative(path: string, origin: string): string {
  const parts = memberComponents(path, `${origin}: path`);
  if (parts.length === 0) throw new UnpackError(`${origin}: empty path`);
  return parts.join("/");
}

export class DirectoryFiles implements ImageFiles {
  constructor(readonly origin: string) {}

  /** The host path of a regular file, refusing symlinks at every step. */
  private regularFile(path: string): string | null {
    const parts = cleanRelative(path, this.origin).split("/");
    let host = this.origin;
    for (let i = 0; i < parts.length; i++) {
      host += "/" + parts[i];
      let st;
      try {
        st = lstatSync(host);
      } catch (err) {
        // Not there is an answer; not allowed to look is not (it would read as "no index.json").
        if ((err as NodeJS.ErrnoException).code === "EACCES") throw new UnpackError(`${this.origin}: ${parts.slice(0, i + 1).join("/")}: permission denied`);
        return null;
      }
      if (st.isSymbolicLink()) throw new UnpackError(`${this.origin}: ${path} goes through a symlink, which an image may not use`);
      const last = i === parts.length - 1;
      if (last ? !st.isFile() : !st.isDirectory()) return null;
    }
    return host;
  }

  has(path: string): boolean {
    return this.regularFile(path) !== null;
  }

  size(path: string): number {
    return lstatSync(this.must(path)).size;
  }

  private must(path: string): string {
    const host = this.regularFile(path);
    if (!host) throw new UnpackError(`${this.origin}: ${path} is missing`);
    return host;
  }

  open(path: string): Readable {
    const fd = openSync(this.must(path), constants.O_RDONLY | constants.O_NOFOLLOW);
    return createReadStream("", { fd, highWaterMark: 1 << 20 });
  }

  readSmall(path: string): Buffer {
    try {
      return readSmallFile(this.must(path), MAX_JSON_BYTES);
    } catch (err) {
      if (err instanceof FileTooLargeError) throw new UnpackError(`${this.origin}: ${path} is ${err.size} bytes, too large for a JSON document`);
      throw err;
    }
  }
}

export class ArchiveFiles implements ImageFiles {
  private readonly members: Map<string, ArchiveMember>;

  constructor(readonly origin: string) {
    this.members = indexArchive(origin);
  }

  private member(path: string): ArchiveMember {
    const member = this.members.get(cleanRelative(path, this.origin));
    if (!member) throw new UnpackError(`${this.origin}: archive has no ${path}`);
    return member;
  }

  has(path: string): boolean {
    return this.members.has(cleanRelative(path, this.origin));
  }

  size(path: string): number {
    return this.member(path).size;
  }

  open(path: string): Readable {
    const { offset, size } = this.member(path);
    if (size === 0) return Readable.from([]);
    return createReadStream(this.origin, { start: offset, end: offset + size - 1, highWaterMark: 1 << 20 });
  }

  readSmall(path: string): Buffer {
    const { offset, size } = this.member(path);
    if (size > MAX_JSON_BYTES) throw new UnpackError(`${this.origin}: ${path} is ${size} bytes, too large for a JSON document`);
    const fd = openSync(this.origin, "r");
    try {
      const buf = Buffer.alloc(size);
      let got = 0;
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, offset + got);
        if (n === 0) throw new UnpackError(`${this.origin}: archive is truncated`);
        got += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }
}
