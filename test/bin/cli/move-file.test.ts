// A file moved to another file system (--out, --console-log on a tmpfs)
// keeps its holes, and a copy that fails leaves nothing at the target. A
// file a stage left is taken only as a regular file with no other name, with
// the caller's mode; nothing is ever written through a symlink at the target.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { chmodSync, closeSync, linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync, ftruncateSync, lstatSync } from "node:fs";
import { copyFile, moveFile } from "../../../bin/cli/move-file.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "cli-move-file-"));
const child = fileURLToPath(new URL("./fixtures/move-file-run.js", import.meta.url));
test.after(() => rmSync(work, { recursive: true, force: true }));

/** A file of `size` bytes, all hole but `data` written at `offset`. */
function sparseFile(name: string, size: number, offset: number, data: Buffer): string {
  const path = join(work, name);
  const fd = openSync(path, "w");
  writeSync(fd, data, 0, data.length, offset);
  ftruncateSync(fd, size);
  closeSync(fd);
  return path;
}

/** Moves `from` into a tmpfs of `sizeMiB`, mounted in a user+mount namespace of our own (another file system; no host root needed). */
function moveToTmpfs(from: string, name: string, sizeMiB: number): Record<string, any> {
  const mountPoint = join(work, `tmpfs-${name}`);
  mkdirSync(mountPoint);
  const script = `mount -t tmpfs -o size=${sizeMiB}m tmpfs "$1" && exec "$2" "$3" "$4" "$1/$5"`;
  const out = execFileSync("unshare", ["--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", mountPoint, process.execPath, child, from, name], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out.trim().split("\n").pop()!);
}

test("a sparse file moved to another file system stays sparse, and fits a tmpfs smaller than its length", () => {
  const data = Buffer.alloc(4096, 0x5a);
  const from = sparseFile("sparse.ext4", 64 * MiB, 32 * MiB, data);
  const report = moveToTmpfs(from, "image.ext4", 20);
  assert.is(report.error, undefined, report.error);
  assert.is(report.target.size, 64 * MiB);
  assert.ok(report.target.allocated <= 64 * 1024, `${report.target.allocated} bytes allocated for 4 KiB of data`);
  assert.equal(report.targetDir, ["image.ext4"], "no temporary file left beside it");
  assert.is(report.sourceLeft, false);
});

test("a copy that does not fit leaves nothing at the target, and says why naming the option, not the temporary file", () => {
  const from = join(work, "dense.ext4");
  const fd = openSync(from, "w");
  for (let i = 0; i < 8; i++) writeSync(fd, Buffer.alloc(MiB, i + 1));
  closeSync(fd);
  const report = moveToTmpfs(from, "dense.ext4", 4);
  assert.is(report.error, `--out ${join(work, "tmpfs-dense.ext4", "dense.ext4")}: cannot write it: no space left on device`);
  assert.equal(report.targetDir, [], "neither the target nor a temporary file");
  assert.is(report.sourceLeft, true, "the source stays for its owner to remove");
  assert.is(readFileSync(from).length, 8 * MiB);
});

test("a stage's file with another name is refused; one with the stage's mode gets the caller's (0644)", () => {
  const dir = mkdtempSync(join(work, "stage-"));
  const linked = join(dir, "linked.ext4");
  writeFileSync(linked, "image");
  linkSync(linked, join(dir, "kept"));
  assert.throws(() => moveFile(linked, join(dir, "out1.ext4"), "--out out1.ext4"), (err: Error) => err.message === "--out out1.ext4: the stage's file has 2 names; it may have no other");
  const open = join(dir, "open.ext4");
  writeFileSync(open, "image");
  chmodSync(open, 0o2666);
  moveFile(open, join(dir, "out2.ext4"), "--out out2.ext4");
  assert.is(statSync(join(dir, "out2.ext4")).mode & 0o7777, 0o644);
  symlinkSync("/etc/hostname", join(dir, "symlink"));
  assert.throws(() => moveFile(join(dir, "symlink"), join(dir, "out3"), "--out out3"), (err: Error) => err.message === "--out out3: the stage left no regular file to put there");
});

test("a copy replaces a symlink at the target, never writes through it", () => {
  const dir = mkdtempSync(join(work, "copy-"));
  const victim = join(dir, "victim");
  writeFileSync(victim, "precious");
  const image = join(dir, "image.ext4");
  writeFileSync(image, "image", { mode: 0o444 });
  symlinkSync(victim, join(dir, "out.ext4"));
  copyFile(image, join(dir, "out.ext4"), "--out out.ext4");
  assert.is(readFileSync(victim, "utf8"), "precious");
  assert.ok(lstatSync(join(dir, "out.ext4")).isFile());
  assert.is(readFileSync(join(dir, "out.ext4"), "utf8"), "image");
  assert.is(statSync(join(dir, "out.ext4")).mode & 0o777, 0o644, "writable for its owner, though the cache's copy is read-only");
});

test.run();
