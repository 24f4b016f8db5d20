// bencher-run image: the README's example image, built in two formats, is one image (same ID).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../lib/paths.js";
import { runCli } from "./helpers.js";

const example = join(projectRoot, "examples", "hello-bench.json");
const work = mkdtempSync(join(tmpdir(), "bencher-image-cmd-"));

test("the example builds as an OCI layout and a docker-save archive with the same image ID", async () => {
  const oci = await runCli(["image", example, "--out", join(work, "img.oci"), "--json"]);
  const docker = await runCli(["image", example, "--out", join(work, "img.tar"), "--format", "docker-archive", "--json"]);
  assert.is(oci.exitCode, 0, oci.stderr);
  assert.is(docker.exitCode, 0, docker.stderr);
  const a = JSON.parse(oci.stdout), b = JSON.parse(docker.stdout);
  assert.match(a.id, /^sha256:[0-9a-f]{64}$/);
  assert.is(a.id, b.id);
  assert.ok(existsSync(join(work, "img.oci", "index.json")));
});

test("a missing description, bad JSON or an unknown format is one line and exit 2", async () => {
  const missing = await runCli(["image", join(work, "nope.json"), "--out", join(work, "x")]);
  assert.is(missing.exitCode, 2);
  assert.match(missing.stderr, /^bencher-run: image description .*nope\.json: no such file$/);
  const dir = await runCli(["image", work, "--out", join(work, "x")]);
  assert.is(dir.exitCode, 2);
  assert.is(dir.stderr, `bencher-run: image description ${work}: is a directory, expected a file`);
  writeFileSync(join(work, "bad.json"), "{ not json");
  const bad = await runCli(["image", join(work, "bad.json"), "--out", join(work, "z")]);
  assert.is(bad.exitCode, 2);
  assert.match(bad.stderr, /^bencher-run: image description .*bad\.json: .*JSON/);
  const format = await runCli(["image", example, "--out", join(work, "y"), "--format", "zip"]);
  assert.is(format.exitCode, 2);
  assert.match(format.stderr, /--format "zip": expected one of/);
  assert.not.ok(existsSync(join(work, "x")) || existsSync(join(work, "y")) || existsSync(join(work, "z")), "nothing written");
});

test("an --out that exists or cannot be made is one line, and nothing is written", async () => {
  const file = join(work, "a-file");
  writeFileSync(file, "x");
  const exists = await runCli(["image", example, "--out", file]);
  assert.is(exists.exitCode, 2);
  assert.is(exists.stderr, `bencher-run: --out ${file}: already exists`);
  const under = await runCli(["image", example, "--out", join(file, "img.oci")]);
  assert.is(under.exitCode, 1);
  assert.is(under.stderr, `bencher-run: --out ${join(file, "img.oci")}: ${file} exists and is not a directory`);
  // Node's own recursive mkdir would spin here for good.
  const proc = await runCli(["image", example, "--out", "/proc/bencher-no-such/img.tar", "--format", "oci-archive"], {}, 60_000);
  assert.is(proc.stderr, "bencher-run: --out /proc/bencher-no-such/img.tar: cannot create directory /proc/bencher-no-such: /proc does not take new directories");
  assert.is(proc.exitCode, 1);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
