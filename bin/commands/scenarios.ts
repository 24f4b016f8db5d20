// bencher-run scenarios: the end-to-end scenarios (not wired yet).
import { defineCommand } from "citty";
import { commonArgs } from "../cli/common-args.js";
import { notBuiltYet } from "../cli/command-error.js";

export default defineCommand({
  meta: { name: "scenarios", description: "List or run the end-to-end scenarios" },
  args: {
    name: { type: "positional", required: false, description: "Scenario to run (default: list them)" },
    json: commonArgs.json,
  },
  run() {
    notBuiltYet("scenarios");
  },
});
