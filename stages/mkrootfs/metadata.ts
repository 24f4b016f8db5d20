// Reads metadata.jsonl (lib/rootfs-metadata/entry.ts): one JSON object per
// line, each checked strictly, as the file is derived from a hostile image.
import { FileTooLargeError, readSmallFile } from "../../lib/fs/read-small-file.js";
import { checkEntry, type MetadataEntry } from "../../lib/rootfs-metadata/entry.js";

export type { MetadataEntry, SpecialKind } from "../../lib/rootfs-metadata/entry.js";

/** Room for a few hundred thousand records with xattrs; far less than a Node string holds. */
const MAX_METADATA_BYTES = 256 << 20;

/** Reads and validates metadata.jsonl; a path listed twice gets the later line's fields on top. */
export function readMetadata(file: string): Map<string, MetadataEntry> {
  let text: string;
  try {
    // Not following a symlink, nor blocking on a FIFO: the file comes from a hostile image's unpack.
    text = readSmallFile(file, MAX_METADATA_BYTES).toString("utf8");
  } catch (err) {
    if (err instanceof FileTooLargeError) throw new Error(`${file}: ${err.size} bytes, more than mkrootfs reads (${MAX_METADATA_BYTES})`);
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
