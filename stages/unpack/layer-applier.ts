// Applies tar members of successive layers to the rootfs directory the way a
// container runtime does (OCI image spec, "Applying Changesets"): entries
// replace what lower layers left, `.wh.NAME` deletes NAME from lower layers,
// `.wh..wh..opq` hides all lower-layer content of its directory.
//
// All paths go through ImageRoot, so nothing outside the root is touched.
// Owners, xattrs, device nodes and FIFOs go to the MetadataTable instead of
// the disk. Directory modes and mtimes are applied at the end (finish), so a
// read-only directory can still receive entries from later layers.

import {
  closeSync, constants, fchmodSync, futimesSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync,
  readdirSync, rmSync, symlinkSync, unlinkSync, writeSync, chmodSync, utimesSync, type Stats,
} from "node:fs";
import { ImageRoot, UnpackError, imagePath, memberComponents } from "./image-root.js";
import { MetadataTable, type MetadataRecord } from "./metadata-table.js";
import type { MemberSink, TarMember } from "./tar-reader.js";
import { checkEntry, MAX_MTIME } from "../../lib/rootfs-metadata/entry.js";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

interface DirAttributes {
  mode: number;
  mtime?: number;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export class LayerApplier {
  readonly root: ImageRoot;
  readonly metadata = new MetadataTable();
  /** Directories whose mode and mtime are set at the end, by image path. */
  private readonly dirs = new Map<string, DirAttributes>();
  /** Image paths written by the current layer: whiteouts and opaque markers leave them alone. */
  private written = new Set<string>();
  /** Directories above a path the current layer wrote: a whiteout or opaque marker clears them, keeping that path. */
  private aboveWritten = new Set<string>();
  private layer = "";
  private openFd: number | null = null;
  files = 0;
  bytes = 0;

  constructor(rootHost: string) {
    this.root = new ImageRoot(rootHost, (path) => this.metadata.get(path)?.kind);
  }

  beginLayer(name: string): void {
    this.layer = name;
    this.written = new Set();
    this.aboveWritten = new Set();
  }

  /** Handles one member; returns where its data goes. Errors name the layer and member. */
  member(m: TarMember): MemberSink | null {
    try {
      return this.apply(m);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw new UnpackError(`${this.layer}: member ${JSON.stringify(m.name)}: ${why}`);
    }
  }

  /** Sets the deferred directory modes and mtimes, deepest first. */
  finish(): void {
    const paths = [...this.dirs.keys()].sort((a, b) => b.length - a.length);
    for (const path of paths) {
      const attrs = this.dirs.get(path)!;
      const host = this.root.hostPath(memberComponents(path));
      const st = lstatOrNull(host);
      if (!st?.isDirectory()) continue;
      chmodSync(host, onDiskMode("dir", attrs.mode));
      if (attrs.mtime !== undefined) utimesSync(host, attrs.mtime, attrs.mtime);
    }
  }

  private apply(m: TarMember): MemberSink | null {
    const parts = memberComponents(m.name, null); // member() names it
    if (parts.length === 0) {
      // The root directory itself ("./"): only its attributes matter.
      if (m.type !== "dir") throw new UnpackError("the image root must be a directory");
      this.dirs.set("/", { mode: m.mode, mtime: m.mtime });
      this.recordMetadata("/", m);
      return null;
    }
    const base = parts[parts.length - 1];
    const parentParts = parts.slice(0, -1);
    if (base.startsWith(WHITEOUT)) {
      this.whiteout(parentParts, base);
      return null;
    }

    const parent = this.root.resolveDir(parentParts, true, (created) => {
      // A parent the layer did not list: 0755 like runtimes make it, and the
      // entry's mtime rather than "now" so that unpacking is reproducible.
      const path = imagePath(created);
      this.markWritten(path);
      this.dirs.set(path, { mode: 0o755, mtime: m.mtime });
    })!;
    const components = [...parent.components, base];
    const path = imagePath(components);
    const host = parent.host + "/" + base;
    const existing = lstatOrNull(host);
    this.markWritten(path);

    if (m.type === "dir" && existing?.isDirectory()) {
      // A directory over a directory merges: only the attributes change.
      this.dirs.set(path, { mode: m.mode, mtime: m.mtime });
      this.recordMetadata(path, m);
      return null;
    }
    if (existing) this.removeExisting(path, host, existing);
    else this.metadata.remove(path);

    switch (m.type) {
      case "dir":
        mkdirSync(host, 0o700);
        this.dirs.set(path, { mode: m.mode, mtime: m.mtime });
        this.recordMetadata(path, m);
        return null;
      case "file":
        this.recordMetadata(path, m);
        return this.fileSink(host, m);
      case "symlink":
        symlinkSync(m.linkname, host);
        lutimesSync(host, m.mtime, m.mtime);
        this.recordMetadata(path, m);
        return null;
      case "hardlink":
        this.hardlink(path, host, m);
        return null;
      case "chardev":
      case "blockdev":
      case "fifo":
        // Never created on the host: mkrootfs makes them from metadata.jsonl.
        this.recordMetadata(path, m);
        return null;
    }
  }

  /** After a failure mid-file: the descriptor of the file being written is closed. */
  closeOpenFile(): void {
    if (this.openFd !== null) closeSync(this.openFd);
    this.openFd = null;
  }

  private fileSink(host: string, m: TarMember): MemberSink {
    const fd = openSync(host, OPEN_NEW_FILE, 0o600);
    this.openFd = fd;
    this.files++;
    // A write that fails (a full disk) names the member as well as the layer.
    const named = (step: () => void) => {
      try {
        step();
      } catch (err) {
        throw new UnpackError(`${this.layer}: member ${JSON.stringify(m.name)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    return {
      write: (chunk) => named(() => {
        let at = 0;
        while (at < chunk.length) at += writeSync(fd, chunk, at, chunk.length - at);
        this.bytes += chunk.length;
      }),
      end: () => named(() => {
        // Mode after the data: setuid/setgid bits survive the writes.
        fchmodSync(fd, onDiskMode("file", m.mode));
        futimesSync(fd, m.mtime, m.mtime);
        this.openFd = null;
        closeSync(fd);
      }),
    };
  }

  private hardlink(path: string, host: string, m: TarMember): void {
    const targetParts = memberComponents(m.linkname, "hard link target");
    if (targetParts.length === 0) throw new UnpackError("hard link to the image root");
    const parent = this.root.resolveDir(targetParts.slice(0, -1), false);
    const targetName = targetParts[targetParts.length - 1];
    const targetHost = parent && parent.host + "/" + targetName;
    const st = targetHost ? lstatOrNull(targetHost) : null;
    const targetPath = parent ? imagePath([...parent.components, targetName]) : m.linkname;
    const record = this.metadata.get(targetPath);
    if (!st) {
      if (record?.kind) {
        // A link to a device node or FIFO: both names carry the node's metadata.
        this.setRecord({ ...record, path });
        return;
      }
      throw new UnpackError(`hard link target ${JSON.stringify(m.linkname)} does not exist`);
    }
    if (st.isDirectory()) throw new UnpackError(`hard link target ${JSON.stringify(m.linkname)} is a directory`);
    linkSync(targetHost!, host);
    // Both names are one inode: they share owner and xattrs.
    if (record) this.setRecord({ ...record, path });
  }

  private whiteout(parentParts: string[], base: string): void {
    const parent = this.root.resolveDir(parentParts, false);
    if (base === OPAQUE) {
      if (parent) this.makeOpaque(parent.components);
      return;
    }
    const name = base.slice(WHITEOUT.length);
    if (name === "" || name === "." || name === ".." || name.startsWith(WHITEOUT)) {
      throw new UnpackError(`whiteout names ${JSON.stringify(name)}, which is not a removable entry`);
    }
    if (!parent) return; // nothing below to hide
    const path = imagePath([...parent.components, name]);
    if (this.written.has(path)) return; // whiteouts hide lower layers only
    const host = parent.host + "/" + name;
    const existing = lstatOrNull(host);
    // This layer wrote below it already: only what lower layers put there goes.
    if (existing?.isDirectory() && this.aboveWritten.has(path)) this.makeOpaque([...parent.components, name]);
    else if (existing) this.removeExisting(path, host, existing);
    else this.metadata.removeTree(path);
  }

  /** Removes everything lower layers put under `dir` (what this layer wrote stays). */
  private makeOpaque(dir: string[]): void {
    const dirPath = imagePath(dir);
    const keep = (path: string) => this.written.has(path) || this.aboveWritten.has(path);
    const sweep = (components: string[]) => {
      const host = this.root.hostPath(components);
      for (const name of readdirSync(host)) {
        const child = [...components, name];
        const path = imagePath(child);
        const st = lstatSync(host + "/" + name);
        if (!keep(path)) this.removeExisting(path, host + "/" + name, st);
        else if (st.isDirectory()) sweep(child);
      }
    };
    sweep(dir);
    this.metadata.removeTree(dirPath, (path) => path === dirPath || keep(path));
  }

  private markWritten(path: string): void {
    this.written.add(path);
    for (let at = path.lastIndexOf("/"); at > 0; at = path.lastIndexOf("/", at - 1)) {
      const dir = path.slice(0, at);
      if (this.aboveWritten.has(dir)) break; // and so are its own parents
      this.aboveWritten.add(dir);
    }
  }

  private removeExisting(path: string, host: string, st: Stats): void {
    if (st.isDirectory()) {
      rmSync(host, { recursive: true, force: true });
      this.metadata.removeTree(path);
      const prefix = path + "/";
      for (const dir of this.dirs.keys()) if (dir === path || dir.startsWith(prefix)) this.dirs.delete(dir);
      this.root.invalidate();
    } else {
      unlinkSync(host);
      this.metadata.remove(path);
      if (st.isSymbolicLink()) this.root.invalidate();
    }
  }

  private recordMetadata(path: string, m: TarMember): void {
    const kind = m.type === "chardev" || m.type === "blockdev" || m.type === "fifo" ? m.type : undefined;
    const modeKept = m.type !== "file" && m.type !== "dir" ? true : onDiskMode(m.type, m.mode) === m.mode;
    if (!kind && m.uid === 0 && m.gid === 0 && m.xattrs.size === 0 && modeKept) {
      this.metadata.remove(path);
      return;
    }
    const record: MetadataRecord = { path, uid: m.uid, gid: m.gid, mode: m.mode };
    if (m.xattrs.size > 0) {
      record.xattrs = {};
      for (const [name, value] of m.xattrs) record.xattrs[name] = value.toString("base64");
    }
    if (kind) {
      record.kind = kind;
      if (kind !== "fifo") record.rdev = [m.devmajor, m.devminor];
      if (m.mtime >= 0 && m.mtime <= MAX_MTIME) record.mtime = m.mtime;
    }
    this.setRecord(record);
  }

  /** Records what mkrootfs will read, checked as it checks it: an image it would refuse fails here, naming the member. */
  private setRecord(record: MetadataRecord): void {
    checkEntry(record);
    this.metadata.set(record);
  }
}

/**
 * The mode a file or directory gets in the unpacked tree: the image's, but
 * always readable (and a directory searchable) by its owner, the stages'
 * uid, or mkrootfs could not copy it: an image's /etc/shadow is often 0000.
 * On the host the tree is also never writable by group or others, nor a
 * file setuid or setgid: those would hand other host users a tree they could
 * change before mkrootfs reads it, or programs running as the stages' uid.
 * When that differs from the image's mode, the image's goes in the metadata
 * and mkrootfs puts it back in the root image.
 */
export function onDiskMode(type: "file" | "dir", mode: number): number {
  return type === "dir" ? (mode | 0o500) & ~0o022 : (mode | 0o400) & ~0o6022;
}
