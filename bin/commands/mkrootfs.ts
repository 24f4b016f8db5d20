// bencher-run mkrootfs: an unpacked image directory → an ext4 (or squashfs) image.
import { defineCommand } from "citty";
import { join } from "node:path";
import { MAX_DISK_MIB, SQUASHFS_DISK_SIZE, type MkrootfsRequest } from "../../stages/mkrootfs/request.js";
import type { MkrootfsResult } from "../../stages/mkrootfs/mkrootfs.js";
import { rootfsCacheDir } from "../../stages/mkrootfs/cache.js";
import { withRunWorkdir } from "../../lib/workdir/run-workdir.js";
import { commonArgs } from "../cli/common-args.js";
import { callSandboxedStage } from "../cli/stage-call.js";
import { parseMkrootfsResult } from "../../stages/mkrootfs/result.js";
import { createReporter } from "../cli/progress.js";
import { printResult } from "../cli/output.js";
import { inputPath, outputFile, stageMustRead, wholeNumberIn } from "../cli/paths.js";
import { moveFile } from "../cli/move-file.js";
import { CommandLineError } from "../cli/command-error.js";
import { giveToStage, returnFromStage } from "../../lib/sandbox/stage-identity.js";
import { makeDirectory } from "../../lib/fs/make-directory.js";

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
    const cacheDir = rootfsCacheDir();
    makeDirectory(cacheDir, 0o755);
    giveToStage(cacheDir); // bencher-run's own cache: the stage adds images to it

    const result = await withRunWorkdir({ root: args.workdir, keep: args.keep }, async (workdir) => {
      // The stage writes into the run's work directory; the file is moved to --out afterwards.
      const staging = finalOut ? workdir.stageDir("mkrootfs") : undefined;
      const request: MkrootfsRequest = { input, fs, cache: args.cache ?? true };
      if (staging) request.out = join(staging, `image.${fs}`);
      if (diskMiB !== undefined) request.diskMiB = diskMiB;
      const made = await callSandboxedStage<MkrootfsResult>("mkrootfs", request, {
        readOnly: [input],
        writable: [cacheDir, ...(staging ? [staging] : [])],
      }, createReporter({ verbose: args.verbose }), (raw) => parseMkrootfsResult(raw, { cacheDir, fs, ...(request.out !== undefined ? { out: request.out } : {}) }));
      if (finalOut && request.out) {
        moveFile(request.out, finalOut, `--out ${args.out}`);
        returnFromStage(finalOut); // a copy of its own (never the cache's inode): the caller's
        return { ...made, image: finalOut };
      }
      return made;
    });
    printResult(args.json ?? false, { stage: "mkrootfs", ...result }, [
      `${result.cached ? "cached" : "built"} ${result.fs} image ${result.image} (${result.bytes} bytes)`,
    ]);
  },
});
