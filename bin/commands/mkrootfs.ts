// bencher-run mkrootfs: an unpacked image directory → an ext4 (or squashfs)
// image. The directory's config.json names the image's digest, but nothing
// here can check that it describes the tree: the image is cached keyed by the
// directory too (a claim of that directory's, never an entry a pipeline run
// of a checked image boots).
import { defineCommand } from "citty";
import { join } from "node:path";
import { MAX_DISK_MIB, SQUASHFS_DISK_SIZE, type MkrootfsRequest } from "../../stages/mkrootfs/request.js";
import type { MkrootfsResult } from "../../stages/mkrootfs/mkrootfs.js";
import { openUnpackedImage } from "../../stages/mkrootfs/input.js";
import { cachedRootImage } from "../../lib/rootfs-cache/cached-build.js";
import { claimedByDirectory } from "../../lib/rootfs-cache/cache.js";
import { withRunWorkdir } from "../../lib/workdir/run-workdir.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { parseMkrootfsResult } from "../../stages/mkrootfs/result.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { inputPath, outputFile, stageMustRead, wholeNumberIn } from "../cli/paths.js";
import { copyFile, moveFile } from "../cli/move-file.js";
import { CommandError, CommandLineError } from "../cli/command-error.js";
import { returnFromStage } from "../../lib/sandbox/stage-identity.js";
import { describeError } from "../../lib/ipc/errors.js";

export default defineCommand({
  meta: { name: "mkrootfs", description: "Build a root file system image from an unpacked image directory (content-addressed cache)" },
  args: {
    input: { type: "string", required: true, description: "Unpacked image directory (rootfs/, metadata.jsonl, config.json)", valueHint: "dir" },
    out: { type: "string", description: "Where to write the image (default: print the cached image's path)", valueHint: "file" },
    fs: { type: "enum", options: ["ext4", "squashfs"], default: "ext4", description: "File system" },
    "disk-mib": { type: "string", description: "ext4 disk size in MiB (default: content plus headroom)", valueHint: "MiB" },
    cache: { type: "boolean", default: true, description: "Use the image cache", negativeDescription: "Build straight into --out, bypassing the cache" },
    ...commonArgs,
  },
  async run({ args }) {
    // The command line first (exit 2), then the files it names (exit 1).
    if (!args.cache && !args.out) throw new CommandLineError("--no-cache needs --out (where to write the image)");
    const fs = args.fs as MkrootfsRequest["fs"];
    const diskMiB = wholeNumberIn("disk-mib", args["disk-mib"], 1, MAX_DISK_MIB); // the stage's bound, in the option's words
    if (diskMiB !== undefined && fs === "squashfs") throw new CommandLineError(`--disk-mib: ${SQUASHFS_DISK_SIZE}`);
    const input = inputPath("input", args.input, "dir");
    // The stage runs as another uid under root: a file it may not read is named here, not misread there.
    stageMustRead("input", args.input, input, { followLinks: false });
    const finalOut = args.out ? outputFile("out", args.out) : undefined;

    const reporter = createReporter({ verbose: args.verbose });
    const result = await withRunWorkdir({ root: args.workdir, keep: args.keep }, async (workdir) => {
      // The stage writes into the run's work directory and nowhere else.
      const staging = workdir.stageDir("mkrootfs");
      const build = async (out: string): Promise<MkrootfsResult> => {
        const request: MkrootfsRequest = { input, out, fs };
        if (diskMiB !== undefined) request.diskMiB = diskMiB;
        return callSandboxedStage<MkrootfsResult>("mkrootfs", request, { readOnly: [input], writable: [staging] }, reporter, (raw) => parseMkrootfsResult(raw, { fs, out }));
      };
      if (!args.cache) {
        const made = await build(join(staging, `image.${fs}`));
        moveFile(made.image, finalOut!, `--out ${args.out}`);
        returnFromStage(finalOut!); // the stage made it as its own uid: now the caller's
        return { ...made, image: finalOut!, cached: false };
      }
      const { digest, platform } = claimedIdentity(input);
      const made = await cachedRootImage({ digest, origin: claimedByDirectory(input), fs, diskMiB, platform }, staging, build);
      if (!finalOut) return made;
      // A writable copy of its own, never the cache's read-only inode.
      copyFile(made.image, finalOut, `--out ${args.out}`, 0o644);
      return { ...made, image: finalOut };
    });
    printResult(args.json ?? false, { stage: "mkrootfs", ...result }, [
      `${result.cached ? "cached" : "built"} ${result.fs} image ${result.image} (${result.bytes} bytes)`,
    ]);
  },
});

/** The digest (and platform) the input's config.json claims: the stage reads the same file and checks it the same way. */
function claimedIdentity(input: string): { digest: string; platform?: string | undefined } {
  try {
    const { digest, platform } = openUnpackedImage(input);
    return { digest, platform };
  } catch (err) {
    throw new CommandError(`mkrootfs: ${describeError(err)}`);
  }
}
