// One record of metadata.jsonl, the file unpack hands mkrootfs with what it
// could not put on disk unprivileged (owners, xattrs, device nodes, FIFOs).
// Both stages check records with checkEntry, so an image mkrootfs would refuse
// is refused by unpack already, naming its layer and member. The records are
// derived from a hostile image: checked strictly.
import { isPlainObject } from "../ipc/errors.js";
import { imagePathProblem } from "./image-path.js";

/** The latest mtime a record carries: ext4's 256-byte inodes hold seconds up to 2^34 - 1 (the year 2514). */
export const MAX_MTIME = 2 ** 34 - 1;

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
