// `docker save a b` archives hold several images: one is chosen by its
// RepoTags ("docker-archive:x.tar:repo:tag", as skopeo reads it); without a
// choice, or with a tag the archive does not hold, the error lists its tags.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { execa } from "execa";
import { buildImage, type BuildOptions } from "../../../lib/oci/build-image.js";
import type { ImageDescription } from "../../../lib/oci/description.js";
import { tarDirectory } from "../../../lib/oci/tar-directory.js";
import { unpack } from "../../../stages/unpack/unpack.js";
import { formatLocalImage, parseLocalImage } from "../../../stages/unpack/local-image.js";
import { mergeDockerSaves, rejects } from "./helpers.js";

const work = mkdtempSync(join(tmpdir(), "unpack-docker-save-"));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A small image whose /which says which one it is; the first layer is the same in all. */
function described(which: string): ImageDescription {
  return {
    base: "scratch",
    layers: [
      { entries: [{ type: "file", path: "/shared", content: "the same layer in every image" }] },
      { entries: [{ type: "file", path: "/which", content: which }] },
    ],
    config: { cmd: [`/${which}`] },
  };
}

/** A docker-save archive (tar, or directory when `dir`) holding one image per tag. */
async function savedTogether(name: string, tags: string[], options: Partial<BuildOptions> & { dir?: boolean } = {}): Promise<string> {
  const parts = join(work, `${name}-parts`);
  mkdirSync(parts);
  const dirs: string[] = [];
  for (const [i, tag] of tags.entries()) {
    const dir = join(parts, String(i));
    await buildImage(described(tag.replace(/[^a-z0-9]+/g, "-")), { format: "docker-dir", out: dir, tag, dockerOciIndex: options.dockerOciIndex });
    dirs.push(dir);
  }
  const merged = join(work, name);
  mergeDockerSaves(dirs, merged);
  rmSync(parts, { recursive: true });
  if (options.dir) return merged;
  await tarDirectory(merged, `${merged}.tar`);
  rmSync(merged, { recursive: true });
  return `${merged}.tar`;
}

let outs = 0;
const freshOut = () => join(work, `out-${++outs}`);
const which = (rootfs: string) => readFileSync(join(rootfs, "which"), "utf8");

test("local image names split at the shortest existing path; names may hold colons and slashes", () => {
  const tar = join(work, "names.tar");
  writeFileSync(tar, "");
  assert.equal(parseLocalImage(`docker-archive:${tar}:reg.example:5000/a/b:v1`), { prefix: "docker-archive:", path: tar, name: "reg.example:5000/a/b:v1" });
  assert.equal(parseLocalImage(`${tar}:x`), { prefix: "", path: tar, name: "x" });
  assert.equal(parseLocalImage(tar), { prefix: "", path: tar });
  assert.equal(parseLocalImage(`oci:${join(work, "missing")}:ref`), { prefix: "oci:", path: join(work, "missing:ref") }, "nothing exists: the whole is the path");
  assert.is(parseLocalImage("127.0.0.1:5000/bench/img:v1"), null, "a registry reference is not local");
  assert.is(formatLocalImage(parseLocalImage(`docker-archive:${tar}:a:b`)!), `docker-archive:${tar}:a:b`);
  // A path that exists whole, colon included, is not split.
  const colon = join(work, "with:colon");
  writeFileSync(colon, "");
  assert.equal(parseLocalImage(colon), { prefix: "", path: colon });
});

test("a file that is not a tar archive is named as such", async () => {
  const text = join(work, "passwd");
  writeFileSync(text, "root:x:0:0:root:/root:/bin/bash\n".repeat(40));
  await rejects(() => unpack({ image: text, out: freshOut() }), new RegExp(`^${text}: not a tar archive \\(no tar header at its start\\)$`));
});

test("an archive of several images is refused unless one is named, listing its tags", async () => {
  const tar = await savedTogether("two", ["bench/one:v1", "two"]);
  const out = freshOut();
  const err = await rejects(
    () => unpack({ image: tar, out }),
    /manifest\.json holds 2 images \(bench\/one:v1; two:latest\); name one as docker-archive:.*two\.tar:REPO:TAG$/,
  );
  assert.not.match(err.message, /\n/);
  assert.not.ok(existsSync(out));
});

