// Scenario images, built once by lib/oci's builder and kept under the cache
// (cacheRoot()/scenario-images), keyed by what they are built from. A second
// run finds the same image path, so the pipeline's root image cache hits too.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildImage, type ImageFormat } from "../../lib/oci/build-image.js";
import { BUSYBOX_PATH } from "../../lib/oci/busybox-base.js";
import type { ImageDescription } from "../../lib/oci/description.js";
import { cacheRoot } from "../../lib/paths.js";

export function scenarioImageDir(): string {
  return join(cacheRoot(), "scenario-images");
}

const SUFFIX: Record<ImageFormat, string> = { "oci-dir": ".oci", "oci-archive": ".oci.tar", "docker-archive": ".docker.tar", "docker-dir": ".docker" };

function imageKey(image: ImageDescription, format: ImageFormat): string {
  // The busybox base copies the host's busybox: a different binary is a different image.
  const busybox = image.base === "busybox" && existsSync(BUSYBOX_PATH) ? statSync(BUSYBOX_PATH) : null;
  const identity = { builder: 1, format, image, busybox: busybox ? [busybox.size, busybox.mtimeMs] : null };
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex").slice(0, 32);
}

/** The path of the built image (building it on first use). */
export async function scenarioImage(image: ImageDescription, format: ImageFormat, dir = scenarioImageDir()): Promise<string> {
  const final = join(dir, imageKey(image, format) + SUFFIX[format]);
  if (existsSync(final)) return final;
  mkdirSync(dir, { recursive: true });
  const temp = join(dir, `tmp-${process.pid}-${randomBytes(4).toString("hex")}${SUFFIX[format]}`);
  try {
    await buildImage(image, { format, out: temp });
    try {
      renameSync(temp, final);
    } catch (err) {
      // Another runner built the same image first: theirs is identical.
      if (!existsSync(final)) throw err;
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return final;
}
