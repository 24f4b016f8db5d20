// Test helper: asserts an ext4 image holds exactly what `expected` says, read back with debugfs.
import * as assert from "uvu/assert";
import type { Expected } from "./rich-image.js";
import { fsck, readImageFile, readXattr, statPath } from "./inspect.js";

export function assertExt4Matches(image: string, expected: Map<string, Expected>): void {
  const check = fsck(image);
  assert.ok(check.clean, `e2fsck -fn found problems:\n${check.output}`);
  for (const [path, want] of expected) {
    const got = statPath(image, path);
    const where = `${path}:`;
    assert.is(got.type, want.type, `${where} type`);
    assert.is(got.perm.toString(8), want.perm.toString(8), `${where} mode`);
    assert.is(got.uid, want.uid, `${where} uid`);
    assert.is(got.gid, want.gid, `${where} gid`);
    if (want.mtime) assert.equal([got.mtimeSec, got.mtimeNsec], [want.mtime.sec, want.mtime.nsec], `${where} mtime`);
    if (want.content) assert.ok(readImageFile(image, path).equals(want.content), `${where} content`);
    if (want.target) {
      // Fast symlinks show their target in stat; long ones live in a data block.
      const target = got.symlinkTarget ?? readImageFile(image, path).toString("utf8");
      assert.is(target, want.target, `${where} symlink target`);
    }
    if (want.rdev) assert.equal(got.rdev, want.rdev, `${where} device number`);
    if (want.linkedWith) {
      assert.is(got.ino, statPath(image, want.linkedWith).ino, `${where} hard link to ${want.linkedWith}`);
      assert.is(got.links, 2, `${where} link count`);
    }
    const wantXattrs = want.xattrs ?? {};
    const userVisible = got.xattrNames.filter((name) => !name.startsWith("system.data"));
    assert.equal(userVisible.sort(), Object.keys(wantXattrs).sort(), `${where} xattr names`);
    for (const [name, value] of Object.entries(wantXattrs)) {
      assert.ok(readXattr(image, path, name).equals(value), `${where} xattr ${name}`);
    }
  }
}