test("docker-archive:FILE:REPO:TAG picks the tagged image, as skopeo does", async () => {
  const tar = join(work, "two.tar");
  const one = await unpack({ image: `docker-archive:${tar}:bench/one:v1`, out: freshOut() });
  assert.is(which(one.rootfs), "bench-one-v1");
  assert.is(readFileSync(join(one.rootfs, "shared"), "utf8"), "the same layer in every image");
  const two = await unpack({ image: `docker-archive:${tar}:two:latest`, out: freshOut() });
  assert.is(which(two.rootfs), "two");
  // skopeo picks the same image: its config is the one unpacked.
  const { stdout } = await execa("skopeo", ["inspect", "--raw", "--config", `docker-archive:${tar}:bench/one:v1`], { encoding: "buffer" });
  assert.is(one.digest, "sha256:" + createHash("sha256").update(stdout).digest("hex"));
});

test("tags are matched as Docker shortens them; the prefix may be left out", async () => {
  const tar = join(work, "two.tar");
  assert.is(which((await unpack({ image: `docker-archive:${tar}:two`, out: freshOut() })).rootfs), "two", "no tag means :latest");
  assert.is(which((await unpack({ image: `${tar}:docker.io/library/two:latest`, out: freshOut() })).rootfs), "two");
  assert.is(which((await unpack({ image: `${tar}:bench/one:v1`, out: freshOut() })).rootfs), "bench-one-v1");
});

test("a tag the archive does not hold is named with the tags it does hold", async () => {
  const tar = join(work, "two.tar");
  const out = freshOut();
  await rejects(() => unpack({ image: `docker-archive:${tar}:bench/one:v2`, out }), /manifest\.json: no image tagged "bench\/one:v2" \(it holds: bench\/one:v1; two:latest\)$/);
  await rejects(() => unpack({ image: `docker-archive:${tar}:`, out }), /nothing after the ":" that names one image/);
  assert.not.ok(existsSync(out));
});

test("the Docker 25+ form (blobs/ and index.json), as a directory, with a registry host:port in a tag", async () => {
  const dir = await savedTogether("docker25", ["localhost:5000/x/y:t", "other:1"], { dockerOciIndex: true, dir: true });
  await rejects(() => unpack({ image: dir, out: freshOut() }), /holds 2 images \(localhost:5000\/x\/y:t; other:1\)/);
  const r = await unpack({ image: `docker-archive:${dir}:localhost:5000/x/y:t`, out: freshOut() });
  assert.is(which(r.rootfs), "localhost-5000-x-y-t");
  const other = await unpack({ image: `${dir}:other:1`, out: freshOut() });
  assert.is(which(other.rootfs), "other-1");
});

test("a single-image archive: a matching name is fine, another is refused", async () => {
  const tar = join(work, "single.tar");
  await buildImage(described("single"), { format: "docker-archive", out: tar, tag: "solo:v1" });
  assert.is(which((await unpack({ image: tar, out: freshOut() })).rootfs), "single");
  assert.is(which((await unpack({ image: `docker-archive:${tar}:solo:v1`, out: freshOut() })).rootfs), "single");
  await rejects(() => unpack({ image: `docker-archive:${tar}:solo:v2`, out: freshOut() }), /no image tagged "solo:v2" \(it holds: solo:v1\)/);
});

test("untagged images are listed as such", async () => {
  const dir = await savedTogether("untagged", ["a:1", "b:1"], { dir: true });
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  manifest[1].RepoTags = null; // what `docker save IMAGE-ID` writes
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  await rejects(() => unpack({ image: dir, out: freshOut() }), /holds 2 images \(a:1; \(untagged\)\)/);
  assert.is(which((await unpack({ image: `${dir}:a:1`, out: freshOut() })).rootfs), "a-1");
});

test("a prefix names the form: the other form's files are not read instead", async () => {
  const tar = join(work, "single.tar");
  await rejects(() => unpack({ image: `oci-archive:${tar}`, out: freshOut() }), /not an OCI layout \(no index\.json\)/);
  const layout = join(work, "layout");
  await buildImage(described("layout"), { format: "oci-dir", out: layout, tag: "x:v1" });
  await rejects(() => unpack({ image: `docker-archive:${layout}`, out: freshOut() }), /not a docker-save archive \(no manifest\.json\)/);
  assert.is(which((await unpack({ image: `oci:${layout}:v1`, out: freshOut() })).rootfs), "layout");
});

test.run();
