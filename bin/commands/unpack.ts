// bencher-run unpack: an OCI image → rootfs/, metadata.jsonl, config.json.
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { UnpackRequest } from "../../stages/unpack/request.js";
import type { UnpackResult } from "../../stages/unpack/unpack.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { outputDir } from "../cli/paths.js";
import { removeTree } from "../../lib/workdir/remove-tree.js";

const LOCAL_PREFIXES = ["oci:", "oci-archive:", "docker-archive:"];

/** A local image (file or directory) gets bound read-only; anything else is a registry reference and needs the network. */
export function classifyImage(image: string): { request: string; local: string | null } {
  const prefix = LOCAL_PREFIXES.find((p) => image.startsWith(p)) ?? "";
  const rest = image.slice(prefix.length);
  const local = resolve(rest);
  if (prefix || existsSync(local)) return { request: prefix + local, local };
  return { request: image, local: null };
}

export default defineCommand({
  meta: { name: "unpack", description: "Unpack an OCI image (layout, archive, docker save, or registry) into a directory: rootfs/, metadata.jsonl, config.json" },
  args: {
    image: { type: "string", required: true, description: "OCI layout dir, OCI/docker archive, or registry reference host[:port]/name[:tag|@digest]", valueHint: "image" },
    out: { type: "string", required: true, description: "Directory to create (or an empty one) for the unpacked image", valueHint: "dir" },
    platform: { type: "string", description: "os/arch[/variant] (default linux/amd64)" },
    "plain-http": { type: "boolean", description: "Talk plain HTTP to the registry (always done for loopback)" },
    json: commonArgs.json,
    verbose: commonArgs.verbose,
  },
  async run({ args }) {
    const image = classifyImage(args.image);
    const out = outputDir("out", args.out);
    const request: UnpackRequest = { image: image.request, out: out.path };
    if (args.platform) request.platform = args.platform;
    if (args["plain-http"]) request.plainHttp = true;
    try {
      const result = await callSandboxedStage<UnpackResult>("unpack", request, {
        readOnly: image.local ? [image.local] : [],
        writable: [out.path],
        network: image.local === null,
      }, createReporter({ verbose: args.verbose }));
      printResult(args.json ?? false, { stage: "unpack", out: out.path, ...result }, [
        `unpacked ${result.digest} (${result.layers} layers, ${result.files} files, ${result.bytes} bytes) into ${out.path}`,
      ]);
    } catch (err) {
      if (out.created) removeTree(out.path);
      throw err;
    }
  },
});
