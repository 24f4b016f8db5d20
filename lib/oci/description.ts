// The declarative description of a test image: plain JSON-able data, so that
// scenarios and tests can state an image instead of scripting one.

import type { Compression } from "./media-types.js";

interface Owned {
  /** Absolute or relative path inside the image; a leading "/" is dropped. */
  path: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch; defaults to a fixed date so builds are reproducible. */
  mtime?: number;
  /** xattr name → value (UTF-8 text, or {base64} for raw bytes). */
  xattrs?: Record<string, string | { base64: string }>;
}

export type EntryDescription =
  | (Owned & {
      type: "file";
      /** Exactly one of: text, base64 bytes, a host file to copy, or `random` pseudo-random bytes. */
      content?: string;
      base64?: string;
      /** A host file to copy; `bencher-run image` takes a relative path from the description's directory. */
      hostFile?: string;
      random?: { size: number; seed?: number };
    })
  | (Owned & { type: "dir" })
  | (Owned & { type: "symlink"; target: string })
  | { type: "hardlink"; path: string; target: string }
  /** Deletes `path` from lower layers (written as `dir/.wh.name`). */
  | { type: "whiteout"; path: string }
  /** Hides everything lower layers put in directory `path` (written as `path/.wh..wh..opq`). */
  | { type: "opaque"; path: string }
  | (Owned & { type: "chardev" | "blockdev"; major: number; minor: number })
  | (Owned & { type: "fifo" });

export interface LayerDescription {
  compression?: Compression;
  entries?: EntryDescription[];
  /** A ready-made (uncompressed) tar file used as the layer's content instead of `entries`: for crafted layers (relative: as hostFile). */
  tarFile?: string;
}

export interface ImageConfigDescription {
  env?: string[];
  workingDir?: string;
  entrypoint?: string[];
  cmd?: string[];
  user?: string;
  labels?: Record<string, string>;
}

export interface PlatformDescription {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageDescription {
  /** "busybox" puts Debian's static busybox and its applet links in a first layer. */
  base?: "busybox" | "scratch";
  /** Compression of the busybox base layer. */
  baseCompression?: Compression;
  layers?: LayerDescription[];
  config?: ImageConfigDescription;
  /** Defaults to linux/amd64. */
  platform?: PlatformDescription;
}
