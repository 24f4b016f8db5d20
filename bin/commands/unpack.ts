// bencher-run unpack: an OCI image → rootfs/, metadata.jsonl, config.json.
import { defineCommand } from "citty";
import { existsSync } from "node:fs";
import { formatLocalImage, parseLocalImage } from "../../stages/unpack/local-image.js";
import { parsePlatform } from "../../stages/unpack/platform.js";
import type { UnpackRequest } from "../../stages/unpack/request.js";
import type { UnpackResult } from "../../stages/unpack/unpack.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { parseUnpackResult } from "../../stages/unpack/result.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { abandonOutputDir, inputPath, outputDir, stageMustRead } from "../cli/paths.js";
import { CommandLineError } from "../cli/command-error.js";
import { credentialsForImage, withAuthNote } from "../cli/registry-credentials.js";
import { AUTHFILE_HELP } from "../../lib/oci/auth-file.js";

/**
 * A local image (file or directory) is bound read-only; anything else is a
 * registry reference and needs the network. A local path that does not exist
 * is left to the stage, which reports it.
 */
export function classifyImage(image: string): { request: string; bind: string | null; network: boolean } {
  const local = parseLocalImage(image);
  if (!local) return { request: image, bind: null, network: true };
  return { request: formatLocalImage(local), bind: existsSync(local.path) ? local.path : null, network: false };
}

export default defineCommand({
  meta: { name: "unpack", description: "Unpack an OCI image (layout, archive, docker save, or registry) into a directory: rootfs/, metadata.jsonl, config.json" },
  args: {
    image: { type: "string", required: true, description: "OCI layout dir (DIR:REF for one of several), OCI/docker archive (docker-archive:FILE:REPO:TAG for one of several), or registry reference host[:port]/name[:tag|@digest]", valueHint: "image" },
    out: { type: "string", required: true, description: "Directory to create (or an empty one) for the unpacked image", valueHint: "dir" },
    platform: { type: "string", description: "os/arch[/variant] (default linux/amd64)" },
    "plain-http": {
      type: "boolean",
      description: "Talk plain HTTP to the registry (default: only to a loopback registry, and not with --registry-ca)",
      negativeDescription: "Talk HTTPS even to a loopback registry",
    },
    "registry-ca": { type: "string", description: "PEM file of CA certificates to trust for the registry's HTTPS, besides the usual ones", valueHint: "file" },
    authfile: { type: "string", description: AUTHFILE_HELP, valueHint: "file" },
    json: commonArgs.json,
    verbose: commonArgs.verbose,
  },
  async run({ args }) {
    if (args.image.trim() === "") throw new CommandLineError("--image: empty (an OCI layout, archive or registry reference)");
    if (args.platform !== undefined) platformArg(args.platform);
    if (args["plain-http"] === true && args["registry-ca"] !== undefined) throw new CommandLineError("--plain-http and --registry-ca: a CA is for HTTPS; give one of them");
    const image = classifyImage(args.image);
    const registryCa = args["registry-ca"] ? inputPath("registry-ca", args["registry-ca"], "file") : undefined;
    const authFile = args.authfile !== undefined ? inputPath("authfile", args.authfile, "file") : undefined;
    if (image.bind) stageMustRead("image", args.image, image.bind);
    if (registryCa) stageMustRead("registry-ca", args["registry-ca"]!, registryCa);
    const auth = credentialsForImage(image.request, authFile); // an auth file that cannot be used is its own one-line error
    const out = outputDir("out", args.out);
    const request: UnpackRequest = { image: image.request, out: out.path };
    if (args.platform !== undefined) request.platform = args.platform;
    if (args["plain-http"] !== undefined) request.plainHttp = args["plain-http"];
    if (registryCa) request.registryCa = registryCa;
    if (auth.credentials) request.auth = auth.credentials;
    try {
      const result = await callSandboxedStage<UnpackResult>("unpack", request, {
        readOnly: [...(image.bind ? [image.bind] : []), ...(registryCa ? [registryCa] : [])],
        writable: [out.path],
        network: image.network,
      }, createReporter({ verbose: args.verbose }), (raw) => parseUnpackResult(raw, out.path));
      printResult(args.json ?? false, { stage: "unpack", out: out.path, ...result }, [
        `unpacked ${result.digest} (${result.layers} layers, ${result.files} files, ${result.bytes} bytes) into ${out.path}`,
      ]);
    } catch (err) {
      abandonOutputDir(out);
      throw withAuthNote(err, auth);
    }
  },
});

/** --platform, checked here so that a typo is the command line's error (exit 2), in its words. */
function platformArg(value: string): void {
  try {
    parsePlatform(value);
  } catch {
    throw new CommandLineError(`--platform ${JSON.stringify(value)}: expected os/architecture[/variant], such as linux/amd64 or linux/arm64/v8`);
  }
}
