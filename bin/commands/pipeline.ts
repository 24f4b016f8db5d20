// bencher-run pipeline: image → unpack → mkrootfs → boot → collect (not wired yet).
import { defineCommand } from "citty";
import { commonArgs } from "../cli/common-args.js";
import { notBuiltYet } from "../cli/command-error.js";

export default defineCommand({
  meta: { name: "pipeline", description: "Run a benchmark image end to end in a VM and report what it produced" },
  args: {
    image: { type: "string", required: true, description: "The benchmark image (as for unpack)", valueHint: "image" },
    out: { type: "string", description: "Directory for the results", valueHint: "dir" },
    ...commonArgs,
  },
  run() {
    notBuiltYet("pipeline");
  },
});
