// Finds the members of a tar archive (an OCI archive or a docker-save tar)
// by reading only its headers, so blobs can later be streamed straight from
// their offsets without extracting anything.

import { closeSync, openSync, readSync, fstatSync } from "node:fs";
import { MAX_EXTENDED_HEADER, TarFormatError, checksumOk, cString, parseNumber, parsePax, paxNumber } from "./tar-reader.js";
import { memberComponents } from "./image-root.js";

export interface ArchiveMember {
  /** Offset of the member's data in the archive. */
  offset: number;
  size: number;
}

const BLOCK = 512;

function readExactly(fd: number, length: number, position: number, archive: string): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new TarFormatError(`${archive}: archive is truncated`);
    got += n;
  }
  return buf;
}

/** Hard and symbolic links, character and block devices, directories, FIFOs. */
const HEADER_ONLY_FLAGS = new Set(["1", "2", "3", "4", "5", "6"]);

/** Regular-file members by cleaned relative path ("blobs/sha256/ab…"). */
export function indexArchive(archive: string): Map<string, ArchiveMember> {
  const members = new Map<string, ArchiveMember>();
  const fd = openSync(archive, "r");
  try {
    const total = fstatSync(fd).size;
    let position = 0;
    let longName: string | null = null;
    // PAX records for the next member, and global ones ("g") for all that follow, as TarReader applies them:
    // Go's archive/tar and Python's tarfile give a member of 8 GiB or more its size only in PAX.
    let pax: Map<string, Buffer> | null = null;
    let globalPax: Map<string, Buffer> | null = null;
    while (position + BLOCK <= total) {
      const block = readExactly(fd, BLOCK, position, archive);
      position += BLOCK;
      if (block.every((b) => b === 0)) break;
      if (!checksumOk(block)) {
        throw new TarFormatError(position === BLOCK ? `${archive}: not a tar archive (no tar header at its start)` : `${archive}: bad tar header checksum at offset ${position - BLOCK}`);
      }
      const flag = String.fromCharCode(block[156]);
      const extended = flag === "x" || flag === "g" || flag === "L";
      const records = extended ? null : new Map([...(globalPax ?? []), ...(pax ?? [])]);
      const paxSize = records?.get("size");
      const size = paxSize ? paxNumber(paxSize, "size") : parseNumber(block, 124, 12, "size");
      if (!Number.isSafeInteger(size)) throw new TarFormatError(`${archive}: member at offset ${position - BLOCK} has a bad size (${size})`);
      // Only files (and types we do not know) carry data: like TarReader and
      // Go's archive/tar, the size of a link, directory, device or FIFO is ignored.
      const dataEnd = position + (HEADER_ONLY_FLAGS.has(flag) ? 0 : size);
      if (dataEnd > total) throw new TarFormatError(`${archive}: archive is truncated`);
      if (extended) {
        if (size > MAX_EXTENDED_HEADER) throw new TarFormatError(`${archive}: extended header too large`);
        const data = readExactly(fd, size, position, archive);
        if (flag === "L") longName = cString(data, 0, data.length);
        else if (flag === "x") pax = parsePax(data);
        else globalPax = parsePax(data);
      } else {
        let name = cString(block, 0, 100);
        const prefix = block.toString("latin1", 257, 263) === "ustar\0" ? cString(block, 345, 155) : "";
        if (prefix) name = `${prefix}/${name}`;
        name = records!.get("path")?.toString("utf8") ?? longName ?? name;
        longName = null;
        pax = null;
        if (flag === "0" || flag === "\0" || flag === "7") {
          // Names are only keys here; a hostile one matches nothing we ask for.
          let key: string;
          try {
            key = memberComponents(name).join("/");
          } catch {
            key = "";
          }
          if (key) members.set(key, { offset: position, size });
        }
      }
      position = dataEnd + ((BLOCK - ((dataEnd - position) % BLOCK)) % BLOCK);
    }
  } finally {
    closeSync(fd);
  }
  return members;
}
