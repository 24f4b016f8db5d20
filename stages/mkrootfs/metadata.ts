// metadata.jsonl: what unpack could not put on disk unprivileged (owners,
// xattrs, device nodes, FIFOs). One JSON object per line, checked strictly:
// the file is derived from a hostile image.
import { readFileSync } from "node:fs";
import { isPlainObject } from "../../lib/ipc/errors.js";
import { imagePathProblem } from "./image-path.js";
import { MAX_MTIME } from "../unpack/metadata-table.js";

export type SpecialKind = "chardev" | "blockdev" | "fifo";

export interface MetadataEntry {
  path: string;
  uid?: number;
  gid?: number;
  /** Permission bits only (setuid/setgid/sticky included), 0..0o7777. */
  mode?: number;
  /** name → raw value, in file order. */
  xattrs?: [string, Buffer][];
  kind?: SpecialKind;
  rdev?: [number, number];
  /** A device node's or FIFO's mtime, seconds since the epoch (the tree holds every other entry's). */
  mtime?: number;
}

const FIELDS = new Set(["path", "uid", "gid", "mode", "xattrs", "kind", "rdev", "mtime"]);
const MAX_ID = 0xfffffffe; // (uid_t)-1 means "no change" to the kernel
const XATTR_PREFIXES = ["user.", "trusted.", "security.", "system."];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** One ext4 block holds all of an inode's xattrs that do not fit in the inode. */
const MAX_XATTR_VALUE = 4000;

/** Reads and validates metadata.jsonl; a path listed twice gets the later line's fields on top. */
export function readMetadata(file: string): Map<string, MetadataEntry> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseMetadata(text, file);
}

export function parseMetadata(text: string, file = "metadata.jsonl"): Map<string, MetadataEntry> {
  const entries = new Map<string, MetadataEntry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    const where = `${file} line ${i + 1}`;
    const entry = parseEntry(lines[i], where);
    const earlier = entries.get(entry.path);
    entries.set(entry.path, earlier ? { ...earlier, ...entry } : entry);
  }
  for (const entry of entries.values()) {
    if ((entry.kind === "chardev" || entry.kind === "blockdev") && !entry.rdev) {
      throw new Error(`${file}: ${JSON.stringify(entry.path)} is a ${entry.kind} without rdev`);
    }
    if (entry.kind && entry.path === "/") throw new Error(`${file}: "/" cannot be a ${entry.kind}`);
    if (entry.mtime !== undefined && !entry.kind) throw new Error(`${file}: ${JSON.stringify(entry.path)} has an mtime, which only a device node or FIFO takes from here (the tree holds the others')`);
  }
  return entries;
}

function parseEntry(line: string, where: string): MetadataEntry {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new Error(`${where}: not valid JSON`);
  }
  try {
    return checkEntry(raw);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/**
 * Checks one record as metadata.jsonl holds it (JSON-parsed) and returns it
 * as an entry. Unpack checks each record it makes with this too, so that an
 * image mkrootfs would refuse is refused there, naming its layer and member.
 */
export function checkEntry(raw: unknown): MetadataEntry {
  if (!isPlainObject(raw)) throw new Error("expected a JSON object");
  for (const key of Object.keys(raw)) {
    if (!FIELDS.has(key)) throw new Error(`unknown field ${JSON.stringify(key)}`);
  }
  const { path } = raw;
  if (typeof path !== "string") throw new Error("path must be a string");
  const problem = imagePathProblem(path);
  if (problem) throw new Error(`path ${JSON.stringify(path)} ${problem}`);

  const entry: MetadataEntry = { path };
  for (const field of ["uid", "gid"] as const) {
    const value = raw[field];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_ID) {
      throw new Error(`${field} must be an integer from 0 to ${MAX_ID}, not ${JSON.stringify(value)}`);
    }
    entry[field] = value;
  }
  if (raw.mode !== undefined) {
    const mode = raw.mode;
    // Type bits (S_IFMT) are tolerated and dropped: the type comes from the tree or `kind`.
    if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o177777) {
      throw new Error(`mode must be an integer permission mode, not ${JSON.stringify(mode)}`);
    }
    entry.mode = mode & 0o7777;
  }
  if (raw.xattrs !== undefined) entry.xattrs = parseXattrs(raw.xattrs);
  if (raw.kind !== undefined) {
    if (raw.kind !== "chardev" && raw.kind !== "blockdev" && raw.kind !== "fifo") {
      throw new Error(`kind must be "chardev", "blockdev" or "fifo", not ${JSON.stringify(raw.kind)}`);
    }
    entry.kind = raw.kind;
  }
  if (raw.rdev !== undefined) {
    const rdev = raw.rdev;
    const valid =
      Array.isArray(rdev) && rdev.length === 2 &&
      Number.isInteger(rdev[0]) && rdev[0] >= 0 && rdev[0] <= 0xfff &&
      Number.isInteger(rdev[1]) && rdev[1] >= 0 && rdev[1] <= 0xfffff;
    if (!valid) throw new Error(`rdev must be [major 0..4095, minor 0..1048575], not ${JSON.stringify(rdev)}`);
    entry.rdev = [rdev[0], rdev[1]];
  }
  if (raw.mtime !== undefined) {
    const mtime = raw.mtime;
    if (typeof mtime !== "number" || !Number.isFinite(mtime) || mtime < 0 || mtime > MAX_MTIME) {
      throw new Error(`mtime must be seconds from 0 to ${MAX_MTIME}, not ${JSON.stringify(mtime)}`);
    }
    entry.mtime = mtime;
  }
  return entry;
}

function parseXattrs(raw: unknown): [string, Buffer][] {
  if (!isPlainObject(raw)) throw new Error("xattrs must be an object of name → base64 value");
  const out: [string, Buffer][] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (!XATTR_PREFIXES.some((prefix) => name.startsWith(prefix) && name.length > prefix.length)) {
      throw new Error(`xattr ${JSON.stringify(name)} must start with user., trusted., security. or system.`);
    }
    if (/[\u0000-\u0020\u007f"\\]/.test(name) || Buffer.byteLength(name) > 255) {
      throw new Error(`xattr name ${JSON.stringify(name)} has spaces, quotes, control characters or is too long`);
    }
    if (typeof value !== "string" || !BASE64.test(value)) throw new Error(`xattr ${JSON.stringify(name)} is not base64`);
    const bytes = Buffer.from(value, "base64");
    if (bytes.length > MAX_XATTR_VALUE) throw new Error(`xattr ${JSON.stringify(name)} is ${bytes.length} bytes, more than ext4 holds (${MAX_XATTR_VALUE})`);
    out.push([name, bytes]);
  }
  return out;
}
