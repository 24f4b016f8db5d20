// A push parser for the tar members of a layer. Written here (not tar-stream)
// because a layer is hostile input: header sizes are bounded, numbers must be
// exact, checksums must match, PAX values stay raw bytes (xattrs are binary),
// and entry data goes to a synchronous sink with no buffering of its own.

import { TAR_BLOCK, TAR_TYPES_BY_FLAG, type TarEntryType } from "../../lib/oci/tar-format.js";

export interface TarMember {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch (may be fractional when PAX gives it). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records. */
  xattrs: Map<string, Buffer>;
}

/** Receives one member's data. Returned by the handler for each member; null discards the data. */
export interface MemberSink {
  write(chunk: Buffer): void;
  end(): void;
}

export type MemberHandler = (member: TarMember) => MemberSink | null;

const BLOCK = TAR_BLOCK;
/** PAX and GNU long-name headers bigger than this are refused (real ones are a few KiB). */
export const MAX_EXTENDED_HEADER = 1 << 20;
/** A member bigger than this (1 TiB) is taken as a corrupt or hostile header. */
export const MAX_MEMBER_SIZE = 2 ** 40;

export class TarFormatError extends Error {}

export function parseNumber(block: Buffer, offset: number, width: number, what: string): number {
  const field = block.subarray(offset, offset + width);
  if (field[0] & 0x80) {
    // GNU base-256: big-endian, top bit of the first byte is the marker.
    if (field[0] === 0xff) throw new TarFormatError(`negative ${what} in tar header`);
    let value = field[0] & 0x7f;
    for (let i = 1; i < width; i++) {
      value = value * 256 + field[i];
      if (value > Number.MAX_SAFE_INTEGER) throw new TarFormatError(`${what} in tar header is too large`);
    }
    return value;
  }
  const text = field.toString("latin1").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`bad ${what} ${JSON.stringify(text)} in tar header`);
  return parseInt(text, 8);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A member's name or link target. Names that are not UTF-8 are refused: the
 * tree is written through strings, and replacing the bad bytes would put the
 * file at a different path than the image says, silently.
 */
export function nameText(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    const shown = bytes.toString("latin1").replace(/[^\x20-\x7e]/g, "?");
    throw new TarFormatError(`member name ${JSON.stringify(shown)} is not valid UTF-8 (bytes ${bytes.toString("hex")}); such names cannot be kept exactly`);
  }
}

export function cString(block: Buffer, offset: number, width: number): string {
  const field = block.subarray(offset, offset + width);
  const nul = field.indexOf(0);
  return nameText(field.subarray(0, nul < 0 ? width : nul));
}

