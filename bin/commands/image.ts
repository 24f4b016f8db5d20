// bencher-run image: build an OCI image from a JSON description with the
// project's own image builder (lib/oci), for examples and tests: no Docker needed.
import { defineCommand } from "citty";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { MakeDirectoryError } from "../../lib/fs/make-directory.js";
import type { ImageDescription } from "../../lib/oci/description.js";
import { CommandError } from "../cli/command-error.js";
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
    throw new CommandError(`image description ${path}: ${why}`, 2);
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as ImageDescription;
  } catch (err) {
    throw new CommandError(`image description ${path}: ${(err as Error).message}`, 2);
  }
}

export default defineCommand({
  meta: { name: "image", description: "Build an OCI image from a JSON image description (see lib/oci/description.ts and examples/)" },
  args: {
    description: { type: "positional", required: true, description: "The image description (JSON)", valueHint: "file.json" },
    out: { type: "string", required: true, description: "Where to write the image (a new directory, or an archive file)", valueHint: "path" },
    format: { type: "string", default: "oci-dir", description: `One of ${FORMATS.join(", ")}` },
    json: { type: "boolean", description: "Print JSON" },
  },
  async run({ args }) {
    const format = args.format as Format;
    if (!FORMATS.includes(format)) throw new CommandError(`--format ${JSON.stringify(args.format)}: expected one of ${FORMATS.join(", ")}`, 2);
    const description = readDescription(resolve(args.description));
    const out = resolve(args.out);
    if (existsSync(out)) throw new CommandError(`--out ${args.out}: already exists`, 2);
    let built;
    try {
      built = await buildImage(description, { format, out });
    } catch (err) {
      if (err instanceof MakeDirectoryError) throw new CommandError(`--out ${args.out}: ${err.message}`);
      throw err;
    }
    // The image ID (config digest) is what bencher-run caches root images by, whatever the format;
    // the manifest digest differs between OCI and docker media types.
    const id = built.images[0]?.config.digest;
    printResult(args.json ?? false, { image: out, format, id, digest: built.digest }, [`${out} (${format}, image ID ${id})`]);
  },
});
