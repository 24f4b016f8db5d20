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

test("values the builder would mangle or a later stage refuse are named up front", () => {
  const problem = (entry: Record<string, unknown>) => {
    try {
      checkImageDescription({ layers: [{ entries: [entry] }] });
    } catch (err) {
      return (err as Error).message;
    }
    return "accepted";
  };
  const at = "layers[0].entries[0]";
  assert.is(problem({ type: "file", path: "///" }), `${at}.path: "///" names the image's root, not an entry in it`);
  assert.is(problem({ type: "whiteout", path: "/" }), `${at}.path: "/" names the image's root, not an entry in it`);
  assert.is(problem({ type: "file", path: "a/../../etc/x" }), `${at}.path: "a/../../etc/x": ".." is not allowed (to craft such a layer, give a tarFile)`);
  assert.is(problem({ type: "file", path: "/f", mode: 4294967295 }), `${at}.mode: 4294967295 (0o37777777777): expected permission bits, at most 0o7777 (4095)`);
  assert.is(problem({ type: "chardev", path: "/c", major: 16777216, minor: 1 }), `${at}.major: 16777216: Linux device majors go up to 4095`);
  assert.is(problem({ type: "blockdev", path: "/b", major: 8, minor: 1048576 }), `${at}.minor: 1048576: Linux device minors go up to 1048575`);
  assert.is(problem({ type: "file", path: "/f", base64: "not base64!" }), `${at}.base64: expected base64 text (A-Z, a-z, 0-9, +, /, padded with = to a multiple of 4)`);
  assert.is(problem({ type: "file", path: "/f", xattrs: { "user.a": 5 } }), `${at}.xattrs["user.a"]: expected a string, or {"base64": ...} for raw bytes`);
  assert.is(problem({ type: "file", path: "/f", xattrs: { "user.a=b": "v" } }), `${at}.xattrs["user.a=b"]: an xattr name is not empty and holds no "=" or NUL (PAX records could not carry it)`);
  assert.is(problem({ type: "file", path: "/f", xattrs: { "": "v" } }), `${at}.xattrs[""]: an xattr name is not empty and holds no "=" or NUL (PAX records could not carry it)`);
  assert.is(problem({ type: "file", path: "/f", xattrs: { "user.b": { base64: "AAE=" } }, base64: "aGk=", mode: 0o4755 }), "accepted");
});

test("relative hostFile and tarFile paths are the description's directory's, made absolute", () => {
  const dir = join(projectRoot, "examples");
  const d = checkImageDescription({ layers: [{ entries: [{ type: "file", path: "/x", hostFile: "hello-bench.json" }] }, { tarFile: "../package.json" }] }, dir);
  assert.is((d.layers![0].entries![0] as { hostFile: string }).hostFile, join(dir, "hello-bench.json"));
  assert.is(d.layers![1].tarFile, join(projectRoot, "package.json"));
  assert.throws(() => checkImageDescription({ layers: [{ tarFile: "nope.tar" }] }, dir), (e: Error) => e.message === `layers[0].tarFile: nope.tar: no such file (${join(dir, "nope.tar")})`);
});

test.run();
