// mkrootfs --rootfs squashfs: owners, modes, links, device nodes from
// metadata.jsonl land in the read-only image (read back with unsquashfs).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { lstatSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { makeUnpackedImage, tempDir } from "./fixture.js";
import { richImage } from "./rich-image.js";

const work = tempDir();
process.env.BENCHER_RUN_CACHE = join(work, "cache");
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Listed {
  type: string;
  perm: number;
  uid: number;
  gid: number;
  rdev?: [number, number];
  target?: string;
}

/** `unsquashfs -lln`: "crw-rw-rw- 0/0  1,  3 2026-01-01 00:00 squashfs-root/dev/null". */
function listSquashfs(image: string): Map<string, Listed> {
  const out = execFileSync("unsquashfs", ["-lln", image], { encoding: "utf8" });
  const entries = new Map<string, Listed>();
  for (const line of out.split("\n")) {
    const m = /^([-dlcbps])([-rwxsStT]{9}) (\d+)\/(\d+)\s+(?:(\d+),\s*(\d+)|\d+) \d{4}-\d\d-\d\d \d\d:\d\d squashfs-root(.*)$/.exec(line);
    if (!m) continue;
    let name = m[7] || "/";
    const entry: Listed = { type: m[1], perm: permBits(m[2]), uid: Number(m[3]), gid: Number(m[4]) };
    if (m[5] !== undefined) entry.rdev = [Number(m[5]), Number(m[6])];
    if (m[1] === "l") [name, entry.target] = name.split(" -> ");
    entries.set(name, entry);
  }
  return entries;
}

function permBits(text: string): number {
  let perm = 0;
  for (let i = 0; i < 9; i++) if (!"-ST".includes(text[i])) perm |= 1 << (8 - i);
  if ("sS".includes(text[2])) perm |= 0o4000;
  if ("sS".includes(text[5])) perm |= 0o2000;
  if ("tT".includes(text[8])) perm |= 0o1000;
  return perm;
}

const TYPE_LETTER: Record<string, string> = { regular: "-", directory: "d", symlink: "l", "character special": "c", "block special": "b", FIFO: "p" };

test("squashfs: owners, modes, symlinks, devices and FIFOs from the tree and metadata", async () => {
  const { image, expected } = richImage();
  const input = makeUnpackedImage(image, join(work, "rich"));
  const warnings: string[] = [];
  const result = await mkrootfs({ input, fs: "squashfs", cache: true }, { log: (level, message) => level === "warn" && warnings.push(message) });
  assert.is(result.fs, "squashfs");
  assert.match(result.image, /\.squashfs$/);
  const listed = listSquashfs(result.image);
  for (const [path, want] of expected) {
    const got = listed.get(path);
    assert.ok(got, `${path} missing from the image`);
    assert.is(got!.type, TYPE_LETTER[want.type], `${path}: type`);
    assert.is(got!.perm.toString(8), want.perm.toString(8), `${path}: mode`);
    assert.equal([got!.uid, got!.gid], [want.uid, want.gid], `${path}: owner`);
    if (want.rdev) assert.equal(got!.rdev, want.rdev, `${path}: device number`);
    if (want.target) assert.is(got!.target, want.target, `${path}: symlink target`);
  }
  // Contents, whole-second mtimes and the hard link, from an extracted copy.
  const extracted = join(work, "extracted");
  execFileSync("unsquashfs", ["-d", extracted, "-no-xattrs", "-ignore-errors", "-no-progress", result.image], { stdio: "ignore" });
  for (const [path, want] of expected) {
    if (want.type !== "regular") continue;
    assert.ok(readFileSync(join(extracted, path)).equals(want.content!), `${path}: content`);
    assert.is(Math.floor(lstatSync(join(extracted, path)).mtimeMs / 1000), want.mtime!.sec, `${path}: mtime`);
  }
  assert.is(lstatSync(join(extracted, "/data/a")).ino, lstatSync(join(extracted, "/data/b")).ino);
  assert.is(readlinkSync(join(extracted, "/usr/bin/sh")), "../../bin/busybox");
  // This mksquashfs cannot add xattrs: that is said, not hidden.
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^3 xattrs .* not stored/);
});

test("squashfs and ext4 of one image are different cache entries", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  const squash = await mkrootfs({ input, fs: "squashfs", cache: true });
  const ext4 = await mkrootfs({ input, fs: "ext4", cache: true });
  assert.is.not(squash.cacheKey, ext4.cacheKey);
  assert.is((await mkrootfs({ input, fs: "squashfs", cache: true })).cached, true);
  assert.ok(squash.bytes < 64 * 1024);
});

test.run();
