// bencher-run cache: what is cached (root images, stale run directories) and pruning it.
import { defineCommand } from "citty";
import { DEFAULT_CACHE_MAX_BYTES, listCache, pruneCache, unfinishedBuilds } from "../../lib/rootfs-cache/cache.js";
import { sweepStaleRuns } from "../../lib/workdir/run-workdir.js";
import { defaultWorkRoot } from "../../lib/workdir/work-root.js";
import { cacheRoot } from "../../lib/paths.js";
import { printResult } from "../cli/output.js";
import { cacheListing, pruneReport } from "../cli/cache-listing.js";
import { CommandLineError } from "../cli/command-error.js";
import { wholeNumberIn } from "../cli/paths.js";

export default defineCommand({
  meta: { name: "cache", description: "Show the cache (root images) or prune it (also removes run directories left by killed runs)" },
  args: {
    action: { type: "positional", required: false, default: "list", description: "ls (or list) | prune" },
    "max-mib": { type: "string", description: `prune: keep at most this many MiB of root images (0 empties the cache; default ${DEFAULT_CACHE_MAX_BYTES / 2 ** 20})`, valueHint: "MiB" },
    json: { type: "boolean", description: "Print JSON" },
  },
  run({ args }) {
    const json = args.json ?? false;
    if (args.action === "ls" || args.action === "list") {
      if (args["max-mib"] !== undefined) throw new CommandLineError("--max-mib applies to prune only (see bencher-run cache --help)");
      const images = listCache();
      const unfinished = unfinishedBuilds();
      printResult(json, { cacheRoot: cacheRoot(), images, unfinished }, cacheListing(cacheRoot(), images, unfinished));
      return;
    }
    if (args.action === "prune") {
      const maxMiB = wholeNumberIn("max-mib", args["max-mib"], 0, Math.floor(Number.MAX_SAFE_INTEGER / 2 ** 20));
      const pruned = pruneCache(maxMiB === undefined ? {} : { maxBytes: maxMiB * 1024 * 1024 });
      const staleRuns = sweepStaleRuns(defaultWorkRoot());
      printResult(json, { pruned, staleRuns }, pruneReport(pruned, staleRuns.length));
      return;
    }
    throw new CommandLineError(`unknown action ${JSON.stringify(args.action)}: expected ls (or list) or prune (see bencher-run cache --help)`);
  },
});
