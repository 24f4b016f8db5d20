// mkrootfs → ext4: every file, owner, mode, link, time, xattr and device node
// arrives, checked with debugfs against the source; e2fsck finds it clean.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { imageOut, makeUnpackedImage, tempDir } from "./fixture.js";
import { richImage } from "./rich-image.js";
import { assertExt4Matches } from "./check-ext4.js";
import { listDir, statPath } from "./inspect.js";

const work = tempDir();
test.after(() => rmSync(work, { recursive: true, force: true }));

test("the image holds the tree exactly: content, modes, owners, links, times, xattrs, devices", async () => {
  const { image, expected } = richImage();
  const input = makeUnpackedImage(image, join(work, "rich"));
  const warnings: string[] = [];
  const result = await mkrootfs({ input, fs: "ext4", out: imageOut() }, { log: (level, message) => level === "warn" && warnings.push(message) });
  assert.is(result.fs, "ext4");
  assertExt4Matches(result.image, expected);
  assert.equal(listDir(result.image, "/srv"), ["back\\slash", 'we"ird name with spaces', "ünïcödé"]);
  assert.equal(warnings, []);
});

test("an image for another platform is built, with a warning that its programs cannot run in the VM", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/x", type: "file", content: "x" }] });
  const configFile = join(input, "config.json");
  const warningsFor = async (platform: string) => {
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), platform }));
    const warnings: string[] = [];
    await mkrootfs({ input, fs: "ext4", out: join(work, `platform-${platform.replace(/\//g, "-")}.ext4`) }, { log: (level, message) => level === "warn" && warnings.push(message) });
    return warnings;
  };
  assert.equal(await warningsFor("linux/arm64/v8"), ["the image is for linux/arm64/v8: bencher-run's VMs are linux/amd64, where its programs cannot run"]);
  assert.equal(await warningsFor("linux/amd64"), []);
  assert.equal(await warningsFor("linux/amd64/v3"), [], "an amd64 variant runs");
});

test("files not in metadata.jsonl belong to 0:0 and keep their host mode", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/x/y", type: "file", content: "y", mode: 0o711 }] });
  const result = await mkrootfs({ input, fs: "ext4", out: join(work, "plain.ext4") });
  const y = statPath(result.image, "/x/y");
  assert.equal([y.uid, y.gid, y.perm.toString(8)], [0, 0, "711"]);
  assert.is(result.image, join(work, "plain.ext4"));
});

test("a tree with nothing to fix up (no metadata, whole-second times) still gets the root's mode and time", async () => {
  const input = makeUnpackedImage({
    entries: [
      { path: "/etc/os-release", type: "file", content: "ID=test\n", mtime: { sec: 1700000000 } },
      { path: "/", type: "dir", mode: 0o755, mtime: { sec: 1700000001 } },
    ],
  });
  const { image } = await mkrootfs({ input, fs: "ext4", out: imageOut() });
  assertExt4Matches(image, new Map([
    ["/", { type: "directory", perm: 0o755, uid: 0, gid: 0, mtime: { sec: 1700000001, nsec: 0 } }],
    ["/etc/os-release", { type: "regular", perm: 0o644, uid: 0, gid: 0, mtime: { sec: 1700000000, nsec: 0 }, content: Buffer.from("ID=test\n") }],
  ]));
});

test("deep trees and many entries in one directory", async () => {
  const entries = [];
  let deep = "";
  for (let i = 0; i < 300; i++) deep += `/d${i}`;
  entries.push({ path: `${deep}/leaf`, type: "file" as const, content: "deep" });
  for (let i = 0; i < 3000; i++) entries.push({ path: `/wide/file-with-a-longish-name-${i}`, type: "file" as const, content: String(i) });
  const input = makeUnpackedImage({ entries });
  const result = await mkrootfs({ input, fs: "ext4", out: join(work, "wide.ext4") });
  assert.is(listDir(result.image, "/wide").length, 3000);
  assertExt4Matches(result.image, new Map([[`${deep}/leaf`, { type: "regular", perm: 0o644, uid: 0, gid: 0, content: Buffer.from("deep") }]]));
});

test.run();
