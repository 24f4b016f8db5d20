// bencher-run image: build an OCI image from a JSON description with the
// project's own image builder (lib/oci), for examples and tests: no Docker needed.
import { defineCommand } from "citty";
import { closeSync, lstatSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { hasImageMarker, isImageDirectoryName, isImageFileName } from "../../lib/oci/image-file-names.js";
import { indexArchive } from "../../stages/unpack/archive-index.js";
import { MakeDirectoryError, makeDirectory, removeMadeDirectories } from "../../lib/fs/make-directory.js";
import type { ImageDescription } from "../../lib/oci/description.js";
import { checkImageDescription } from "../../lib/oci/check-description.js";
import { interruptSignal } from "../../lib/workdir/interrupts.js";
import { CommandError, CommandLineError } from "../cli/command-error.js";
import { printResult } from "../cli/output.js";

const FORMATS = ["oci-dir", "oci-archive", "docker-archive", "docker-dir"] as const;
type Format = (typeof FORMATS)[number];

function readDescription(path: string): ImageDescription {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory, expected a file" : (err as Error).message;
    throw new CommandError(`image description ${path}: ${why}`);
  }
  try {
    // Relative hostFile and tarFile paths are the description's, as a Dockerfile's are its context's.
    return checkImageDescription(JSON.parse(text), dirname(resolve(path)));
  } catch (err) {
    throw new CommandError(`image description ${path}: ${(err as Error).message}`);
  }
}

/**
 * What is at `path`, a symlink itself (even a dangling one: there, and not an
 * image); undefined when nothing is, a file in place of a parent included
 * (the build then says which).
 */
function whatIsAt(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/**
 * Why `path` is not something `image` could have written, so --force never
 * deletes a user's directory or tar for a mistyped --out: it must hold an
 * image's files and nothing else (lib/oci/image-file-names.ts); undefined
 * when it does.
 */
function whyNotAnImage(path: string, st: Stats): string | undefined {
  if (st.isFile()) return whyNotAnImageArchive(path);
  if (st.isSymbolicLink()) return "is a symlink (--force replaces an image, never what a link points at)";
  if (!st.isDirectory()) return "exists and is neither a directory nor a file";
  // oci-dir has oci-layout; docker-dir (docker save, unpacked) has manifest.json.
  if (!hasImageMarker(readdirSync(path))) return "exists and is not an image directory (no oci-layout or manifest.json)";
  const other = firstNonImageEntry(path, "");
  return other === undefined ? undefined : `exists and holds ${JSON.stringify(other)}, which no image has`;
}

function whyNotAnImageArchive(path: string): string | undefined {
  if (!isTarArchive(path)) return "exists and is not an image archive (not a tar file)";
  let members: string[];
  try {
    members = [...indexArchive(path).keys()];
  } catch (err) {
    return `exists and is not an image archive (${(err as Error).message})`;
  }
  if (!hasImageMarker(members)) return "exists and is a tar file with no oci-layout or manifest.json, not an image archive";
  const other = members.find((member) => !isImageFileName(member));
  return other === undefined ? undefined : `exists and is a tar file holding ${JSON.stringify(other)}, which no image has`;
}

/** The first entry under `dir` that an image directory does not hold (a symlink included), by relative path. */
function firstNonImageEntry(dir: string, prefix: string): string | undefined {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const rel = prefix + entry.name;
    if (entry.isDirectory()) {
      if (!isImageDirectoryName(rel)) return rel;
      const inner = firstNonImageEntry(join(dir, entry.name), `${rel}/`);
      if (inner !== undefined) return inner;
    } else if (!entry.isFile() || !isImageFileName(rel)) return rel;
  }
  return undefined;
}

/** Whether `path` starts with a POSIX tar header (oci-archive, docker-archive): "ustar" at offset 257. */
function isTarArchive(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const header = Buffer.alloc(512);
    return readSync(fd, header, 0, 512, 0) === 512 && header.subarray(257, 262).toString("latin1") === "ustar";
  } finally {
    closeSync(fd);
  }
}

/** Puts the new build at `out` and removes the old image. */
function swapIn(built: string, out: string): void {
  const old = join(dirname(out), `.${basename(out)}.old-${process.pid}`);
  renameSync(out, old);
  renameSync(built, out);
  rmSync(old, { recursive: true, force: true });
}

export default defineCommand({
  meta: { name: "image", description: "Build an OCI image from a JSON image description (see lib/oci/description.ts and examples/)" },
  args: {
    description: { type: "positional", required: true, description: "The image description (JSON)", valueHint: "file.json" },
    out: { type: "string", required: true, description: "Where to write the image (a new directory, or an archive file)", valueHint: "path" },
    format: { type: "string", default: "oci-dir", description: `One of ${FORMATS.join(", ")}` },
    force: { type: "boolean", description: "Replace --out if it holds an image already (one this command could have written)" },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const format = args.format as Format;
    if (!FORMATS.includes(format)) throw new CommandLineError(`--format ${JSON.stringify(args.format)}: expected one of ${FORMATS.join(", ")}`);
    const description = readDescription(resolve(args.description));
    const out = resolve(args.out);
    const existing = whatIsAt(out);
    const replacing = existing !== undefined;
    if (existing) {
      if (!args.force) throw new CommandError(`--out ${args.out}: already exists (--force replaces it)`);
      const notImage = whyNotAnImage(out, existing);
      if (notImage) throw new CommandError(`--out ${args.out}: ${notImage}, not replaced`);
    }
    // Built beside --out and put in place at the end: a build that fails, or
    // is killed, never leaves a partial image at --out (nor spoils one being replaced).
    const target = join(dirname(out), `.${basename(out)}.new-${process.pid}`);
    let built;
    let madeParents: string[] = [];
    try {
      madeParents = makeDirectory(dirname(target));
      // Ctrl-C stops the build, which removes what it wrote (an old image being replaced stays).
      built = await buildImage(description, { format, out: target, signal: interruptSignal() });
    } catch (err) {
      removeMadeDirectories(madeParents); // a failed build leaves no directories made for it
      if (err instanceof MakeDirectoryError) throw new CommandError(`--out ${args.out}: ${err.message}`);
      throw err;
    }
    if (replacing) swapIn(target, out);
    else renameSync(target, out);
    // The image ID (config digest) is what bencher-run caches root images by, whatever the format;
    // the manifest digest differs between OCI and docker media types.
    const id = built.images[0]?.config.digest;
    printResult(args.json ?? false, { image: out, format, id, digest: built.digest }, [`${out} (${format}, image ID ${id})`]);
  },
});
