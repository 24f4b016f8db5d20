// Shared by the unpack tests: crafting tarballs, snapshotting trees, errors.
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { cpSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeTarHeader, paddingFor, END_OF_ARCHIVE, type TarHeader } from "../../../lib/oci/tar-header.js";

export async function rejects(run: () => Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await run();
  } catch (err) {
    assert.match((err as Error).message, pattern);
    return err as Error;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
  throw new Error("unreachable");
}

export type CraftedMember = TarHeader & { data?: string | Buffer };

/** Tar bytes for the given members (header sizes follow the data unless given). */
export function tarBytes(members: CraftedMember[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const data = m.data === undefined ? Buffer.alloc(0) : Buffer.from(m.data);
    parts.push(encodeTarHeader({ ...m, size: m.size ?? data.length }), data, paddingFor(data.length));
  }
  if (end) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export function writeTar(file: string, members: CraftedMember[]): string {
  writeFileSync(file, tarBytes(members));
  return file;
}

/**
 * Every entry under `root` with what unpack promises to keep: type, mode
 * (with setuid/setgid/sticky), mtime, content digest, link target, and which
 * entries share an inode.
 */
export function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, path));
      const mode = (st.mode & 0o7777).toString(8);
      const mtime = Math.floor(st.mtimeMs / 1000);
      if (st.isDirectory()) {
        out[path] = `dir ${mode} ${mtime}`;
        walk(path);
      } else if (st.isSymbolicLink()) {
        out[path] = `symlink -> ${readlinkSync(join(root, path))}`;
      } else if (st.isFile()) {
        const first = inodes.get(st.ino);
        if (!first) inodes.set(st.ino, path);
        const digest = createHash("sha256").update(readFileSync(join(root, path))).digest("hex").slice(0, 16);
        out[path] = `file ${mode} ${mtime} ${st.size} ${digest}${first ? ` =${first}` : ""}`;
      } else {
        out[path] = `other ${st.mode.toString(8)}`;
      }
    }
  };
  walk("");
  return out;
}

export function readMetadata(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, "utf8").split("\n").filter(Boolean).map((line) => JSON.parse(line));
}

/**
 * The snapshot of an unpacked tree with the modes mkrootfs gives it: the
 * tree keeps modes safe for the host (owner-readable, no setuid, no group or
 * other write), and metadata.jsonl has the image's own where they differ.
 */
export function imageView(out: string): Record<string, string> {
  const view = snapshot(join(out, "rootfs"));
  for (const record of readMetadata(join(out, "metadata.jsonl"))) {
    const key = (record.path as string).slice(1);
    if (view[key] === undefined || record.mode === undefined) continue;
    const [kind, , ...rest] = view[key]!.split(" ");
    if (kind === "file" || kind === "dir") view[key] = [kind, (record.mode as number).toString(8), ...rest].join(" ");
  }
  return view;
}

/**
 * What `docker save a b` writes, from single-image docker-save directories:
 * every file of each, one manifest.json listing all their entries (and one
 * index.json / repositories when they have them). Shared layers are the same
 * file in each.
 */
export function mergeDockerSaves(dirs: string[], out: string): void {
  const manifest: unknown[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  let index: { manifests: unknown[] } | undefined;
  for (const dir of dirs) {
    cpSync(dir, out, { recursive: true });
    manifest.push(...JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")));
    for (const [repo, tags] of Object.entries(JSON.parse(readFileSync(join(dir, "repositories"), "utf8")))) {
      repositories[repo] = { ...repositories[repo], ...(tags as Record<string, string>) };
    }
    if (existsSync(join(dir, "index.json"))) {
      const own = JSON.parse(readFileSync(join(dir, "index.json"), "utf8"));
      if (index) index.manifests.push(...own.manifests);
      else index = own;
    }
  }
  writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(join(out, "repositories"), JSON.stringify(repositories));
  if (index) writeFileSync(join(out, "index.json"), JSON.stringify(index));
}
