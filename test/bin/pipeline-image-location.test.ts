// Where the pipeline finds a local image, and what it hands unpack: the path
// (absolute) is bound into the stage, the name after it (a ref of an OCI
// layout, a RepoTag of a docker-save archive, colons and all) is kept.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { locateImage } from "../../bin/pipeline/root-image.js";
import { isLocalImage } from "../../bin/pipeline/image-identity.js";

const work = mkdtempSync(join(tmpdir(), "bencher-image-location-"));
const archive = join(work, "images.tar");
writeFileSync(archive, "");

test("a docker-save archive with a RepoTag: the archive is bound, the tag is passed on whole", () => {
  assert.equal(locateImage(`docker-archive:${archive}:localhost:5000/bench/one:v1`), {
    request: `docker-archive:${archive}:localhost:5000/bench/one:v1`,
    bind: archive,
  });
  assert.ok(isLocalImage(`${archive}:bench/one:v1`));
});

test("relative paths become absolute; registry references are not local", () => {
  const rel = relative(process.cwd(), archive);
  assert.equal(locateImage(`${rel}:bench:v2`), { request: `${archive}:bench:v2`, bind: archive });
  assert.equal(locateImage("docker.io/library/busybox:1.36"), { request: "docker.io/library/busybox:1.36", bind: null });
  assert.not.ok(isLocalImage("docker.io/library/busybox:1.36"));
});

test("a missing local image is one line naming it", () => {
  assert.throws(() => locateImage("docker-archive:/no/such.tar:a:b"), /^image docker-archive:\/no\/such.tar:a:b: no such file or directory$/);
  assert.throws(() => locateImage("./nope"), /^image \.\/nope: no such file or directory$/);
});

test.after(() => rmSync(work, { recursive: true, force: true }));
test.run();
