// Image descriptions from users' JSON files: every description the project
// ships passes; mistakes are named by their place in the JSON.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { checkImageDescription } from "../../../lib/oci/check-description.js";
import { projectRoot } from "../../../lib/paths.js";

const json = (path: string) => JSON.parse(readFileSync(path, "utf8"));

test("the examples and every scenario's image pass as they are", () => {
  const examples = readdirSync(join(projectRoot, "examples")).filter((f) => f.endsWith(".json"));
  const scenarios = readdirSync(join(projectRoot, "scenarios")).filter((f) => f.endsWith(".json"));
  assert.ok(examples.length > 0 && scenarios.length > 0);
  for (const f of examples) checkImageDescription(json(join(projectRoot, "examples", f)));
  for (const f of scenarios) checkImageDescription(json(join(projectRoot, "scenarios", f)).image);
});

test("mistakes are named by their JSON path", () => {
  const problem = (d: unknown) => {
    try {
      checkImageDescription(d);
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  assert.is(problem([]), "the description: expected an object");
  assert.is(problem({ layers: {} }), "layers: expected an array");
  assert.is(problem({ layers: [{ entries: [{ type: "dir" }] }] }), "layers[0].entries[0].path: expected a non-empty string");
  assert.is(problem({ layers: [{ entries: [{ type: "symlink", path: "/l" }] }] }), "layers[0].entries[0].target: expected a non-empty string");
  assert.is(problem({ layers: [{ entries: [{ type: "chardev", path: "/c", major: 1 }] }] }), "layers[0].entries[0].minor: missing");
  assert.is(problem({ layers: [{ entries: [{ type: "file", path: "/f", mode: -1 }] }] }), "layers[0].entries[0].mode: expected a whole number");
  assert.is(problem({ layers: [{ entries: [{ type: "file", path: "/f", random: { seed: 1 } }] }] }), "layers[0].entries[0].random.size: missing");
  assert.is(problem({ layers: [{ compression: "xz" }] }), 'layers[0].compression: "xz": expected one of none, gzip, zstd');
  assert.is(problem({ config: { labels: { a: 1 } } }), "config.labels: expected string values");
  assert.is(problem({ platform: { os: "linux" } }), "platform.architecture: expected a string");
  assert.is(problem({ base: "scratch", config: { cmd: ["true"], env: ["A=1"] } }), "accepted");
});

test.run();
