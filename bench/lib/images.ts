// The images the benchmarks use, built with lib/oci once and kept under
// cacheRoot()/bench/images (bump IMAGE_VERSION when their content changes).
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import type { EntryDescription, ImageDescription, LayerDescription } from "../../lib/oci/description.js";
import { cacheRoot } from "../../lib/paths.js";

const IMAGE_VERSION = 1;
export const IMAGE_TAG = "bench:latest";
const PATH_ENV = "PATH=/usr/local/bin:/usr/bin:/bin";

export function benchCacheDir(): string {
  return join(cacheRoot(), "bench");
}

/** An OCI layout directory for `description`, built on first use. */
export async function cachedImage(name: string, description: () => ImageDescription, log: (m: string) => void): Promise<string> {
  const dir = join(benchCacheDir(), "images", `${name}-v${IMAGE_VERSION}`);
  if (existsSync(join(dir, "index.json"))) return dir;
  mkdirSync(join(benchCacheDir(), "images"), { recursive: true });
  const partial = `${dir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  log(`building benchmark image ${name} (once) in ${dir}`);
  try {
    await buildImage(description(), { format: "oci-dir", out: partial, tag: IMAGE_TAG });
    rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return dir;
}

/** Text that compresses about as well as source files do. */
function text(seed: number, length: number): string {
  const line = `generated benchmark line ${seed} ${(seed * 7919) % 10007} lorem ipsum dolor sit amet\n`;
  return line.repeat(Math.ceil(length / line.length)).slice(0, length);
}

const LARGE_FILE_MAX = 64 << 20;

/**
 * About `totalBytes` of files shaped like a real image: 30 % of the bytes in
 * small files (0.5–32 KiB, half text, half incompressible, in directories
 * of 100, with a symlink every 50), 70 % in large incompressible files of at
 * most 64 MiB; two gzip layers of small files and one of large ones.
 */
export function mixedImage(totalBytes: number): ImageDescription {
  const smallBudget = Math.floor(totalBytes * 0.3);
  const layers: LayerDescription[] = [{ compression: "gzip", entries: [] }, { compression: "gzip", entries: [] }];
  let used = 0;
  for (let n = 0; used < smallBudget; n++) {
    const size = Math.min(smallBudget - used, 512 + ((n * 2654435761) % (32 * 1024 - 512)));
    used += size;
    const dir = `/usr/share/bench/d${Math.floor(n / 100)}`;
    const entries = layers[n % 2].entries!;
    entries.push(n % 2 === 0
      ? { type: "file", path: `${dir}/f${n}.txt`, content: text(n, size), mode: 0o644 }
      : { type: "file", path: `${dir}/f${n}.bin`, random: { size, seed: n }, mode: 0o755 });
    if (n % 50 === 0) entries.push({ type: "symlink", path: `${dir}/link${n}`, target: `f${n}.${n % 2 === 0 ? "txt" : "bin"}` });
  }
  const large: EntryDescription[] = [];
  for (let left = totalBytes - used, i = 0; left > 0; i++) {
    const size = Math.min(left, LARGE_FILE_MAX);
    large.push({ type: "file", path: `/opt/large/blob${i}`, random: { size, seed: 100_000 + i } });
    left -= size;
  }
  layers.push({ compression: "gzip", entries: large });
  return { layers, config: { env: [PATH_ENV], cmd: ["/bin/sh"] } };
}

export const ECHO_TEXT = "hello from bencher-run";

/** busybox and `echo hello…`: the end-to-end image. `nonce` changes the digest (so its root image is not cached). */
export function echoImage(nonce?: string): ImageDescription {
  return {
    base: "busybox",
    config: { env: [PATH_ENV], cmd: ["echo", ECHO_TEXT], ...(nonce ? { labels: { "bench.nonce": nonce } } : {}) },
  };
}

/** busybox plus the cpu-loop binary, run `times` times in a row by the image's command. */
export function cpuLoopImage(binary: string, times: number): ImageDescription {
  return {
    base: "busybox",
    layers: [{ compression: "gzip", entries: [
      { type: "dir", path: "usr/local/bin" },
      { type: "file", path: "usr/local/bin/cpu-loop", hostFile: binary, mode: 0o755 },
    ] }],
    config: {
      env: [PATH_ENV],
      cmd: ["sh", "-c", `i=0; while [ $i -lt ${times} ]; do cpu-loop || exit 1; i=$((i+1)); done`],
    },
  };
}