export function checksumOk(block: Buffer): boolean {
  let stored: number;
  try {
    stored = parseNumber(block, 148, 8, "checksum");
  } catch (err) {
    if (err instanceof TarFormatError) return false; // not a number: not a tar header at all
    throw err;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i];
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/** Parses PAX records ("LEN key=value\n"), keeping values as raw bytes. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding
    const space = data.indexOf(0x20, at);
    const lengthText = space < 0 ? "" : data.toString("latin1", at, space);
    const length = /^[0-9]{1,8}$/.test(lengthText) ? parseInt(lengthText, 10) : NaN;
    if (!(length > 0) || at + length > data.length || data[at + length - 1] !== 0x0a) {
      throw new TarFormatError("malformed PAX record");
    }
    const record = data.subarray(space + 1, at + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError("malformed PAX record");
    records.set(record.toString("utf8", 0, eq), Buffer.from(record.subarray(eq + 1)));
    at += length;
  }
  return records;
}

export function paxNumber(value: Buffer, what: string): number {
  const text = value.toString("latin1");
  if (!/^[0-9]{1,16}(\.[0-9]*)?$/.test(text)) throw new TarFormatError(`bad PAX ${what} ${JSON.stringify(text.slice(0, 40))}`);
  const n = Number(text);
  if (!Number.isSafeInteger(Math.floor(n))) throw new TarFormatError(`PAX ${what} is too large`);
  return n;
}

type State =
  | { kind: "header" }
  | { kind: "extended"; type: string; size: number; parts: Buffer[]; got: number }
  | { kind: "data"; member: TarMember; sink: MemberSink | null; left: number }
  | { kind: "padding"; left: number }
  | { kind: "finished" };

export class TarReader {
  private state: State = { kind: "header" };
  private pending: Buffer | null = null; // part of a header block
  private pax: Map<string, Buffer> | null = null;
  private globalPax: Map<string, Buffer> | null = null;
  private longName: string | null = null;
  private longLink: string | null = null;
  private zeroBlocks = 0;
  members = 0;

  constructor(private readonly onMember: MemberHandler) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const state = this.state;
      switch (state.kind) {
        case "finished":
          return; // bytes after the end marker: ignored, but still digested by the caller
        case "header": {
          let block: Buffer;
          if (this.pending) {
            const need = BLOCK - this.pending.length;
            const part = chunk.subarray(at, at + need);
            at += part.length;
            this.pending = Buffer.concat([this.pending, part]);
            if (this.pending.length < BLOCK) return;
            block = this.pending;
            this.pending = null;
          } else if (chunk.length - at < BLOCK) {
            this.pending = Buffer.from(chunk.subarray(at));
            return;
          } else {
            block = chunk.subarray(at, at + BLOCK);
            at += BLOCK;
          }
          this.header(block);
          break;
        }
        case "extended": {
          const part = chunk.subarray(at, at + (state.size - state.got));
          at += part.length;
          state.parts.push(Buffer.from(part));
          state.got += part.length;
          if (state.got === state.size) this.extended(state.type, Buffer.concat(state.parts), state.size);
          break;
        }
        case "data": {
          const n = Math.min(state.left, chunk.length - at);
          if (state.sink) state.sink.write(chunk.subarray(at, at + n));
          at += n;
          state.left -= n;
          if (state.left === 0) this.endData(state);
          break;
        }
        case "padding": {
          const n = Math.min(state.left, chunk.length - at);
          at += n;
          state.left -= n;
          if (state.left === 0) this.state = { kind: "header" };
          break;
        }
      }
    }
  }

  /** Call when the stream ended: a member cut short is an error. */
  end(): void {
    const state = this.state;
    if (state.kind === "finished") return;
    if (state.kind === "header" && !this.pending && !this.pax && this.longName === null && this.longLink === null) return;
    const where = state.kind === "data" ? ` in the middle of ${JSON.stringify(state.member.name)}` : "";
    throw new TarFormatError(`layer is truncated${where}`);
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      if (++this.zeroBlocks === 2) this.state = { kind: "finished" };
      return;
    }
    this.zeroBlocks = 0;
    if (!checksumOk(block)) throw new TarFormatError(`bad tar header checksum (member ${this.members + 1})`);
    const flag = String.fromCharCode(block[156]);
    const size = parseNumber(block, 124, 12, "size");
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > MAX_EXTENDED_HEADER) throw new TarFormatError(`extended tar header of ${size} bytes exceeds the ${MAX_EXTENDED_HEADER}-byte limit`);
      if (size === 0) return this.extended(flag, Buffer.alloc(0), 0);
      this.state = { kind: "extended", type: flag, size, parts: [], got: 0 };
      return;
    }
    const type = TAR_TYPES_BY_FLAG[flag];
    if (!type) throw new TarFormatError(`unsupported tar member type ${JSON.stringify(flag)} for ${JSON.stringify(cString(block, 0, 100))}`);

    let name = cString(block, 0, 100);
    const magic = block.toString("latin1", 257, 263);
    if (magic === "ustar\0" || magic === "ustar ") {
      const prefix = magic === "ustar\0" ? cString(block, 345, 155) : "";
      if (prefix) name = `${prefix}/${name}`;
    }
    const member: TarMember = {
      name,
      type,
      mode: parseNumber(block, 100, 8, "mode") & 0o7777,
      uid: parseNumber(block, 108, 8, "uid"),
      gid: parseNumber(block, 116, 8, "gid"),
      size,
      mtime: parseNumber(block, 136, 12, "mtime"),
      linkname: cString(block, 157, 100),
      devmajor: parseNumber(block, 329, 8, "devmajor"),
      devminor: parseNumber(block, 337, 8, "devminor"),
      xattrs: new Map(),
    };
    this.applyExtended(member);
    if (!Number.isSafeInteger(member.size) || member.size > MAX_MEMBER_SIZE) {
      throw new TarFormatError(`member ${JSON.stringify(member.name)} claims an absurd size (${member.size})`);
    }
    if (member.name === "") throw new TarFormatError("tar member with an empty name");
    if (member.name.includes("\0") || member.linkname.includes("\0")) throw new TarFormatError("tar member name contains NUL");
    this.members++;

    // Only regular files carry data: like Go's archive/tar, the size field of
    // links, directories, devices and FIFOs is ignored.
    const dataSize = type === "file" ? member.size : 0;
    const sink = this.onMember(member);
    if (dataSize === 0) {
      sink?.end();
      return;
    }
    this.state = { kind: "data", member, sink, left: dataSize };
  }

  private applyExtended(member: TarMember): void {
    if (this.longName !== null) member.name = this.longName;
    if (this.longLink !== null) member.linkname = this.longLink;
    const records = new Map([...(this.globalPax ?? []), ...(this.pax ?? [])]);
    for (const [key, value] of records) {
      if (key === "path") member.name = nameText(value);
      else if (key === "linkpath") member.linkname = nameText(value);
      else if (key === "size") member.size = paxNumber(value, "size");
      else if (key === "uid") member.uid = paxNumber(value, "uid");
      else if (key === "gid") member.gid = paxNumber(value, "gid");
      else if (key === "mtime") member.mtime = paxNumber(value, "mtime");
      else if (key.startsWith("SCHILY.xattr.")) member.xattrs.set(key.slice("SCHILY.xattr.".length), value);
    }
    // GNU tar's PAX sparse files (--sparse): the data is a map then the pieces, under a made-up name.
    // Written as is they would be a wrong file at a wrong path, so they are refused, like type "S".
    if ([...records.keys()].some((key) => key.startsWith("GNU.sparse."))) {
      const name = records.has("GNU.sparse.name") ? nameText(records.get("GNU.sparse.name")!) : member.name;
      throw new TarFormatError(`unsupported tar member: ${JSON.stringify(name)} is a GNU sparse file (PAX GNU.sparse.* records); make the layer without tar --sparse`);
    }
    this.pax = null;
    this.longName = null;
    this.longLink = null;
  }

  private extended(type: string, data: Buffer, size: number): void {
    if (type === "x") this.pax = parsePax(data);
    else if (type === "g") this.globalPax = parsePax(data);
    else {
      const nul = data.indexOf(0);
      const text = nameText(data.subarray(0, nul < 0 ? data.length : nul));
      if (type === "L") this.longName = text;
      else this.longLink = text;
    }
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = padding ? { kind: "padding", left: padding } : { kind: "header" };
  }

  private endData(state: { member: TarMember; sink: MemberSink | null }): void {
    state.sink?.end();
    const padding = (BLOCK - (state.member.size % BLOCK)) % BLOCK;
    this.state = padding ? { kind: "padding", left: padding } : { kind: "header" };
  }
}
