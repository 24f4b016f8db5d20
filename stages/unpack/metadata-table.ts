// What the unprivileged unpack cannot put on disk (owners, xattrs, device
// nodes and FIFOs), kept per image path and written as metadata.jsonl for
// mkrootfs (see docs/architecture.md). Later layers replace records, and a
// deleted path takes its records (and those below it) with it.

import { createWriteStream } from "node:fs";
import { once } from "node:events";

export interface MetadataRecord {
  path: string;
  uid?: number;
  gid?: number;
  mode?: number;
  /** xattr name → base64 of the raw value. */
  xattrs?: Record<string, string>;
  kind?: "chardev" | "blockdev" | "fifo";
  rdev?: [number, number];
  /** A device node's or FIFO's mtime (seconds): the tree cannot hold one for it. */
  mtime?: number;
}

export class MetadataTable {
  private readonly records = new Map<string, MetadataRecord>();

  get size(): number {
    return this.records.size;
  }

  get(path: string): MetadataRecord | undefined {
    return this.records.get(path);
  }

  set(record: MetadataRecord): void {
    this.records.set(record.path, record);
  }

  remove(path: string): void {
    this.records.delete(path);
  }

  /** Removes `path` and everything below it, except paths `keep` says to keep. */
  removeTree(path: string, keep?: (path: string) => boolean): void {
    const prefix = path === "/" ? "/" : path + "/";
    for (const key of this.records.keys()) {
      if ((key === path || key.startsWith(prefix)) && !keep?.(key)) this.records.delete(key);
    }
  }

  async writeJsonl(file: string): Promise<void> {
    const out = createWriteStream(file);
    const paths = [...this.records.keys()].sort();
    for (const path of paths) {
      if (!out.write(JSON.stringify(this.records.get(path)) + "\n")) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  }
}
