// Hostile file names: debugfs and mksquashfs read scripts line by line and
// can read, write or run things on the host (`dump`, `write`, `!cmd`;
// pseudo `f` runs a command). Names an image controls must stay names.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mkrootfs } from "../../../stages/mkrootfs/mkrootfs.js";
import { imageOut, makeUnpackedImage, tempDir } from "./fixture.js";
import { debugfs, debugfsPath, statPath } from "./inspect.js";

const work = tempDir();
test.after(() => rmSync(work, { recursive: true, force: true }));

test("debugfs: quotes in a name cannot smuggle arguments", async () => {
  const evil = 'x" mode 0104777 "y';
  const input = makeUnpackedImage({
    entries: [{ path: `/srv/${evil}`, type: "file", content: "e", mode: 0o644 }, { path: "/srv/y", type: "file", content: "y", mode: 0o644 }],
    metadata: [{ path: `/srv/${evil}`, uid: 99 }],
  });
  const { image } = await mkrootfs({ input, fs: "ext4", out: imageOut() });
  const target = statPath(image, `/srv/${evil}`);
  assert.equal([target.uid, target.perm.toString(8)], [99, "644"]);
  const other = statPath(image, "/srv/y");
  assert.equal([other.uid, other.perm.toString(8)], [0, "644"]);
});

test("debugfs: a path of quotes long enough to overflow debugfs's line buffer is refused before debugfs runs", async () => {
  // Quoting doubles each '"': this 3966-byte path (short enough for the host to hold under a temp
  // directory) makes an ea_set line of over 8 KiB, which debugfs would cut, reading the rest (from
  // the xattr name) as a command of its own, where a leading "!" runs a shell.
  const path = "/" + [...Array.from({ length: 15 }, () => '"'.repeat(250)), '"'.repeat(200)].join("/");
  const pwned = join(work, "PWNED-by-long-line");
  const input = makeUnpackedImage({
    entries: [{ path, type: "file", content: "e" }],
    metadata: [{ path, xattrs: { [`user.${"x".repeat(120)}!touch\${IFS}${pwned};#`]: Buffer.from("v").toString("base64") } }],
  });
  try {
    await mkrootfs({ input, fs: "ext4", out: imageOut() });
    assert.unreachable("should fail");
  } catch (err) {
    assert.match((err as Error).message, /^rootfs: cannot set the metadata of "\/(\\")+"…: its name and xattr names are too long for debugfs once quoted$/);
  }
  assert.not.ok(existsSync(pwned), "debugfs ran a command from the cut line");
});

test("debugfs: a newline in a tree name never reaches the script (its sub-second mtime is dropped, with a warning)", async () => {
  // Would run a shell command and write a host file if it reached debugfs as lines (no "/": it is one name).
  const evil = "n\n!touch pwned-by-shell\ndump <2> pwned-by-dump\nx";
  const cwd = join(work, "cwd-debugfs");
  mkdirSync(cwd);
  const input = makeUnpackedImage({ entries: [{ path: `/srv/${evil}`, type: "file", content: "e", mtime: { sec: 100, nsec: 5 } }] });
  const warnings: string[] = [];
  const previous = process.cwd();
  process.chdir(cwd);
  let image: string;
  try {
    ({ image } = await mkrootfs({ input, fs: "ext4", out: imageOut() }, { log: (level, message) => level === "warn" && warnings.push(message) }));
  } finally {
    process.chdir(previous);
    assert.equal(readdirSync(cwd), [], "debugfs ran an injected command");
  }
  // The file is there under its real name (ls output splits it over lines).
  assert.ok(debugfs(image, 'ls -p "/srv"').includes(`/${evil}/1/`));
  assert.is(warnings.length, 1);
  assert.match(warnings[0], /sub-second mtimes were dropped/);
});

test("debugfs: a newline in a name whose owner must change is refused, not half-applied", async () => {
  if (process.getuid!() !== 0) return; // needs a host file owned by someone else
  const input = makeUnpackedImage({ entries: [{ path: "/srv/a\nb", type: "file", content: "e" }] });
  chownSync(join(input, "rootfs/srv/a\nb"), 1234, 1234);
  try {
    await mkrootfs({ input, fs: "ext4", out: imageOut() });
    assert.unreachable("should fail");
  } catch (err) {
    assert.match((err as Error).message, /cannot set owner, mode or xattrs of "\/srv\/a\\nb"/);
  }
});

test("names that are not UTF-8 are copied byte for byte; metadata elsewhere still applies", async () => {
  const input = makeUnpackedImage({
    entries: [{ path: "/srv/ok", type: "file", content: "ok" }],
    metadata: [{ path: "/srv/ok", uid: 12 }],
  });
  const latin1 = Buffer.concat([Buffer.from(join(input, "rootfs/srv/")), Buffer.from([0x63, 0x61, 0x66, 0xe9])]); // "café" in Latin-1
  writeFileSync(latin1, "latin1");
  const { image } = await mkrootfs({ input, fs: "ext4", out: imageOut() });
  const listing = execFileSync(debugfsPath(), ["-R", 'ls -p "/srv"', image], { stdio: ["ignore", "pipe", "ignore"] });
  assert.ok(listing.includes(Buffer.from([0x2f, 0x63, 0x61, 0x66, 0xe9, 0x2f])), "raw name present");
  assert.is(statPath(image, "/srv/ok").uid, 12);
});

test("mksquashfs: spaces, quotes and backslashes in names cannot become a pseudo `f` command", async () => {
  const cwd = join(work, "cwd");
  mkdirSync(cwd);
  const evil = "p f 755 0 0 touch pwned-by-mksquashfs";
  const input = makeUnpackedImage({
    entries: [
      { path: `/srv/${evil}`, type: "file", content: "e" },
      { path: "/srv/tail\\", type: "file", content: "t" },
      { path: '/srv/q"uote', type: "file", content: "q" },
    ],
    metadata: [{ path: `/srv/${evil}`, uid: 5 }, { path: "/srv/tail\\", uid: 6 }, { path: '/srv/q"uote', uid: 7 }],
  });
  const previous = process.cwd();
  process.chdir(cwd);
  let image: string;
  try {
    ({ image } = await mkrootfs({ input, fs: "squashfs", out: imageOut() }));
  } finally {
    process.chdir(previous);
  }
  assert.not.ok(existsSync(join(cwd, "pwned-by-mksquashfs")), "mksquashfs ran an injected command");
  const listing = execFileSync("unsquashfs", ["-lln", image], { encoding: "utf8" });
  assert.match(listing, /5\/0 .*squashfs-root\/srv\/p f 755 0 0 touch pwned-by-mksquashfs\n/);
  assert.match(listing, /6\/0 .*squashfs-root\/srv\/tail\\\n/);
  assert.match(listing, /7\/0 .*squashfs-root\/srv\/q"uote\n/);
});

test.run();
