// The unpacked image directory that unpack hands us (docs/architecture.md,
// "unpack → mkrootfs"): checked up front so a wrong path fails in one line.
import { lstatSync } from "node:fs";
import { join, resolve } from "node:path";
import { isPlainObject } from "../../lib/ipc/errors.js";
import { systemReason } from "../../lib/fs/system-reason.js";
import { FileTooLargeError, NotRegularFileError, readSmallFile } from "../../lib/fs/read-small-file.js";

export interface UnpackedImage {
  dir: string;
  rootfs: string;
  metadataFile: string;
  /** The image digest from config.json: the cache key's identity of the content. */
  digest: string;
  /** config.json's platform ("linux/arm64"), when it names one. */
  platform?: string;
}

/** What config.json may hold: unpack writes a few hundred bytes. The coordinator reads it with the same bound. */
export const MAX_CONFIG_BYTES = 4 << 20;
/** An OCI platform as unpack writes it (stages/unpack/platform.ts): os/architecture[/variant]. */
const PLATFORM = /^[a-z0-9_.-]{1,64}\/[a-z0-9_.-]{1,64}(?:\/[a-z0-9_.-]{1,64})?$/i;

/** OCI digest grammar: algorithm ":" encoded. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isPlatform(value: unknown): value is string {
  return typeof value === "string" && PLATFORM.test(value);
}

export function isDigest(value: unknown): value is string {
  return typeof value === "string" && value.length <= 200 && DIGEST.test(value);
}

export function openUnpackedImage(input: string): UnpackedImage {
  const dir = resolve(input);
  const rootfs = join(dir, "rootfs");
  const metadataFile = join(dir, "metadata.jsonl");
  const configFile = join(dir, "config.json");
  // lstat throughout: the directory may come from a compromised unpack, and a
  // symlink (rootfs -> /etc) would copy host files into the image.
  const top = lstatSync(dir, { throwIfNoEntry: false });
  if (!top) throw new Error(`${input}: no such unpacked image directory`);
  if (!top.isDirectory()) throw new Error(`${input}: not a directory (expected an unpacked image directory)`);
  const rootfsKind = lstatSync(rootfs, { throwIfNoEntry: false });
  if (!rootfsKind) throw new Error(`${input}: missing rootfs/ directory`);
  if (!rootfsKind.isDirectory()) throw new Error(`${input}: rootfs is not a directory${rootfsKind.isSymbolicLink() ? " (a symlink)" : ""}`);
  const metadataKind = lstatSync(metadataFile, { throwIfNoEntry: false });
  if (!metadataKind) throw new Error(`${input}: missing metadata.jsonl`);
  if (!metadataKind.isFile()) throw new Error(`${metadataFile}: not a regular file${metadataKind.isSymbolicLink() ? " (a symlink)" : ""}`);

  let text: string;
  try {
    text = readSmallFile(configFile, MAX_CONFIG_BYTES).toString("utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new Error(`${configFile}: missing`);
    if (code === "ELOOP") throw new Error(`${configFile}: is a symlink, expected a regular file`);
    if (err instanceof NotRegularFileError) throw new Error(`${configFile}: not a regular file`);
    if (err instanceof FileTooLargeError) throw new Error(`${configFile}: ${err.size} bytes, more than a config.json holds (${MAX_CONFIG_BYTES})`);
    // Not "not valid JSON": a file the stage's uid may not read (EACCES) is another matter.
    throw new Error(`${configFile}: cannot be read: ${systemReason(err)}`);
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    throw new Error(`${configFile}: not valid JSON`);
  }
  if (!isPlainObject(config) || !isDigest(config.digest)) {
    throw new Error(`${configFile}: digest must be an OCI digest such as "sha256:<hex>"`);
  }
  const { platform } = config;
  if (platform !== undefined && !isPlatform(platform)) {
    throw new Error(`${configFile}: platform must be os/architecture[/variant] such as "linux/amd64", not ${JSON.stringify(String(platform).slice(0, 80))}`);
  }
  return { dir, rootfs, metadataFile, digest: config.digest, ...(platform !== undefined ? { platform } : {}) };
}
