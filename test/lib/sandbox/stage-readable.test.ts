import { test } from "uvu";
import * as assert from "uvu/assert";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stageMayRead, unreadableByStage } from "../../../lib/sandbox/stage-readable.js";

const work = mkdtempSync(join(tmpdir(), "stage-readable-test-"));
chmodSync(work, 0o755);
test.after(() => rmSync(work, { recursive: true, force: true }));

const ids = { uid: 65534, gid: 65534 };
const entry = (uid: number, gid: number, mode: number, dir = false) => ({ uid, gid, mode, isDirectory: () => dir });

test("the owner's, the group's or the others' bits, whichever apply to the stage's uid and gid", () => {
  assert.ok(stageMayRead(entry(0, 0, 0o644), ids));
  assert.not.ok(stageMayRead(entry(0, 0, 0o600), ids));
  assert.ok(stageMayRead(entry(65534, 0, 0o400), ids), "its own file");
  assert.not.ok(stageMayRead(entry(65534, 0, 0o044), ids), "owner bits apply to the owner, even when others may read");
  assert.ok(stageMayRead(entry(0, 65534, 0o640), ids), "its group");
  assert.ok(stageMayRead(entry(0, 0, 0o755, true), ids), "a directory it may list and enter");
  assert.not.ok(stageMayRead(entry(0, 0, 0o744, true), ids), "a directory it may list but not enter");
  assert.not.ok(stageMayRead(entry(0, 0, 0o711, true), ids), "a directory it may enter but not list");
});

test("the first entry the stage cannot read, relative to the path; none when all can be", () => {
  if (process.getuid?.() !== 0) {
    assert.is(unreadableByStage(work), undefined, "not root: the stages run as the caller");
    return;
  }
  const layout = join(work, "layout");
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true, mode: 0o755 });
  writeFileSync(join(layout, "index.json"), "{}", { mode: 0o644 });
  writeFileSync(join(layout, "blobs", "sha256", "aa"), "x", { mode: 0o644 });
  symlinkSync("nowhere", join(layout, "dangling"));
  assert.is(unreadableByStage(layout), undefined);
  chmodSync(join(layout, "blobs", "sha256", "aa"), 0o600);
  assert.is(unreadableByStage(layout), "blobs/sha256/aa");
  chownSync(join(layout, "blobs", "sha256", "aa"), 65534, 65534);
  assert.is(unreadableByStage(layout), undefined, "its own");
  chmodSync(layout, 0o700);
  assert.is(unreadableByStage(layout), ".");
  const file = join(work, "ca.pem");
  writeFileSync(file, "PEM", { mode: 0o600 });
  assert.is(unreadableByStage(file), ".");
});

test("a root file system's symlinks are entries, not opened: one pointing at a file only root may read is no problem", () => {
  if (process.getuid?.() !== 0) return; // the stages run as the caller then
  const secret = join(work, "host-shadow");
  writeFileSync(secret, "root:*:1::::::\n", { mode: 0o600 });
  const rootfs = join(work, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true, mode: 0o755 });
  symlinkSync(secret, join(rootfs, "etc", "shadow"));
  assert.is(unreadableByStage(rootfs, { followLinks: false }), undefined);
  assert.is(unreadableByStage(rootfs), "etc/shadow", "an image layout's link is opened by the stage");
  writeFileSync(join(rootfs, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n", { mode: 0o600 });
  assert.is(unreadableByStage(rootfs, { followLinks: false }), "etc/passwd", "its files are still looked at");
});

test.run();
