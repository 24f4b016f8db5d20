// The unpacked image directory that unpack hands us (docs/architecture.md,
// "unpack → mkrootfs"): checked up front so a wrong path fails in one line.
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { isPlainObject } from "../../lib/ipc/errors.js";
import { systemReason } from "../../lib/fs/system-reason.js";

export interface UnpackedImage {
  dir: string;
  rootfs: string;
  metadataFile: string;
  /** The image digest from config.json: the cache key's identity of the content. */
  digest: string;
  /** config.json's platform ("linux/arm64"), when it names one. */
  platform?: string;
}

/** OCI digest grammar: algorithm ":" encoded. */
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export function isDigest(value: unknown): value is string {
  return typeof value === "string" && value.length <= 200 && DIGEST.test(value);
}

export function openUnpackedImage(input: string): UnpackedImage {
  const dir = resolve(input);
  const rootfs = join(dir, "rootfs");
  const metadataFile = join(dir, "metadata.jsonl");
  const configFile = join(dir, "config.json");
  let kind: string;
  try {
    kind = statSync(dir).isDirectory() ? "dir" : "other";
  } catch {
    throw new Error(`${input}: no such unpacked image directory`);
  }
  if (kind !== "dir") throw new Error(`${input}: not a directory (expected an unpacked image directory)`);
  if (!statSync(rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${input}: missing rootfs/ directory`);
  if (!statSync(metadataFile, { throwIfNoEntry: false })?.isFile()) throw new Error(`${input}: missing metadata.jsonl`);

  let text: string;
  try {
    text = readFileSync(configFile, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`${configFile}: missing`);
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
  return { dir, rootfs, metadataFile, digest: config.digest, ...(typeof config.platform === "string" ? { platform: config.platform } : {}) };
}
