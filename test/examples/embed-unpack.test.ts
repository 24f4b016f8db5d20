// examples/embed-unpack.ts, run as the README says: a program of its own
// drives the sandboxed unpack stage and gets its progress and result.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execa } from "execa";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../../lib/oci/build-image.js";
import { projectRoot } from "../../lib/paths.js";

const work = mkdtempSync(join(tmpdir(), "embed-unpack-"));
test.after(() => rmSync(work, { recursive: true, force: true }));
const example = join(projectRoot, "dist", "examples", "embed-unpack.js");

test("unpacks an image in the stage's sandbox: progress on stderr, the stage's result on stdout", async () => {
  const image = join(work, "image.oci");
  await buildImage({ layers: [{ entries: [{ type: "file", path: "hello.txt", content: "embedded\n" }] }] }, { format: "oci-dir", out: image });
  const out = join(work, "out");
  const r = await execa(process.execPath, [example, image, out], { reject: false });
  assert.is(r.exitCode, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assert.is(result.rootfs, join(out, "rootfs"));
  assert.is(readFileSync(join(result.rootfs, "hello.txt"), "utf8"), "embedded\n");
  assert.match(r.stderr, /^progress 100% unpacked 2 layers, \d+ files$/m, r.stderr);
});

test("a stage error is one line, exit 1, and OUT is gone", async () => {
  const out = join(work, "out-missing");
  const r = await execa(process.execPath, [example, join(work, "no-such-image"), out], { reject: false });
  assert.is(r.exitCode, 1);
  assert.match(r.stderr, /^embed-unpack: .*no-such-image: no such file or directory$/);
  assert.is(r.stderr.split("\n").length, 1);
  assert.not.ok(existsSync(out));
});

test.run();
