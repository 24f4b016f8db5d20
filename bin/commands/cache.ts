// bencher-run cache: what is cached (root images, stale run directories) and pruning it.
import { defineCommand } from "citty";
import { listCache, pruneCache } from "../../stages/mkrootfs/cache.js";
import { sweepStaleRuns } from "../../lib/workdir/run-workdir.js";
import { defaultWorkRoot } from "../../lib/workdir/work-root.js";
import { cacheRoot } from "../../lib/paths.js";
import { printResult } from "../cli/output.js";
import { positiveInt } from "../cli/paths.js";

export default defineCommand({
  meta: { name: "cache", description: "Show the cache (root images) or prune it (also removes run directories left by killed runs)" },
  args: {
    action: { type: "positional", required: false, default: "list", description: "ls (or list) | prune" },
    "max-mib": { type: "string", description: "prune: keep at most this many MiB of root images", valueHint: "MiB" },
    json: { type: "boolean", description: "Print JSON" },
  },
  run({ args }) {
    const json = args.json ?? false;
    if (args.action === "ls" || args.action === "list") {
      const images = listCache();
      printResult(json, { cacheRoot: cacheRoot(), images }, [
        `cache: ${cacheRoot()}`,
        ...images.map((i) => JSON.stringify(i)),
      ]);
      return;
    }
    if (args.action === "prune") {
      const maxMiB = positiveInt("max-mib", args["max-mib"]);
      const pruned = pruneCache(maxMiB === undefined ? {} : { maxBytes: maxMiB * 1024 * 1024 });
      const staleRuns = sweepStaleRuns(defaultWorkRoot());
      printResult(json, { pruned, staleRuns }, [`pruned: ${JSON.stringify(pruned)}`, `stale run directories removed: ${staleRuns.length}`]);
      return;
    }
    throw new Error(`cache: unknown action ${JSON.stringify(args.action)} (expected ls or prune)`);
  },
});
