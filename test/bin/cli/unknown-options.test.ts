// Options a command does not declare are found before it runs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ArgsDef } from "citty";
import { unknownOption } from "../../../bin/cli/unknown-options.js";

const args: ArgsDef = {
  kernel: { type: "string" },
  "memory-mib": { type: "string" },
  env: { type: "string", alias: ["e"] },
  json: { type: "boolean" },
  "plain-http": { type: "boolean" },
  action: { type: "positional" },
};

test("declared options, their values, aliases, --no- forms and positionals pass", () => {
  assert.is(unknownOption([], args), undefined);
  assert.is(unknownOption(["--kernel", "/k", "--memory-mib=512", "--json", "prune"], args), undefined);
  assert.is(unknownOption(["-e", "A=1", "--env=B=2", "--no-plain-http"], args), undefined);
  assert.is(unknownOption(["--kernel", "--json"], args), undefined, "a string option's value is not an option, even when it looks like one");
  assert.is(unknownOption(["--memory-mib", "-1"], args), undefined, "a negative value is left to the command's own check");
  assert.is(unknownOption(["--json", "--", "--anything"], args), undefined, "after -- nothing is an option");
});

test("the first undeclared option is named as typed", () => {
  assert.is(unknownOption(["--kernal", "/k"], args), "--kernal");
  assert.is(unknownOption(["--json", "--cpu=1", "--bogus"], args), "--cpu");
  assert.is(unknownOption(["-x"], args), "-x");
  assert.is(unknownOption(["--no-json-at-all"], args), "--no-json-at-all");
  assert.is(unknownOption(["--no-kernel"], args), "--no-kernel", "--no- only for a boolean");
  assert.is(unknownOption(["prune", "--max"], args), "--max");
});

test.run();
