// mkrootfs --rootfs squashfs: owners, modes, links, device nodes from
// metadata.jsonl land in the read-only image (read back with unsquashfs).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { lstatSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { S_IFCHR, type EntryChange, type RootfsPlan } from "../../../stages/mkrootfs/plan.js";
import { buildPseudoFile, SQUASHFS_MAX_TIME } from "../../../stages/mkrootfs/squashfs.js";
import { imageOut, makeUnpackedImage, tempDir } from "./fixture.js";
import { richImage } from "./rich-image.js";

const work = tempDir();
test.after(() => rmSync(work, { recursive: true, force: true }));

interface Listed {
  type: string;
  perm: number;
  uid: number;
  gid: number;
  rdev?: [number, number];
  target?: string;
  /** "YYYY-MM-DD HH:MM" in UTC: the listing's resolution. */
  minute: string;
}

/** `unsquashfs -lln`: "crw-rw-rw- 0/0  1,  3 2026-01-01 00:00 squashfs-root/dev/null". */
function listSquashfs(image: string): Map<string, Listed> {
  const out = execFileSync("unsquashfs", ["-lln", "-UTC", image], { encoding: "utf8" });
  const entries = new Map<string, Listed>();
  for (const line of out.split("\n")) {
    const m = /^([-dlcbps])([-rwxsStT]{9}) (\d+)\/(\d+)\s+(?:(\d+),\s*(\d+)|\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$/.exec(line);
    if (!m) continue;
    let name = m[8] || "/";
    const entry: Listed = { type: m[1], perm: permBits(m[2]), uid: Number(m[3]), gid: Number(m[4]), minute: m[7] };
    if (m[5] !== undefined) entry.rdev = [Number(m[5]), Number(m[6])];
    if (m[1] === "l") [name, entry.target] = name.split(" -> ");
    entries.set(name, entry);
  }
  return entries;
}

function utcMinute(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 16).replace("T", " ");
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
  const result = await mkrootfs({ input, fs: "squashfs", out: imageOut() }, { log: (level, message) => level === "warn" && warnings.push(message) });
  assert.is(result.fs, "squashfs");
  const listed = listSquashfs(result.image);
  for (const [path, want] of expected) {
    const got = listed.get(path);
    assert.ok(got, `${path} missing from the image`);
    assert.is(got!.type, TYPE_LETTER[want.type], `${path}: type`);
    assert.is(got!.perm.toString(8), want.perm.toString(8), `${path}: mode`);
    assert.equal([got!.uid, got!.gid], [want.uid, want.gid], `${path}: owner`);
    if (want.rdev) assert.equal(got!.rdev, want.rdev, `${path}: device number`);
    if (want.target) assert.is(got!.target, want.target, `${path}: symlink target`);
    // Device nodes and FIFOs: metadata's mtime, else the root's (as in ext4), never the build's clock.
    if (want.rdev || want.type === "FIFO") assert.is(got!.minute, utcMinute((want.mtime ?? expected.get("/")!.mtime!).sec), `${path}: mtime`);
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

test("squashfs: a device node's mtime past what squashfs holds is clamped, not wrapped round to 1970+", () => {
  const node = (mtime: number | null): EntryChange => ({
    path: "/dev/late", type: S_IFCHR, create: { kind: "chardev", rdev: [1, 3] }, perm: 0o666, uid: 0, gid: 0,
    source: null, mtime: mtime === null ? null : { sec: mtime, nsec: 0 }, xattrs: [], exactName: true,
  });
  const root = { perm: 0o755, uid: 0, gid: 0, mtime: { sec: 1700000000, nsec: 0 } };
  // Only the changes and the root shape the pseudo file.
  const lines = (mtime: number | null) => buildPseudoFile({ usage: {} as RootfsPlan["usage"], root, changes: [node(mtime)] }).text;
  assert.is(lines(2 ** 34 - 1), `/dev/late C ${SQUASHFS_MAX_TIME} 666 0 0 1 3\n`);
  assert.is(lines(1600000000), "/dev/late C 1600000000 666 0 0 1 3\n");
  assert.is(lines(null), "/dev/late C 1700000000 666 0 0 1 3\n");
});

test("one image built twice a second apart gives the same bytes, squashfs as ext4: no build clock in either", async () => {
  const input = makeUnpackedImage(richImage().image, join(work, "twice"));
  for (const fs of ["squashfs", "ext4"] as const) {
    const first = readFileSync((await mkrootfs({ input, fs, out: join(work, `twice-1.${fs}`) })).image);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const second = readFileSync((await mkrootfs({ input, fs, out: join(work, `twice-2.${fs}`) })).image);
    assert.ok(first.equals(second), `${fs}: the two builds differ`);
  }
});

test("a squashfs is sized by its content: a one-file image is a few KiB", async () => {
  const input = makeUnpackedImage({ entries: [{ path: "/a", type: "file", content: "a" }] });
  const squash = await mkrootfs({ input, fs: "squashfs", out: imageOut() });
  assert.is(squash.fs, "squashfs");
  assert.ok(squash.bytes < 64 * 1024, `${squash.bytes} bytes`);
});

test.run();
