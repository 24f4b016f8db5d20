// Encodes tar headers (POSIX ustar, plus a PAX extended header when a field
// does not fit or carries xattrs). Written here rather than with tar-stream
// because PAX values must be binary-safe (security.capability xattrs are raw
// bytes) and tests need exact control over what a header says.

import { TAR_BLOCK, TAR_TYPE_FLAGS, type TarEntryType } from "./tar-format.js";

export type { TarEntryType } from "./tar-format.js";

export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Written as PAX `SCHILY.xattr.<name>` records. */
  xattrs?: Record<string, Uint8Array | string>;
  /** Extra raw PAX records, for tests that craft unusual headers. */
  pax?: Record<string, Uint8Array | string>;
}

const BLOCK = TAR_BLOCK;

/** Zero bytes that pad a member's data to a whole block. */
export function paddingFor(size: number): Buffer {
  const rest = size % BLOCK;
  return Buffer.alloc(rest === 0 ? 0 : BLOCK - rest);
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function fitsOctal(value: number, width: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < 8 ** (width - 1);
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  // width-1 digits then NUL, the form GNU tar and Go's archive/tar read.
  block.write(value.toString(8).padStart(width - 1, "0") + "\0", offset, width, "ascii");
}

function writeString(block: Buffer, offset: number, width: number, value: string): void {
  Buffer.from(value, "utf8").copy(block, offset, 0, width);
}

export function paxRecord(key: string, value: Uint8Array | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, "utf8"), Buffer.from(value), Buffer.from("\n")]);
  // The length prefix counts itself, so grow it until it is stable.
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), "ascii"), body]);
}

function ustarBlock(h: {
  name: string;
  flag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, h.name);
  writeOctal(block, 100, 8, h.mode);
  writeOctal(block, 108, 8, h.uid);
  writeOctal(block, 116, 8, h.gid);
  writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, h.mtime);
  block.write(h.flag, 156, 1, "ascii");
  writeString(block, 157, 100, h.linkname);
  block.write("ustar\u000000", 257, 8, "ascii");
  writeString(block, 265, 32, h.uname);
  writeString(block, 297, 32, h.gname);
  writeOctal(block, 329, 8, h.devmajor);
  writeOctal(block, 337, 8, h.devminor);
  // The checksum is computed with its own field read as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "ascii");
  return block;
}

/** Header block(s) for one member: a PAX header first when needed. */
export function encodeTarHeader(h: TarHeader): Buffer {
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  const mode = h.mode ?? (h.type === "dir" ? 0o755 : h.type === "symlink" ? 0o777 : 0o644);
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  const mtime = h.mtime ?? 0;
  const linkname = h.linkname ?? "";
  const records: Buffer[] = [];
  if (Buffer.byteLength(h.name) > 100) records.push(paxRecord("path", h.name));
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord("linkpath", linkname));
  if (!fitsOctal(size, 12)) records.push(paxRecord("size", String(size)));
  if (!fitsOctal(uid, 8)) records.push(paxRecord("uid", String(uid)));
  if (!fitsOctal(gid, 8)) records.push(paxRecord("gid", String(gid)));
  if (!fitsOctal(mtime, 12)) records.push(paxRecord("mtime", String(mtime)));
  for (const [name, value] of Object.entries(h.xattrs ?? {})) records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  for (const [key, value] of Object.entries(h.pax ?? {})) records.push(paxRecord(key, value));

  const main = ustarBlock({
    name: h.name.slice(0, 100),
    flag: TAR_TYPE_FLAGS[h.type],
    mode: mode & 0o7777,
    uid: fitsOctal(uid, 8) ? uid : 0,
    gid: fitsOctal(gid, 8) ? gid : 0,
    size: fitsOctal(size, 12) ? size : 0,
    mtime: fitsOctal(mtime, 12) ? Math.floor(mtime) : 0,
    linkname: linkname.slice(0, 100),
    uname: h.uname ?? "",
    gname: h.gname ?? "",
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return main;

  const paxBody = Buffer.concat(records);
  const paxHeader = ustarBlock({
    name: "PaxHeaders/" + (h.name.split("/").filter(Boolean).pop() ?? "entry").slice(0, 80),
    flag: "x",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: paxBody.length,
    mtime: 0,
    linkname: "",
    uname: "",
    gname: "",
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, paxBody, paddingFor(paxBody.length), main]);
}
