// Options a command does not declare are found before it runs.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { ArgsDef } from "citty";
import { unknownArgument } from "../../../bin/cli/unknown-options.js";

const args: ArgsDef = {
  kernel: { type: "string" },
  "memory-mib": { type: "string" },
  env: { type: "string", alias: ["e"] },
  json: { type: "boolean" },
  "plain-http": { type: "boolean" },
  action: { type: "positional" },
};

test("declared options, their values, aliases, --no- forms and positionals pass", () => {
  assert.is(unknownArgument([], args), undefined);
  assert.is(unknownArgument(["--kernel", "/k", "--memory-mib=512", "--json", "prune"], args), undefined);
  assert.is(unknownArgument(["-e", "A=1", "--env=B=2", "--no-plain-http"], args), undefined);
  assert.is(unknownArgument(["--kernel", "--json"], args), undefined, "a string option's value is not an option, even when it looks like one");
  assert.is(unknownArgument(["--memory-mib", "-1"], args), undefined, "a negative value is left to the command's own check");
  assert.is(unknownArgument(["--json", "--", "--anything"], args), undefined, "after -- nothing is an option");
  assert.is(unknownArgument(["--", "-"], args), undefined, "one positional, after --");
});

test("the first undeclared option is named as typed", () => {
  assert.is(unknownArgument(["--kernal", "/k"], args), "unknown option --kernal");
  assert.is(unknownArgument(["--json", "--cpu=1", "--bogus"], args), "unknown option --cpu");
  assert.is(unknownArgument(["-x"], args), "unknown option -x");
  assert.is(unknownArgument(["--no-json-at-all"], args), "unknown option --no-json-at-all");
  assert.is(unknownArgument(["--no-kernel"], args), "unknown option --no-kernel", "--no- only for a boolean");
  assert.is(unknownArgument(["prune", "--max"], args), "unknown option --max");
});

test("a value given to an option that takes none is refused (citty would take --json=no as true)", () => {
  assert.is(unknownArgument(["--json=no"], args), "--json takes no value");
  assert.is(unknownArgument(["--kernel", "/k", "--no-plain-http=1"], args), "--no-plain-http takes no value");
  assert.is(unknownArgument(["--", "--json=no"], args), undefined, "after --, it is a positional");
});

test("positional arguments beyond those declared are refused", () => {
  assert.is(unknownArgument(["prune", "now"], args), 'unexpected argument "now"');
  assert.is(unknownArgument(["--json", "prune", "--kernel", "/k", "extra"], args), 'unexpected argument "extra"');
  assert.is(unknownArgument(["prune", "--", "--json"], args), 'unexpected argument "--json"', "after --, everything is positional");
  assert.is(unknownArgument(["run", "basic_execution"], { json: { type: "boolean" } }), 'unexpected argument "run"');
});

test.run();
